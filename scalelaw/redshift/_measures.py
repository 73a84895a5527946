"""Complexity of functions sampled on a square grid: frequency, compressibility, order.

All three are invariant to the function's offset and amplitude (a random
network's output scale says nothing about its shape), and all take a batch
``[N, G, G]`` of functions on the grid of :func:`~scalelaw.redshift.grid_inputs`.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

__all__ = ["compressibility", "mean_frequency", "polynomial_order"]


def mean_frequency(f: np.ndarray) -> np.ndarray:
    """Power-weighted mean frequency of the 2-D spectrum, in cycles across the square.

    The function is extended evenly (mirrored) along both axes before the
    FFT, so the square's edges add no jump: a linear function has one low
    frequency, not the ``1/k`` tail of a periodic discontinuity. The mean
    is ``sum_k |k| P_k / sum_k P_k`` over every non-constant component ``k``,
    with ``P_k = |F_k|^2`` the power and ``|k|`` the radial frequency (the
    spectral centroid). Power, not amplitude: a kink (a ReLU network's
    function) has amplitudes falling as ``k^-2``, whose amplitude-weighted
    mean grows with the grid's resolution in 2-D, while its power-weighted
    mean converges; jumps and oscillations still weigh in fully.
    A constant function gets 0.

    Examples
    --------
    >>> t = np.linspace(-1, 1, 32)
    >>> slow = np.cos(np.pi * t)[None, :, None] * np.ones((1, 1, 32))
    >>> fast = np.cos(8 * np.pi * t)[None, :, None] * np.ones((1, 1, 32))
    >>> bool(mean_frequency(slow)[0] < mean_frequency(fast)[0])
    True
    """
    f = np.asarray(f, dtype=np.float64)
    g = f.shape[-1]
    varies = _varies(f)
    f = f - f.mean(axis=(-2, -1), keepdims=True)
    ext = np.concatenate([f, f[..., ::-1, :]], axis=-2)
    ext = np.concatenate([ext, ext[..., ::-1]], axis=-1)
    amp = np.abs(np.fft.rfft2(ext)) ** 2
    ky = np.fft.fftfreq(2 * g, d=1.0 / (2 * g))
    kx = np.fft.rfftfreq(2 * g, d=1.0 / (2 * g))
    # a period of the mirrored function spans the square twice
    radius = 0.5 * np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    total = amp.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (amp * radius).sum(axis=(-2, -1)) / total
    return np.where(varies, mean, 0.0)


def compressibility(f: np.ndarray, *, levels: int = 256) -> np.ndarray:
    """Raw size over zlib-compressed size of each function quantised to 8 bits.

    Each function is scaled between its own minimum and maximum, quantised
    to ``levels`` values, and each row is replaced by its differences
    (modulo 256, PNG's "Sub" filter: a smooth function becomes a few
    repeated small steps, noise stays noise) before DEFLATE (``zlib``, level
    9). Higher means simpler; a constant function compresses best.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.linspace(-1, 1, 32)
    >>> smooth = (t[:, None] + t[None, :])[None]
    >>> noise = rng.normal(size=(1, 32, 32))
    >>> bool(compressibility(smooth)[0] > compressibility(noise)[0])
    True
    """
    f = np.asarray(f, dtype=np.float64)
    flat = f.reshape(len(f), -1)
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(span > 0, (flat - lo) / span, 0.0)
    q = np.clip(np.round(q * (levels - 1)), 0, levels - 1).astype(np.uint8)
    q = q.reshape(f.shape)
    q = np.diff(q, axis=-1, prepend=np.zeros_like(q[..., :1])).reshape(len(f), -1)  # mod 256
    raw = q.shape[1]
    return np.array([raw / len(zlib.compress(row.tobytes(), 9)) for row in q])


def _varies(f: np.ndarray) -> np.ndarray:
    """Whether each function varies by more than float64 rounding of its values."""
    flat = f.reshape(len(f), -1)
    spread = flat.max(axis=1) - flat.min(axis=1)
    return spread > 1e-9 * np.maximum(np.abs(flat).max(axis=1), 1e-300)


@functools.cache
def _legendre_projector(grid: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    from numpy.polynomial import legendre

    t = np.linspace(-1.0, 1.0, grid)
    a, b = np.meshgrid(t, t, indexing="ij")
    v = legendre.legvander2d(a.ravel(), b.ravel(), [degree, degree])
    k = np.arange(degree + 1)
    norm = np.sqrt((2 * k + 1) / 2.0)  # orthonormal on [-1, 1]
    v = v * np.outer(norm, norm).ravel()
    order = np.add.outer(k, k).ravel()
    return np.linalg.pinv(v), order


def polynomial_order(f: np.ndarray, *, degree: int = 16) -> np.ndarray:
    """Coefficient-weighted mean total order ``i + j`` of a 2-D Legendre fit.

    Least squares on the grid with orthonormal Legendre polynomials up to
    ``degree`` in each variable (``numpy.polynomial.legendre``); the mean is
    ``sum (i + j) |c_ij| / sum |c_ij|`` without the constant. A constant
    function gets 0.

    Examples
    --------
    >>> t = np.linspace(-1, 1, 32)
    >>> line = (t[:, None] + 0 * t[None, :])[None]
    >>> float(np.round(polynomial_order(line)[0], 6))
    1.0
    """
    f = np.asarray(f, dtype=np.float64)
    g = f.shape[-1]
    proj, order = _legendre_projector(g, degree)
    coef = np.abs(f.reshape(len(f), -1) @ proj.T)[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (coef * order[1:]).sum(axis=1) / coef.sum(axis=1)
    return np.where(_varies(f), mean, 0.0)
