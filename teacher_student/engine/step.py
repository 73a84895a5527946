"""The network of a population and the gradients of one training step.

:class:`Network` is the forward pass of ``P`` stacked MLPs (one batched
product per layer). Two steps compute the gradients of the summed per-model
losses:

* :class:`AutogradStep`, the reference: PyTorch's autograd on the forward pass;
* :class:`ManualStep`, the hand-written backward (ReLU and tanh), tested to
  equal the reference to 1e-10 in float64. It reuses preallocated buffers
  every step and takes shortcuts that autograd cannot: inputs with a ones
  column (the first layer's bias rides in its product), narrow-layer
  gradients as ``(g^T h)^T``, and below a width-1 output layer with ReLU a
  one-pass backward whose ``diag(w)`` factor moves into the next layer's
  small matrices.

Both report each model's loss to a ``check`` callback (which freezes models
whose loss stopped being finite) and zero the gradients of frozen models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from teacher_student.engine import settings
from teacher_student.engine.state import FlatParams

__all__ = ["AutogradStep", "ManualStep", "Network", "per_row_loss"]

Check = Callable[[Any], Any]  # per-model losses [P] -> live mask [P]


def per_row_loss(h: Any, y: Any, loss: str) -> Any:
    """Loss of every row ``[P, n]``: mean squared error, or KL(y || softmax(h))."""
    import torch

    if loss == "mse":
        return ((h - y) ** 2).mean(dim=2)
    logq = torch.log_softmax(h, dim=2)
    return (torch.xlogy(y, y) - y * logq).sum(dim=2)


class Network:
    """Forward pass of the stacked students (weights from :class:`FlatParams`).

    Parameters
    ----------
    flat : FlatParams
        The parameters.
    activation : {"relu", "tanh", "gelu"}
        Hidden nonlinearity.
    bf16 : bool
        Matrix products in bfloat16 (fp32 accumulation and weights).
    d_out : int
        Outputs per model.
    """

    def __init__(self, flat: FlatParams, activation: str, bf16: bool, d_out: int) -> None:
        import torch

        self.flat, self.activation = flat, activation
        self.params = flat.params
        self.P, self.n_layers = flat.P, flat.n_layers
        self.dtype = flat.param_flat.dtype
        self.low = torch.bfloat16 if bf16 else None
        self.act = {"relu": torch.relu, "tanh": torch.tanh,
                    "gelu": torch.nn.functional.gelu}[activation]
        # a width-1 output as [P, 1, width] x [P, width, rows] (settings.TRANSPOSED_WIDTH1_OUTPUT)
        self.out_t = (self.low is None and d_out == 1 and self.P > 1
                      and flat.param_flat.device.type == "cpu"
                      and settings.transposed_width1_output())

    def mm(self, a: Any, b: Any) -> Any:
        """Batched product, in bfloat16 when asked."""
        import torch

        if self.low is None:
            return torch.bmm(a, b)
        return torch.bmm(a.to(self.low), b.to(self.low)).to(self.dtype)

    def __call__(self, h: Any, acts: list[Any] | None = None, bufs: list[Any] | None = None,
                 aug: tuple[Any, Any] | None = None) -> Any:
        """Outputs ``[P, n, out]``; hidden activations are appended to ``acts``.

        With ``bufs`` (one preallocated tensor per layer, no autograd) the
        layers write into them and the activation runs in place. ``aug`` =
        (inputs with a ones column, the first layer's weight-and-bias block)
        makes the first layer one product.
        """
        import torch

        params, P = self.params, self.P
        for k in range(self.n_layers):
            last = k == self.n_layers - 1
            if self.low is not None:
                h = self.mm(h, params[2 * k]) + params[2 * k + 1]
            elif k == 0 and aug is not None:
                h = torch.bmm(aug[0], aug[1], out=bufs[0])
            elif last and self.out_t:
                # [P, 1, rows] has the memory order of [P, rows, 1]
                w_t, h_t = params[2 * k].transpose(1, 2), h.transpose(1, 2)
                if bufs is None:
                    h = torch.bmm(w_t, h_t).view(P, -1, 1) + params[2 * k + 1]
                else:
                    torch.bmm(w_t, h_t, out=bufs[k].view(P, 1, h.shape[1]))
                    h = bufs[k].add_(params[2 * k + 1])
            elif bufs is not None:
                h = torch.baddbmm(params[2 * k + 1], h, params[2 * k], out=bufs[k])
            else:
                h = torch.baddbmm(params[2 * k + 1], h, params[2 * k])
            if not last:
                if bufs is not None and self.low is None:
                    h = h.clamp_min_(0) if self.activation == "relu" else h.tanh_()
                else:
                    h = self.act(h)
                if acts is not None:
                    acts.append(h)
        return h

    def mean_loss(self, x_u: Any, y_u: Any, which: Any, loss: str, chunk: int = 4096) -> Any:
        """Per-model mean loss on per-data-set tensors ``[U, n, d]`` (chunked rows)."""
        import torch

        total = torch.zeros(self.P, dtype=self.dtype, device=x_u.device)
        with torch.no_grad():
            for a in range(0, x_u.shape[1], chunk):
                xb, yb = x_u[which, a:a + chunk], y_u[which, a:a + chunk]
                total += per_row_loss(self(xb), yb, loss).sum(dim=1)
        return total / x_u.shape[1]

    def predict(self, x: Any, chunk: int = 4096) -> Any:
        """Every model's outputs on shared inputs ``[n, d]``: ``[P, n, out]`` (chunked rows)."""
        import torch

        outs = []
        with torch.no_grad():
            for a in range(0, x.shape[0], chunk):
                xb = x[None, a:a + chunk].expand(self.P, -1, -1).contiguous()
                outs.append(self(xb))
        return torch.cat(outs, dim=1)


class AutogradStep:
    """Reference gradients by autograd (any activation)."""

    def __init__(self, net: Network, loss: str) -> None:
        self.net, self.loss = net, loss
        for p in net.params:
            p.requires_grad_(True)

    def __call__(self, xb: Any, yb: Any, rw: Any, check: Check) -> list[Any]:
        """Gradients of the summed per-model losses (frozen models contribute zero)."""
        import torch

        per = (per_row_loss(self.net(xb), yb, self.loss) * rw).sum(dim=1)
        live = check(per)
        safe = torch.where(live, per, torch.zeros_like(per))
        return list(torch.autograd.grad(safe.sum(), self.net.params))


class ManualStep:
    """The hand-written step for ReLU and tanh students (see the module docstring).

    Parameters
    ----------
    net : Network
        The network.
    loss : {"mse", "ce"}
        The loss.
    d_out : int
        Outputs per model.
    static_inputs : bool
        The step sees the same inputs every time (full batch): the input
        tensor with its ones column is filled once.
    """

    def __init__(self, net: Network, loss: str, d_out: int, static_inputs: bool) -> None:
        self.net, self.loss, self.d_out = net, loss, d_out
        self.static_inputs = static_inputs
        self.flat = net.flat
        self.rows: int | None = None
        for p in net.params:
            p.requires_grad_(False)

    def _allocate(self, rows: int) -> None:
        """Buffers for steps of ``rows`` rows (the same shape every step)."""
        import torch

        net, flat = self.net, self.flat
        P, dtype, dev = net.P, net.dtype, flat.param_flat.device
        self.rows = rows
        self.fwd = None if net.low is not None else [
            torch.empty((P, rows, p.shape[2]), dtype=dtype, device=dev)
            for p in net.params[0::2]]
        self.bwd: list[Any] = [None] * (net.n_layers - 1)  # made on first use
        self.narrow: list[Any] = [None] * net.n_layers  # (g^T h) of narrow layers
        self.w_scaled = None
        self.rw_of = None
        self.aug = None
        self.aug_filled = False
        if net.low is None and flat.d_in <= settings.AUGMENT_INPUT_MAX_FEATURES:
            # (inputs with a ones column, first layer's block, its gradient)
            self.aug = (torch.ones((P, rows, flat.d_in + 1), dtype=dtype, device=dev),
                        flat.first_block(flat.param_flat), flat.first_block(flat.grad_flat))

    def __call__(self, xb: Any, yb: Any, rw: Any, check: Check) -> list[Any]:
        """Gradients of the summed per-model losses, written into ``flat.grads``."""
        import torch

        with torch.no_grad():
            if self.rows != xb.shape[1]:
                self._allocate(xb.shape[1])
            aug = self.aug
            if aug is not None and not (self.static_inputs and self.aug_filled):
                aug[0][:, :, :self.flat.d_in].copy_(xb)
                self.aug_filled = True
            hs = [xb]
            out = self.net(xb, hs, self.fwd, None if aug is None else aug[:2])
            per, g = self._output_gradient(out, yb, rw)
            live = check(per)
            g.mul_(live.view(self.net.P, 1, 1))
            self._backward(g, hs)
            return self.flat.grads

    def _output_gradient(self, out: Any, yb: Any, rw: Any) -> tuple[Any, Any]:
        """Per-model losses ``[P]`` and the gradient at the outputs."""
        import torch

        P = self.net.P
        if self.loss == "mse":
            if self.rw_of is not rw:  # the same row weights every step
                self.rw_of = rw
                self.rw_g = (rw * (2.0 / self.d_out))[:, :, None]
            diff = out - yb
            g = diff * self.rw_g
            # sum_r rw_r mean_j diff_rj^2 = (sum of g * diff) / 2
            per = torch.linalg.vecdot(g.view(P, -1), diff.view(P, -1)).mul_(0.5)
            return per, g
        logq = torch.log_softmax(out, dim=2)
        per = ((torch.xlogy(yb, yb) - yb * logq).sum(dim=2) * rw).sum(dim=1)
        return per, (logq.exp() - yb) * rw[:, :, None]

    def _backward(self, g: Any, hs: list[Any]) -> None:
        """Back-propagate ``g`` through every layer, writing the gradients.

        Below a width-1 output layer with ReLU the gradient at the last hidden
        layer is ``(h > 0) * g w^T = M diag(w)`` with ``M = (h > 0) * g``: ``M`` is
        written in one pass over the activations it replaces, and ``diag(w)``
        (``col_scale``) goes into the next layer's small matrices.
        """
        col_scale = None
        for k in reversed(range(self.net.n_layers)):
            self._weight_gradient(k, g, hs)
            w_k = self.net.params[2 * k]
            if col_scale is not None:  # g above was M: scale by diag(w)
                w_k = self._apply_col_scale(k, col_scale, w_k)
                col_scale = None
            if k == 0:
                break
            if (self.net.low is None and g.shape[2] == 1
                    and self.net.activation == "relu"):
                g, col_scale = self._relu_below_width1(k, g, hs, w_k)
            else:
                g = self._hidden_gradient(k, g, hs, w_k)

    def _weight_gradient(self, k: int, g: Any, hs: list[Any]) -> None:
        """Gradients of layer ``k``'s weights and bias from the gradient ``g`` at its output."""
        import torch

        grads, net = self.flat.grads, self.net
        if k == 0 and self.aug is not None:  # weights and bias in one product
            torch.bmm(self.aug[0].transpose(1, 2), g, out=self.aug[2])
            return
        torch.sum(g, dim=1, keepdim=True, out=grads[2 * k + 1])
        if net.low is not None:
            grads[2 * k].copy_(net.mm(hs[k].transpose(1, 2), g))
        elif g.shape[2] > settings.NARROW_GRAD_MAX_OUTPUTS:
            torch.bmm(hs[k].transpose(1, 2), g, out=grads[2 * k])
        elif g.shape[2] == 1 and grads[2 * k].is_contiguous():
            # [P, in, 1] and [P, 1, in] share one memory order
            torch.bmm(g.transpose(1, 2), hs[k],
                      out=grads[2 * k].view(net.P, 1, grads[2 * k].shape[1]))
        else:  # (g^T h)^T
            if self.narrow[k] is None:
                self.narrow[k] = torch.empty((net.P, g.shape[2], hs[k].shape[2]),
                                             dtype=net.dtype, device=g.device)
            torch.bmm(g.transpose(1, 2), hs[k], out=self.narrow[k])
            grads[2 * k].copy_(self.narrow[k].transpose(1, 2))

    def _apply_col_scale(self, k: int, col_scale: Any, w_k: Any) -> Any:
        """Scale layer ``k``'s gradients by ``diag(w)``; return ``W diag(w)`` for the next."""
        import torch

        grads = self.flat.grads
        if k == 0 and self.aug is not None:
            self.aug[2].mul_(col_scale)
        else:
            grads[2 * k].mul_(col_scale)
            grads[2 * k + 1].mul_(col_scale)
        if k == 0:
            return w_k
        if self.w_scaled is None:  # a kept buffer: a fresh one cost ~0.1 ms per step
            self.w_scaled = torch.empty_like(w_k)
        return torch.mul(w_k, col_scale, out=self.w_scaled)

    def _relu_below_width1(self, k: int, g: Any, hs: list[Any], w_k: Any) -> tuple[Any, Any]:
        """``M = (h > 0) * g`` written over the activations ``hs[k]`` (nothing reads them after)."""
        import torch

        m = hs[k]
        torch.ops.aten.threshold_backward.grad_input(g.expand(-1, -1, m.shape[2]), hs[k], 0,
                                                     grad_input=m)
        return m, w_k.transpose(1, 2)

    def _hidden_gradient(self, k: int, g: Any, hs: list[Any], w_k: Any) -> Any:
        """Gradient at the output of layer ``k - 1``: ``(g W_k^T) * act'(h)``."""
        import torch

        net = self.net
        gb = self.bwd[k - 1]
        if gb is None:
            gb = self.bwd[k - 1] = torch.empty((net.P, g.shape[1], w_k.shape[1]),
                                               dtype=net.dtype, device=g.device)
        if net.low is None and g.shape[2] == 1:  # an outer product
            torch.mul(g, w_k.transpose(1, 2), out=gb)
        elif net.low is None:
            torch.bmm(g, w_k.transpose(1, 2), out=gb)
        else:
            gb.copy_(net.mm(g, w_k.transpose(1, 2)))
        if net.activation == "relu":  # one fused pass, as autograd does
            torch.ops.aten.threshold_backward.grad_input(gb, hs[k], 0, grad_input=gb)
        else:
            gb.mul_(1 - hs[k] * hs[k])
        return gb
