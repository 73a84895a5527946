"""Random MLPs R^2 -> R evaluated on a grid, many initialisations at once.

Weights and biases of every layer are drawn uniformly, as PyTorch's
``nn.Linear`` initialises them, times a weight scale ``s``:
``W, b ~ U(-s / sqrt(fan_in), s / sqrt(fan_in))`` (Teney et al. 2024 sample
weights uniformly and vary their magnitude). A hidden layer computes
``act(W h + b)``, optionally with layer normalisation of the pre-activation
(no affine part). A residual network is a linear embedding ``h = W x + b``
followed by ``depth`` residual blocks ``h <- h + act(W h + b)``, the
residual stream starting, as in ResNets and transformers, from a linear map
of the input.

Common random numbers: the uniform draws depend only on the seed, the width
and the initialisation index, never on the activation, the scale, the depth,
layer norm or residual connections, so configurations are compared on the
same draws (paired). A network of depth ``d`` is the first ``d`` hidden layers
of the deepest one, with a read-out layer of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["ACTIVATIONS", "draw_uniform", "grid_inputs", "network_outputs"]


#: The activations: ReLU, GELU (exact, with erf), tanh, Gaussian ``exp(-x^2 / 2)``, sine.
ACTIVATIONS = ("relu", "gelu", "tanh", "gauss", "sin")


def _activation(name: str) -> Callable[[Any], Any]:
    import torch

    return {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh,
            "gauss": lambda x: torch.exp(-0.5 * x * x), "sin": torch.sin}[name]


def grid_inputs(grid: int) -> np.ndarray:
    """``grid x grid`` points of ``[-1, 1]^2`` (row-major), shape ``(grid^2, 2)``.

    Examples
    --------
    >>> grid_inputs(3)[:2].tolist()
    [[-1.0, -1.0], [-1.0, 0.0]]
    """
    t = np.linspace(-1.0, 1.0, grid)
    a, b = np.meshgrid(t, t, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def draw_uniform(seed: int, width: int, depth: int, inits: Sequence[int]
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                            list[tuple[np.ndarray, np.ndarray]]]:
    """Unit draws ``U(-1, 1)`` of ``len(inits)`` networks (hidden layers, read-outs).

    Returns
    -------
    tuple
        ``hidden[l] = (W [N, fan_in, width], b [N, 1, width])`` for ``l <= depth`` and
        ``readout[l] = (w [N, width, 1], b [N, 1, 1])`` for a network of depth
        ``l + 1``. One more hidden layer than ``depth`` is drawn (the embedding of
        residual networks). Each initialisation has its own stream
        (``SeedSequence([seed, width, init])``), so a draw does not depend on
        which other initialisations are drawn with it.
    """
    hidden: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(depth + 1)]
    readout: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(depth)]
    for i in inits:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(width), int(i)]))
        for layer in range(depth + 1):
            fan_in = 2 if layer == 0 else width
            hidden[layer].append((rng.uniform(-1, 1, (fan_in, width)),
                                  rng.uniform(-1, 1, (1, width))))
        for layer in range(depth):
            readout[layer].append((rng.uniform(-1, 1, (width, 1)), rng.uniform(-1, 1, (1, 1))))

    def stack(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    return [stack(h) for h in hidden], [stack(r) for r in readout]


def network_outputs(x: np.ndarray, hidden: list[tuple[np.ndarray, np.ndarray]],
                    readout: list[tuple[np.ndarray, np.ndarray]], *, activation: str,
                    weight_scale: float, depths: Sequence[int], layernorm: bool = False,
                    residual: bool = False, device: Any = None) -> dict[int, np.ndarray]:
    """Outputs ``[N, points]`` of the networks of each depth in ``depths``.

    Evaluated with PyTorch in float64 (batched products over the
    initialisations; float32 would turn the near-constant functions of deep
    Gaussian networks at small scales into rounding noise).

    Parameters
    ----------
    x : ndarray (points, 2)
        Inputs (:func:`grid_inputs`).
    hidden, readout
        Unit draws from :func:`draw_uniform`; scaled here by
        ``weight_scale / sqrt(fan_in)``.
    activation : str
        One of :data:`ACTIVATIONS`.
    weight_scale : float
        ``s``.
    depths : sequence of int
        Depths to read out (at most ``len(hidden) - 1``).
    layernorm, residual : bool
        Layer norm of the pre-activations; residual blocks.
    device : str, optional
        Torch device (default CPU).

    Returns
    -------
    dict of int to ndarray
        Per depth, the outputs of every network on every point.

    Examples
    --------
    >>> h, r = draw_uniform(0, 8, 2, range(3))
    >>> out = network_outputs(grid_inputs(4), h, r, activation="relu", weight_scale=1.0,
    ...                       depths=[1, 2])
    >>> out[2].shape
    (3, 16)
    """
    import torch

    act = _activation(activation)
    dev = torch.device(device or "cpu")

    def t(a: np.ndarray) -> Any:
        return torch.as_tensor(a, dtype=torch.float64, device=dev)

    def affine(h: Any, w: np.ndarray, b: np.ndarray) -> Any:
        k = weight_scale / np.sqrt(w.shape[1])
        return torch.baddbmm(t(b) * k, h, t(w) * k)

    want = set(depths)
    out: dict[int, np.ndarray] = {}
    n = hidden[0][0].shape[0]
    with torch.no_grad():
        h = t(x)[None].expand(n, -1, -1)
        if residual:
            h = affine(h, *hidden[0])  # the linear embedding
        for layer in range(max(want)):
            pre = affine(h, *(hidden[layer + 1] if residual else hidden[layer]))
            if layernorm:
                pre = torch.nn.functional.layer_norm(pre, pre.shape[-1:])
            h = h + act(pre) if residual else act(pre)
            if layer + 1 in want:
                out[layer + 1] = affine(h, *readout[layer])[..., 0].cpu().numpy()
    return out
