"""Empirical neural tangent kernels of the students, their spectra, and what they predict.

The empirical NTK of a student ``f(x; w)`` with one output is the Gram matrix
``K_ij = J(x_i) . J(x_j)`` of its parameter Jacobian ``J(x) = df(x; w)/dw``
on ``n`` inputs (computed with ``torch.func``: ``vmap`` of ``jacrev`` over
chunks of inputs). Its eigenvalues divided by ``n`` estimate the kernel's
spectrum under the data distribution and the teacher's projections on its
eigenvectors the target's power per mode (as
:func:`scalelaw.spectral.spectrum_from_gram`, with torch's ``eigh`` on the
device); :mod:`scalelaw.spectral` turns both
into a learning curve and a predicted data exponent ``alpha_D`` for kernel
regression with that kernel (Bordelon, Canatar & Pehlevan 2020). At
initialisation this is the lazy (kernel) limit of the student; after
training, the kernel the student has learned (the "after kernel").

Memory and time, for ``n`` inputs, ``P`` parameters and ``U`` units (the
layers' fan-in plus fan-out, summed), with ``b`` bytes per number (8 in
float64). The default (``method="layers"``) uses the MLP's structure:
``K = sum_l (H_l H_l^T + 1) * (D_l D_l^T)`` from the layers' inputs ``H_l`` and
back-propagated signals ``D_l`` (one ``torch.func.vjp``), in ``n^2 U`` time
and about ``5 n^2 x 8 + 2 n U b`` bytes (the Gram matrix, two per-layer
products, the eigen-decomposition) -- no ``n x P`` Jacobian. The generic route
(``method="jacobian"``: ``vmap`` of ``jacrev``) keeps the Jacobian, ``n P b``
bytes (or ``2 c P b`` block by block from chunks of ``c`` inputs, each chunk's
Jacobian then computed ``n / (2c)`` times), and takes ``n^2 P`` time: for a
width-192, depth-2 student (``P`` = 38k on 4 inputs, ``U`` = 581) that is 65
times the layer route's work. The eigen-decomposition adds ``n^3``. A size that
would not fit in the memory available (or in ``max_memory``) is refused
before any work, with the largest ``n`` that would; on 24 GiB the layer route
takes ``n`` up to about 20,000 (where the eigen-decomposition alone would take
hours on 2 CPU cores; ``n`` = 2,000-4,000 is the practical range there).

The linearised network ``f0(x) + J(x) (w - w0)`` is in
:mod:`teacher_student.linearised`.

Devices: every function runs where its ``device`` argument says (default
CUDA when present); nothing here changes process-wide torch settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw.spectral import SpectralPrediction, predict_exponent
from teacher_student._functional import (
    as_params,
    check_activation,
    mlp_forward,
    torch_device,
    torch_dtype,
)
from teacher_student.config import RunSpec, TrainConfig, init_weights
from teacher_student.memory import available_memory
from teacher_student.tasks import Task, TaskConfigError, sample_inputs, teacher_outputs

__all__ = ["NTK_INPUT_SEED", "StudentSpectrum", "empirical_ntk",
           "init_spectrum", "jacobian", "mlp_outputs", "ntk_memory", "student_spectrum"]

#: Inputs of the kernels come from the "val" split with this seed (minus the
#: replicate number): a stream no sweep trains, validates or tests on.
NTK_INPUT_SEED = 2**31 - 2
#: Share of the available memory a Gram matrix and its Jacobian may use.
MEMORY_SHARE = 0.7

def load_forward_ad() -> None:
    """Import torch's forward-mode decompositions once, without their warning.

    ``torch.func.jvp`` imports them on first use, and that import calls
    ``torch.jit.script``, which torch 2.13 deprecates with a
    ``DeprecationWarning`` that is torch's own business. The filter is scoped
    to this import (``warnings.catch_warnings``), never process-wide.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated",
                                category=DeprecationWarning)
        import torch._decomp.decompositions_for_jvp  # noqa: F401


def mlp_outputs(weights: Sequence[Any], x: Any, *, activation: str = "relu",
                device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """Outputs of an MLP ``[W_1, b_1, ..., W_L, b_L]`` (the students' layout).

    Parameters
    ----------
    weights : sequence of arrays
        Weights ``(fan_in, fan_out)`` and biases ``(1, fan_out)``.
    x : array-like of shape (n, d_in)
        Inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        Hidden activation.
    device : str, optional
        Default CUDA when present.
    dtype : {"float64", "float32"}, default="float64"
        Precision.

    Returns
    -------
    numpy.ndarray of shape (n, d_out)

    Examples
    --------
    >>> w = [np.eye(2), np.zeros((1, 2)), np.ones((2, 1)), np.zeros((1, 1))]
    >>> mlp_outputs(w, np.array([[1.0, -2.0]]), device="cpu").tolist()
    [[1.0]]
    """
    import torch

    check_activation(activation)
    dev, dt = torch_device(device), torch_dtype(dtype)
    with torch.no_grad():
        out = mlp_forward(as_params(weights, dev, dt), torch.as_tensor(np.asarray(x)).to(dev, dt),
                       activation)
    return out.cpu().numpy()


# ------------------------------------------------------------------- memory
def ntk_memory(n: int, n_param: int, *, itemsize: int = 8, chunk: int | None = None,
               n_units: int | None = None) -> int:
    """Bytes an empirical NTK on ``n`` inputs needs (see the module docstring).

    Parameters
    ----------
    n : int
        Inputs.
    n_param : int
        Parameters of the network.
    itemsize : int, default=8
        Bytes per number of the computation (8: float64).
    chunk : int, optional
        Jacobian route: inputs per chunk when the Gram matrix is built block by
        block; default: the Jacobian is kept whole.
    n_units : int, optional
        Layer route (``method="layers"``): the inputs' and hidden layers' widths
        plus the output width, summed over layers.

    Returns
    -------
    int
        Layer route: ``5 n^2 x 8 + 2 n U itemsize`` (the Gram matrix, two
        per-layer products, the eigen-decomposition; activations and
        back-propagated signals). Jacobian route: ``3 n^2 x 8`` plus
        ``n P itemsize`` or ``2 chunk P itemsize``.

    Examples
    --------
    >>> ntk_memory(2000, 38_000) / 2**30   # GiB, the Jacobian kept whole
    0.65...
    """
    if n_units is not None:
        return int(5 * n * n * 8 + 2 * n * n_units * itemsize)
    jac = n * n_param * itemsize if chunk is None else 2 * min(chunk, n) * n_param * itemsize
    return int(3 * n * n * 8 + jac)


# ------------------------------------------------------------ Jacobian, NTK
def _jac_chunk(params: list[Any], x: Any, activation: str) -> Any:
    """Per-input Jacobian ``[c, P]`` of the single output (``vmap`` of ``jacrev``)."""
    import torch
    from torch.func import jacrev, vmap

    def one(p: list[Any], xi: Any) -> Any:
        return mlp_forward(p, xi[None, :], activation)[0, 0]

    jac = vmap(jacrev(one), in_dims=(None, 0))(params, x)
    return torch.cat([j.reshape(x.shape[0], -1) for j in jac], dim=1)


def _layer_factors(params: list[Any], x: Any, activation: str) -> list[tuple[Any, Any]]:
    """Per layer, the inputs ``H`` (n x fan_in) and the back-propagated signals
    ``D = df/dz`` (n x fan_out) of the output with respect to the layer's
    pre-activations, from one ``torch.func.vjp`` of the summed output (each
    output depends on its own row only)."""
    import torch
    from torch.func import vjp

    act = {"relu": torch.relu, "tanh": torch.tanh,
           "gelu": torch.nn.functional.gelu}[activation]
    n_layers = len(params) // 2

    def forward(*eps: Any) -> tuple[Any, list[Any]]:
        h, inputs = x, []
        for k in range(n_layers):
            inputs.append(h)
            z = h @ params[2 * k] + params[2 * k + 1] + eps[k]
            h = act(z) if k < n_layers - 1 else z
        return h, inputs

    eps = tuple(torch.zeros((x.shape[0], params[2 * k].shape[1]), dtype=x.dtype,
                            device=x.device) for k in range(n_layers))
    out, pull, inputs = vjp(forward, *eps, has_aux=True)
    deltas = pull(torch.ones_like(out))
    return list(zip(inputs, deltas, strict=True))


def _prepare(weights: Sequence[Any], x: Any, activation: str, device: str | None,
             dtype: str) -> tuple[list[Any], Any]:
    import torch

    check_activation(activation)
    dev, dt = torch_device(device), torch_dtype(dtype)
    params = as_params(weights, dev, dt)
    if params[-1].shape[1] != 1:
        raise TaskConfigError(f"The empirical NTK here is for one-output students (regression); "
                              f"this one has {params[-1].shape[1]} outputs.")
    xt = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(dev, dt)
    if xt.ndim != 2 or xt.shape[1] != params[0].shape[0]:
        raise TaskConfigError(f"Inputs must be (n, {params[0].shape[0]}) for this network; got "
                              f"{tuple(xt.shape)}.")
    return params, xt


def jacobian(weights: Sequence[Any], x: Any, *, activation: str = "relu",
             device: str | None = None, dtype: str = "float64", chunk: int = 256) -> np.ndarray:
    """The parameter Jacobian ``df(x_i)/dw`` of a one-output MLP, ``[n, P]``.

    Parameters in the order ``W_1, b_1, ..., W_L, b_L``, each flattened
    row-major.

    Parameters
    ----------
    weights : sequence of arrays
        ``[W_1, b_1, ..., W_L, b_L]``.
    x : array-like of shape (n, d_in)
        Inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        Hidden activation.
    device : str, optional
        Default CUDA when present.
    dtype : {"float64", "float32"}, default="float64"
        Precision.
    chunk : int, default=256
        Inputs per ``vmap`` call.

    Returns
    -------
    numpy.ndarray of shape (n, P)

    Examples
    --------
    >>> w = [np.eye(2), np.zeros((1, 2)), np.ones((2, 1)), np.zeros((1, 1))]
    >>> jacobian(w, np.array([[1.0, -2.0]]), device="cpu").shape  # 4 + 2 + 2 + 1 parameters
    (1, 9)
    """
    import torch

    params, xt = _prepare(weights, x, activation, device, dtype)
    with torch.no_grad():
        parts = [_jac_chunk(params, xt[a:a + chunk], activation)
                 for a in range(0, xt.shape[0], chunk)]
    return torch.cat(parts).cpu().numpy()


def empirical_ntk(weights: Sequence[Any], x: Any, *, activation: str = "relu",
                  device: str | None = None, dtype: str = "float64", chunk: int = 256,
                  max_memory: int | None = None, method: str = "layers") -> np.ndarray:
    """The empirical NTK Gram matrix ``J J^T`` of a one-output MLP on ``n`` inputs.

    ``method="layers"`` (default) uses the MLP's structure: the gradient of
    layer ``l``'s weights is the outer product of its input ``h`` and the
    back-propagated signal ``d = df/dz_l``, so ``K = sum_l (H_l H_l^T + 1) *
    (D_l D_l^T)`` (elementwise product; ``+ 1`` for the bias), with every ``D_l``
    from one ``torch.func.vjp``: ``n^2`` times the summed widths in time, no
    ``n x P`` Jacobian. ``method="jacobian"`` forms ``J`` (``vmap`` of
    ``jacrev``) and ``J J^T``: ``n^2 P``; the Jacobian is kept whole when it
    fits, otherwise the Gram matrix is built block by block from chunks of
    ``chunk`` inputs (see the module docstring for the memory this takes).

    Parameters
    ----------
    weights : sequence of arrays
        ``[W_1, b_1, ..., W_L, b_L]`` (numpy or torch).
    x : array-like of shape (n, d_in)
        Inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        Hidden activation.
    device : str, optional
        Where to compute (default CUDA when present).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the Jacobian and products (float64 resolves eigenvalues
        ~1e-16 of the largest; float32 only ~1e-7).
    chunk : int, default=256
        Inputs per Jacobian chunk.
    max_memory : int, optional
        Bytes the computation may use; default :data:`MEMORY_SHARE` of
        :func:`teacher_student.memory.available_memory`.
    method : {"layers", "jacobian"}, default="layers"
        How the Gram matrix is formed (equal to round-off).

    Returns
    -------
    numpy.ndarray of shape (n, n)
        The Gram matrix (float64).

    Raises
    ------
    TaskConfigError
        The Gram matrix would not fit in ``max_memory`` (the message gives the
        bytes needed and the largest ``n`` that fits), or a bad network/input.

    Examples
    --------
    >>> w = [np.eye(2), np.zeros((1, 2)), np.ones((2, 1)), np.zeros((1, 1))]
    >>> empirical_ntk(w, np.array([[1.0, 2.0], [1.0, -1.0]]), device="cpu").round(6).tolist()
    [[18.0, 2.0], [2.0, 5.0]]
    """
    if method not in ("layers", "jacobian"):
        raise TaskConfigError(f"method must be 'layers' or 'jacobian'; got {method!r}.")
    return _gram(weights, x, activation, device, dtype, chunk, max_memory,
                 method).cpu().numpy()


def _gram(weights: Sequence[Any], x: Any, activation: str, device: str | None, dtype: str,
          chunk: int, max_memory: int | None, method: str = "layers") -> Any:
    """The Gram matrix as a float64 tensor on the device (see :func:`empirical_ntk`)."""
    import torch

    params, xt = _prepare(weights, x, activation, device, dtype)
    n, n_p = xt.shape[0], sum(int(p.numel()) for p in params)
    item = xt.element_size()
    budget = int(max_memory) if max_memory is not None else int(
        MEMORY_SHARE * available_memory(str(xt.device))[0])
    if method == "layers":
        units = sum(int(params[k].shape[0] + params[k].shape[1])
                    for k in range(0, len(params), 2))
        need = ntk_memory(n, n_p, itemsize=item, n_units=units)
        if need > budget:
            n_max = int(math.sqrt(budget / 40.0))
            raise TaskConfigError(
                f"An empirical NTK on n = {n:,} inputs needs {need / 2**30:.2f} GiB (the "
                f"Gram matrix, two per-layer products and the eigen-decomposition, 5 n^2 x 8 "
                f"bytes); {budget / 2**30:.2f} GiB may be used: use n <= {n_max:,}.")
        gram = torch.zeros((n, n), dtype=torch.float64, device=xt.device)
        with torch.no_grad():
            for h, d in _layer_factors(params, xt, activation):
                gram += ((h @ h.T + 1.0) * (d @ d.T)).to(torch.float64)
        return gram
    whole = ntk_memory(n, n_p, itemsize=item) <= budget
    if not whole and ntk_memory(n, n_p, itemsize=item, chunk=chunk) > budget:
        n_max = int(math.sqrt(max(budget - 2 * chunk * n_p * item, 0) / 24.0))
        raise TaskConfigError(
            f"An empirical NTK on n = {n:,} inputs of a network with {n_p:,} parameters needs "
            f"{ntk_memory(n, n_p, itemsize=item, chunk=chunk) / 2**30:.2f} GiB (Gram matrix and "
            f"eigen-decomposition 3 n^2 x 8 bytes, Jacobian chunks 2 x {chunk} x P x {item} "
            f"bytes); {budget / 2**30:.2f} GiB may be used: use n <= {n_max:,}.")
    with torch.no_grad():
        if whole:
            jac = torch.cat([_jac_chunk(params, xt[a:a + chunk], activation)
                             for a in range(0, n, chunk)])
            gram = jac @ jac.T
        else:
            gram = torch.empty((n, n), dtype=xt.dtype, device=xt.device)
            starts = list(range(0, n, chunk))
            for i, a in enumerate(starts):
                ja = _jac_chunk(params, xt[a:a + chunk], activation)
                for b in starts[i:]:
                    jb = ja if b == a else _jac_chunk(params, xt[b:b + chunk], activation)
                    block = ja @ jb.T
                    gram[a:a + chunk, b:b + chunk] = block
                    gram[b:b + chunk, a:a + chunk] = block.T
    return gram.to(torch.float64)


# ------------------------------------------------------------------ spectra
def _spectrum(gram: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scalelaw.spectral.spectrum_from_gram` on the device (torch's eigh)."""
    import torch

    n = gram.shape[0]
    w, u = torch.linalg.eigh(gram)
    w, u = w.flip(0), u.flip(1)
    yt = torch.as_tensor(y, dtype=gram.dtype, device=gram.device)
    lam = w.cpu().numpy()
    if lam[-1] < -1e-8 * max(lam[0], 0.0):
        raise TaskConfigError(f"The Gram matrix has a negative eigenvalue {lam[-1]:.3g} "
                              f"(largest {lam[0]:.3g}): not a kernel's; check the inputs.")
    return np.clip(lam, 0.0, None) / n, ((u.T @ yt) ** 2).cpu().numpy() / n


@dataclass(frozen=True)
class StudentSpectrum:
    """A student's empirical-NTK spectrum and what it predicts.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        ``eig(K) / n``, decreasing.
    target_power : numpy.ndarray
        The teacher's power per mode (sums to ``mean(y^2)`` on the inputs).
    prediction : SpectralPrediction
        Decay exponent, predicted ``alpha_D`` and curve (tail continued).
    settings : dict
        Task, shape, seed, run id, inputs and their seed, parameters, timing.
    """

    eigenvalues: np.ndarray
    target_power: np.ndarray
    prediction: SpectralPrediction
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The prediction's JSON plus the settings."""
        return {**self.prediction.to_dict(), "settings": {**self.prediction.settings,
                                                          **self.settings}}


def student_spectrum(task: Task, weights: Sequence[Any], *, n: int = 2000, replicate: int = 0,
                     activation: str = "relu", window: Sequence[float] | None = None,
                     k_range: Sequence[float] | None = None, tail: str = "power",
                     device: str | None = None, dtype: str = "float64",
                     max_memory: int | None = None, label: dict | None = None
                     ) -> StudentSpectrum:
    """The empirical NTK spectrum of one student on its task, and the predicted ``alpha_D``.

    Parameters
    ----------
    task : Task
        A one-output (MSE) task; the target is its noiseless teacher, and its
        label noise (``label_noise``, a standard deviation) enters the
        predicted error.
    weights : sequence of arrays
        The student ``[W_1, b_1, ..., W_L, b_L]`` (initial or trained).
    n : int, default=2000
        Inputs of the Gram matrix (fresh: :data:`NTK_INPUT_SEED` minus ``replicate``).
    replicate : int, default=0
        Which independent draw of inputs.
    activation : {"relu", "tanh", "gelu"}, default="relu"
        The student's activation.
    window : (float, float), optional
        Training-set sizes to read the exponent over (default: the resolved modes).
    k_range : (float, float), optional
        Modes the decay is fitted on (default ``(3, n / 10)``).
    tail : {"power", "none"}, default="power"
        Continue the spectrum past the resolved modes
        (:func:`scalelaw.spectral.complete_tail`).
    device, dtype, max_memory
        As :func:`empirical_ntk`.
    label : dict, optional
        Extra settings to record (run id, ...).

    Returns
    -------
    StudentSpectrum

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> s = init_spectrum(get_task("bahri-d2"), 16, 2, n=200, device="cpu")
    >>> s.eigenvalues.shape, s.prediction.decay.exponent > 1
    ((200,), True)
    """
    if task.n_outputs != 1:
        raise TaskConfigError(f"Task {task.name!r} has {task.n_outputs} outputs: spectral "
                              "predictions are for one-output regression (MSE) tasks.")
    if not isinstance(n, int) or n < 40:
        raise TaskConfigError(f"n must be an int >= 40 (inputs of the Gram matrix); got {n!r}.")
    t0 = time.perf_counter()
    x = sample_inputs(task, n, NTK_INPUT_SEED - int(replicate), split="val")
    y = teacher_outputs(task, x)[:, 0]
    gram = _gram(weights, x, activation, device, dtype, 256, max_memory)
    lam, v = _spectrum(gram, y)
    # the task's Gaussian label noise enters the kernel regression's error (tested
    # against the clean teacher, as the sweeps' test loss)
    pred = predict_exponent(lam, v, window=window, k_range=k_range, tail=tail,
                            noise=task.label_noise)
    n_p = sum(int(np.asarray(w).size) for w in weights)
    return StudentSpectrum(lam, v, pred, {
        "task": task.name, "task_id": task.task_id, "n": n, "replicate": int(replicate),
        "input_seed": NTK_INPUT_SEED - int(replicate), "input_split": "val",
        "n_params": n_p, "activation": activation, "dtype": dtype,
        "wall_time_s": time.perf_counter() - t0, **(label or {})})


def init_spectrum(task: Task, width: int, depth: int, *, seed: int = 0,
                  parameterization: str = "standard", **kwargs: Any) -> StudentSpectrum:
    """:func:`student_spectrum` of a student at initialisation (the sweeps' own init).

    Parameters
    ----------
    task : Task
        The task.
    width, depth : int
        The student's shape.
    seed : int, default=0
        Its initialisation seed (as a sweep's ``seeds``: the same weights).
    parameterization : {"standard", "mup"}, default="standard"
        As :class:`~teacher_student.config.TrainConfig`.
    **kwargs
        Passed to :func:`student_spectrum`.

    Returns
    -------
    StudentSpectrum
    """
    cfg = TrainConfig(parameterization=parameterization)
    w = init_weights(RunSpec(width, depth, 1, seed), task.ambient_dim, task.n_outputs, cfg)
    label = {"width": width, "depth": depth, "seed": seed, "state": "init",
             **kwargs.pop("label", {})}
    return student_spectrum(task, w, label=label, **kwargs)
