"""Learning curves predicted from a kernel's spectrum, before any training.

Kernel (ridge) regression with ``P`` training points on a kernel whose
eigenvalues under the data distribution are ``lambda_k`` (each with
multiplicity ``g_k``), and a target whose variance in mode ``k`` is
``v_k = lambda_k w_k^2`` (its *power*), has the average generalisation error
(Bordelon, Canatar & Pehlevan 2020; Canatar, Bordelon & Pehlevan 2021)::

    kappa = ridge + kappa * sum_k g_k lambda_k / (P lambda_k + kappa)
    t_k   = kappa / (P lambda_k + kappa)            (the part of mode k not learned)
    gamma = (1 / P) sum_k g_k (1 - t_k)^2
    E_g   = (sum_k v_k t_k^2 + sigma^2 gamma) / (1 - gamma)

with ``sigma^2`` the label-noise variance; ``E_g`` is the error against the
noiseless target (add ``sigma^2`` for noisy test labels). The mode errors are
``t_k^2 / (1 - gamma)`` and the learnabilities ``1 - t_k``; with ridge 0 they
sum to ``P`` while ``P`` is below the number of positive modes.

Written as ``F(kappa) = 1 - ridge / kappa - sum_k g_k lambda_k / (P lambda_k +
kappa) = 0``, the left side increases strictly with ``kappa``, so the root is
unique and bracketed by ``[ridge, ridge + sum_k g_k lambda_k]`` (ridge > 0) or
by ``[e P lambda_min, sum_k g_k lambda_k]`` (ridge 0, with ``e`` set by how far
the number of positive modes exceeds ``P``). :func:`solve_kappa` runs a
Newton iteration in ``log kappa`` that falls back on bisection whenever a step
leaves the bracket, for all ``P`` at once (vectorised in blocks). With ridge 0
and no more positive modes than ``P`` there is no positive root: ``kappa = 0``,
every mode with ``lambda_k > 0`` is learned, ``gamma = N_+ / P`` and the modes
with ``lambda_k = 0`` (power the kernel cannot represent) give the plateau of
Maloney, Roberts & Sully (2022): ``E_g -> sum_{lambda_k = 0} v_k`` as
``P -> inf``, after a double-descent peak at ``P = N_+``.

For power laws, ``lambda_k ~ k^-b`` and ``v_k ~ k^-c``, the curve falls as
``P^-min(c - 1, 2b)`` (the local exponent ``-d log E_g / d log P`` tends to
``a`` for ``lambda_k = k^-(1 + a)`` and ``v_k`` proportional to ``lambda_k``).
An empirical spectrum (the eigenvalues of an ``n x n`` Gram matrix divided by
``n``) only resolves about the first ``n / 10`` modes: its truncation steepens
the curve long before ``P = n``. :func:`complete_tail` continues both power
laws beyond the resolved modes (in log-spaced blocks with multiplicities), so
the predicted exponent can be read at the training-set sizes of a sweep.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalelaw._validation import check_positive_float
from scalelaw.exceptions import DataValidationError, ScaleLawWarning

__all__ = [
    "DecayFit",
    "LearningCurve",
    "SpectralPrediction",
    "SpectralWarning",
    "complete_tail",
    "fit_decay_exponent",
    "fit_tail_exponent",
    "learning_curve",
    "mode_errors",
    "predict_exponent",
    "solve_kappa",
    "spectrum_from_gram",
]

#: Elements per block of the vectorised solver (P values x modes).
_BLOCK = 2**18


class SpectralWarning(ScaleLawWarning):
    """A spectral prediction is read where the spectrum does not support it."""


# ------------------------------------------------------------------ inputs
def _vector(values: Any, name: str, *, allow_zero: bool = True) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataValidationError(f"{name!r} must be a sequence of numbers; got "
                                  f"{type(values).__name__}.", column=name) from None
    if arr.ndim != 1 or arr.size == 0:
        raise DataValidationError(f"{name!r} must be a non-empty 1-D array; got shape "
                                  f"{arr.shape}.", column=name)
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0 if allow_zero else arr <= 0))
    if bad.size:
        what = "finite and >= 0" if allow_zero else "finite and > 0"
        raise DataValidationError(
            f"{name!r} must be {what}; {bad.size} value(s) are not (index "
            f"{', '.join(map(str, bad[:5]))}: {arr[bad[:5]].tolist()}).", column=name,
            rows=bad[:5].tolist())
    return arr


def _spectrum(eigenvalues: Any, degeneracy: Any, target_power: Any = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    lam = _vector(eigenvalues, "eigenvalues")
    g = np.ones_like(lam) if degeneracy is None else _vector(degeneracy, "degeneracy",
                                                             allow_zero=False)
    if g.shape != lam.shape:
        raise DataValidationError(f"'degeneracy' has {g.size} values but 'eigenvalues' has "
                                  f"{lam.size}; give one multiplicity per eigenvalue.",
                                  column="degeneracy")
    v = None
    if target_power is not None:
        v = _vector(target_power, "target_power")
        if v.shape != lam.shape:
            raise DataValidationError(
                f"'target_power' has {v.size} values but 'eigenvalues' has {lam.size}; give "
                "the target's variance in each mode (block).", column="target_power")
    if not np.any(lam > 0):
        raise DataValidationError("'eigenvalues' are all zero: the kernel learns nothing.",
                                  column="eigenvalues")
    return lam, g, v


def _sizes(n_train: Any) -> np.ndarray:
    p = np.atleast_1d(np.asarray(n_train, dtype=np.float64))
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p) & (p > 0)):
        raise DataValidationError(f"'n_train' must be positive finite numbers; got "
                                  f"{np.asarray(n_train).tolist()!r}.", column="n_train")
    return p


# ------------------------------------------------------------------ solver
def solve_kappa(eigenvalues: Any, n_train: Any, *, ridge: float = 0.0,
                degeneracy: Any = None, rtol: float = 1e-13) -> np.ndarray:
    """Solve ``kappa = ridge + kappa sum_k g_k lambda_k / (P lambda_k + kappa)`` for each P.

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Kernel eigenvalues ``lambda_k >= 0`` under the data distribution.
    n_train : float or array-like
        Training-set sizes ``P`` (> 0; need not be integers).
    ridge : float, default=0.0
        Ridge ``>= 0`` (of the objective ``sum_mu (f(x_mu) - y_mu)^2 + ridge |f|^2``).
    degeneracy : array-like of shape (K,), optional
        Multiplicity of each eigenvalue (default 1).
    rtol : float, default=1e-13
        Relative tolerance on ``kappa``.

    Returns
    -------
    numpy.ndarray
        ``kappa`` per size; 0 where ridge is 0 and ``P`` reaches the number of
        positive modes.

    Examples
    --------
    >>> k = solve_kappa([1.0, 1.0], [1.0, 2.0])   # two equal modes
    >>> [round(float(v), 12) for v in k]           # 1 = 2 / (P + kappa)
    [1.0, 0.0]
    """
    lam, g, _ = _spectrum(eigenvalues, degeneracy)
    ridge = check_positive_float(ridge, "ridge", allow_zero=True)
    sizes = _sizes(n_train)
    pos = lam > 0
    n_pos = float(g[pos].sum())
    lam_min = float(lam[pos].min())
    total = float((g * lam).sum())
    out = np.zeros(sizes.size)
    todo = np.flatnonzero((ridge > 0) | (sizes < n_pos))
    block = max(1, _BLOCK // lam.size)
    for start in range(0, todo.size, block):
        idx = todo[start:start + block]
        out[idx] = _solve_block(lam, g, sizes[idx], ridge, n_pos, lam_min, total, rtol)
    return out


def _solve_block(lam: np.ndarray, g: np.ndarray, p: np.ndarray, ridge: float, n_pos: float,
                 lam_min: float, total: float, rtol: float) -> np.ndarray:
    """Safeguarded Newton in u = log kappa for a block of sizes (each has a root).

    Starts from ``kappa = P lambda_(P)`` (about P modes learned), clipped into
    the bracket; a step that leaves the bracket is replaced by bisection.
    """
    hi = np.full(p.size, np.log(ridge + total))
    if ridge > 0:
        lo = np.full(p.size, np.log(ridge))
    else:  # sum over the positive modes of lambda / (P lambda (1 + e)) = N+ / (P (1 + e)) > 1
        lo = np.log(0.5 * (n_pos / p - 1.0) * p * lam_min)
    order = np.argsort(-lam, kind="stable")
    ends = np.cumsum(g[order])
    lam_at = lam[order][np.minimum(np.searchsorted(ends, p), lam.size - 1)]
    with np.errstate(divide="ignore"):
        u = np.log(ridge + p * lam_at)
    u = np.where(np.isfinite(u) & (u > lo) & (u < hi), u, 0.5 * (lo + hi))
    lam_p = p[:, None] * lam[None, :]
    gl = g * lam
    for _ in range(300):
        kap = np.exp(u)
        den = lam_p + kap[:, None]
        s = gl / den                                   # g lambda / (P lambda + kappa)
        f = 1.0 - ridge / kap - s.sum(axis=1)
        df = ridge / kap + kap * (s / den).sum(axis=1)  # dF / du
        lo = np.where(f < 0, u, lo)
        hi = np.where(f >= 0, u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = u - f / df
        bad = ~np.isfinite(step) | (step <= lo) | (step >= hi)
        new = np.where(bad, 0.5 * (lo + hi), step)
        done = (np.abs(new - u) <= rtol) | (hi - lo <= rtol)
        u = new
        if done.all():
            break
    return np.exp(u)


# ---------------------------------------------------------------- the curve
@dataclass(frozen=True)
class LearningCurve:
    """The predicted generalisation error over training-set sizes.

    Attributes
    ----------
    n_train : ndarray
        Sizes ``P``.
    error : ndarray
        ``E_g(P)`` against the noiseless target (``inf`` at a double-descent pole).
    local_exponent : ndarray
        ``-d log E_g / d log P`` (exact derivative of the equations).
    kappa, gamma : ndarray
        The self-consistent ``kappa`` and ``gamma`` per size.
    learnability : ndarray
        ``sum_k g_k P lambda_k / (P lambda_k + kappa)`` (``= P`` at ridge 0 while
        ``P`` is below the number of positive modes).
    settings : dict
        Ridge, noise, number of modes and of positive modes.
    """

    n_train: np.ndarray
    error: np.ndarray
    local_exponent: np.ndarray
    kappa: np.ndarray
    gamma: np.ndarray
    learnability: np.ndarray
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON-ready; ``inf`` as None)."""
        def clean(a: np.ndarray) -> list[float | None]:
            return [float(x) if np.isfinite(x) else None for x in a]

        return {"n_train": clean(self.n_train), "error": clean(self.error),
                "local_exponent": clean(self.local_exponent), "kappa": clean(self.kappa),
                "gamma": clean(self.gamma), "learnability": clean(self.learnability),
                "settings": dict(self.settings)}


def _parts(lam: np.ndarray, g: np.ndarray, p: np.ndarray, kap: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """t_k = kappa / (P lambda_k + kappa) (1 on zero eigenvalues) and s_k = 1 - t_k."""
    den = p[:, None] * lam[None, :] + kap[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(den > 0, kap[:, None] / den, 1.0)
    return t, 1.0 - t


def learning_curve(eigenvalues: Any, target_power: Any, n_train: Any, *, ridge: float = 0.0,
                   noise: float = 0.0, degeneracy: Any = None) -> LearningCurve:
    """The generalisation error of kernel regression predicted from a spectrum.

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Kernel eigenvalues ``lambda_k >= 0`` (under the data distribution).
    target_power : array-like of shape (K,)
        The target's variance in each mode (block), ``lambda_k w_k^2`` summed
        over a block's ``g_k`` modes.
    n_train : float or array-like
        Training-set sizes ``P``.
    ridge : float, default=0.0
        Ridge of the kernel regression.
    noise : float, default=0.0
        Standard deviation ``sigma`` of the label noise (its variance enters).
    degeneracy : array-like of shape (K,), optional
        Multiplicity of each eigenvalue.

    Returns
    -------
    LearningCurve
        ``E_g(P)``, its local exponent, ``kappa``, ``gamma`` and the learnabilities.

    Examples
    --------
    >>> k = np.arange(1, 4001)
    >>> c = learning_curve(k ** -1.5, k ** -1.5, [100, 400])   # science notes, section 8
    >>> [round(float(e), 3) for e in c.error]
    [0.325, 0.138]
    """
    lam, g, v = _spectrum(eigenvalues, degeneracy, target_power)
    noise = check_positive_float(noise, "noise", allow_zero=True)
    ridge = check_positive_float(ridge, "ridge", allow_zero=True)
    p = _sizes(n_train)
    kap = solve_kappa(lam, p, ridge=ridge, degeneracy=g)
    n = p.size
    err, expo, gam, learn = (np.empty(n) for _ in range(4))
    block = max(1, _BLOCK // lam.size)
    for a in range(0, n, block):
        sl = slice(a, a + block)
        err[sl], expo[sl], gam[sl], learn[sl] = _curve_block(lam, g, v, p[sl], kap[sl], ridge,
                                                             noise ** 2)
    return LearningCurve(p, err, expo, kap, gam, learn, settings={
        "ridge": ridge, "noise": noise, "n_modes": float(g.sum()),
        "n_positive_modes": float(g[lam > 0].sum()), "total_power": float(v.sum())})


def _curve_block(lam: np.ndarray, g: np.ndarray, v: np.ndarray, p: np.ndarray,
                 kap: np.ndarray, ridge: float, sig2: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t, s = _parts(lam, g, p, kap)
    gam = (g * s ** 2).sum(axis=1) / p
    num = (v * t ** 2).sum(axis=1) + sig2 * gam
    one = 1.0 - gam
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(one > 0, num / one, np.where(num > 0, np.inf, 0.0))
        # q = d log kappa / d log P (implicit derivative of F); 0 when kappa = 0
        den = np.where(kap > 0, ridge / np.where(kap > 0, kap, 1.0), 0.0) \
            + (g * s * t).sum(axis=1) / p
        q = np.where((kap > 0) & (den > 0), -((g * s ** 2).sum(axis=1) / p) / den, 0.0)
        pt = s * t * (q - 1.0)[:, None]                    # P dt_k / dP
        pg = -(g * s ** 2 * (1.0 + 2.0 * t * (q - 1.0)[:, None])).sum(axis=1) / p  # P dgamma/dP
        pn = 2.0 * (v * t * pt).sum(axis=1) + sig2 * pg    # P d num / dP
        slope = np.where(num > 0, pn / num + np.where(one > 0, pg / one, np.nan), np.nan)
    return err, -slope, gam, (g * s).sum(axis=1)


def mode_errors(eigenvalues: Any, n_train: Any, *, ridge: float = 0.0,
                degeneracy: Any = None) -> np.ndarray:
    """The error of each mode, ``t_k^2 / (1 - gamma)``, per size.

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Kernel eigenvalues.
    n_train : float or array-like of shape (m,)
        Training-set sizes.
    ridge : float, default=0.0
        Ridge.
    degeneracy : array-like of shape (K,), optional
        Multiplicities.

    Returns
    -------
    numpy.ndarray of shape (m, K)
        Mode errors; ``E_g = sum_k v_k E_k`` without label noise.

    Examples
    --------
    >>> e = mode_errors([1.0, 0.1, 0.01], [1.0])
    >>> bool(e[0, 0] < e[0, 1] < e[0, 2])   # large modes are learned first
    True
    """
    lam, g, _ = _spectrum(eigenvalues, degeneracy)
    p = _sizes(n_train)
    kap = solve_kappa(lam, p, ridge=ridge, degeneracy=g)
    t, s = _parts(lam, g, p, kap)
    gam = (g * s ** 2).sum(axis=1) / p
    with np.errstate(divide="ignore"):
        return t ** 2 / (1.0 - gam)[:, None]


# --------------------------------------------------------- empirical spectra
def spectrum_from_gram(gram: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and target power of a kernel from its Gram matrix on ``n`` samples.

    With ``n`` inputs drawn from the data distribution, the eigenvalues of
    ``K / n`` estimate the kernel's eigenvalues under that distribution, and
    ``(u_k . y)^2 / n`` (``u_k`` the unit eigenvectors) the target's variance
    in mode ``k``; the powers sum to ``mean(y^2)``. Only about the first
    ``n / 10`` modes are resolved (see the module docstring).

    Parameters
    ----------
    gram : array-like of shape (n, n)
        Symmetric positive semi-definite Gram matrix ``K(x_i, x_j)``.
    target : array-like of shape (n,)
        Target values ``y(x_i)``.

    Returns
    -------
    eigenvalues : numpy.ndarray of shape (n,)
        In decreasing order; round-off negatives set to 0.
    target_power : numpy.ndarray of shape (n,)
        The target's power in each mode.

    Raises
    ------
    DataValidationError
        Not square, not symmetric, not finite, an eigenvalue below
        ``-1e-8`` times the largest (not a kernel), or a target of another length.

    Examples
    --------
    >>> x = np.linspace(-1, 1, 50)
    >>> lam, v = spectrum_from_gram(np.outer(x, x) + 1.0, 2 * x)
    >>> bool(np.isclose(v.sum(), np.mean((2 * x) ** 2))), int((lam > 1e-12).sum())
    (True, 2)
    """
    k = np.asarray(gram, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] < 2:
        raise DataValidationError(f"'gram' must be a square matrix (n x n, n >= 2); got shape "
                                  f"{k.shape}.", column="gram")
    y = np.asarray(target, dtype=np.float64).reshape(-1)
    if y.size != k.shape[0]:
        raise DataValidationError(f"'target' has {y.size} values but the Gram matrix is "
                                  f"{k.shape[0]} x {k.shape[0]}.", column="target")
    if not (np.isfinite(k).all() and np.isfinite(y).all()):
        raise DataValidationError("'gram' and 'target' must be finite.", column="gram")
    scale = float(np.abs(k).max()) or 1.0
    if not np.allclose(k, k.T, rtol=1e-8, atol=1e-10 * scale):
        raise DataValidationError("'gram' is not symmetric.", column="gram")
    n = k.shape[0]
    w, u = np.linalg.eigh(0.5 * (k + k.T))
    w, u = w[::-1], u[:, ::-1]
    if w[-1] < -1e-8 * max(w[0], 0.0):
        raise DataValidationError(f"'gram' has a negative eigenvalue {w[-1]:.3g} (largest "
                                  f"{w[0]:.3g}): it is not a kernel's Gram matrix.",
                                  column="gram")
    return np.clip(w, 0.0, None) / n, (u.T @ y) ** 2 / n


# ---------------------------------------------------------------- exponents
@dataclass(frozen=True)
class DecayFit:
    """A power law ``q_k ~ k^-exponent`` read off a spectrum.

    Attributes
    ----------
    exponent : float
        Least-squares slope of ``-log q`` against ``log k`` at log-spaced ``k``.
    ci : tuple of float
        Smallest and largest exponent over the window's sub-windows (its first
        and last two thirds in ``log k``, and the whole): how much the reading
        depends on where the spectrum is read. This is not a sampling interval;
        one needs several spectra for that (:mod:`teacher_student.ntk`).
    k_range : tuple of float
        The modes fitted.
    amplitude : float
        ``q_k = amplitude * k^-exponent`` at the fit.
    quantity : str
        ``"eigenvalues"`` or ``"target tail"`` (the power beyond mode ``k``).
    """

    exponent: float
    ci: tuple[float, float]
    k_range: tuple[float, float]
    amplitude: float
    quantity: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"exponent": self.exponent, "ci": list(self.ci), "k_range": list(self.k_range),
                "amplitude": self.amplitude, "quantity": self.quantity}


def _default_k_range(n_modes: float) -> tuple[float, float]:
    if n_modes < 20:
        raise DataValidationError(f"A decay exponent needs at least 20 modes; got "
                                  f"{n_modes:g}.", column="eigenvalues")
    return 3.0, max(12.0, n_modes / 10.0)


def _check_range(k_range: Any, n_modes: float, name: str) -> tuple[float, float]:
    if k_range is None:
        return _default_k_range(n_modes)
    try:
        lo, hi = (float(v) for v in k_range)
    except (TypeError, ValueError):
        raise DataValidationError(f"{name!r} must be a pair (low, high); got {k_range!r}.",
                                  column=name) from None
    if not (lo >= 1 and hi <= n_modes and hi >= 2 * lo):
        raise DataValidationError(f"{name!r} must satisfy 1 <= low, high <= {n_modes:g} (the "
                                  f"number of modes) and high >= 2 low; got {(lo, hi)}.",
                                  column=name)
    return lo, hi


def _loglog_fit(k: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    slope, icpt = np.polyfit(np.log(k), np.log(q), 1)
    return float(-slope), float(np.exp(icpt))


def _power_fit(index_of: Any, lo: float, hi: float, quantity: str) -> DecayFit:
    """Fit at 60 log-spaced points of [lo, hi] and on the sub-windows."""
    k = np.unique(np.round(np.geomspace(lo, hi, 60)))
    q = index_of(k)
    ok = q > 0
    if ok.sum() < 4:
        raise DataValidationError(f"The {quantity} between modes {lo:g} and {hi:g} have fewer "
                                  "than 4 positive values: no power law to fit.",
                                  column=quantity)
    k, q = k[ok], q[ok]
    b, amp = _loglog_fit(k, q)
    cut1, cut2 = np.exp(np.log(lo) + np.array([1, 2]) / 3 * np.log(hi / lo))
    subs = [b]
    for sel in (k <= cut2, k >= cut1):
        if sel.sum() >= 4:
            subs.append(_loglog_fit(k[sel], q[sel])[0])
    return DecayFit(b, (min(subs), max(subs)), (float(k[0]), float(k[-1])), amp, quantity)


def _cumulative(g: np.ndarray) -> np.ndarray:
    return np.cumsum(g)


def fit_decay_exponent(eigenvalues: Any, *, degeneracy: Any = None,
                       k_range: Sequence[float] | None = None) -> DecayFit:
    """The decay exponent ``b`` of ``lambda_k ~ k^-b`` over a window of modes.

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Eigenvalues (sorted here in decreasing order).
    degeneracy : array-like of shape (K,), optional
        Multiplicities (mode ``k`` counts them).
    k_range : (float, float), optional
        Modes to fit; default ``(3, K / 10)``: the first modes (the constant and
        linear ones of an NTK) and the unresolved tail of an empirical spectrum
        are left out.

    Returns
    -------
    DecayFit
        The exponent and its range over sub-windows.

    Examples
    --------
    >>> fit = fit_decay_exponent(np.arange(1, 1001) ** -1.5)
    >>> round(fit.exponent, 6), fit.ci == (1.5, 1.5) or round(fit.ci[1] - fit.ci[0], 6)
    (1.5, 0.0)
    """
    lam, g, _ = _spectrum(eigenvalues, degeneracy)
    order = np.argsort(-lam, kind="stable")
    lam, g = lam[order], g[order]
    ends = _cumulative(g)
    lo, hi = _check_range(k_range, float(ends[-1]), "k_range")

    def at(k: np.ndarray) -> np.ndarray:
        return lam[np.minimum(np.searchsorted(ends, k - 1e-9), lam.size - 1)]

    return _power_fit(at, lo, hi, "eigenvalues")


def fit_tail_exponent(target_power: Any, *, degeneracy: Any = None,
                      k_range: Sequence[float] | None = None) -> DecayFit:
    """The exponent ``c`` of the target's power beyond mode k, ``R(k) ~ k^-c``.

    ``R(k) = sum_{j > k} v_j`` is the error of a learner that gets the first
    ``k`` modes exactly, so ``c`` is the data exponent of kernel regression when
    the eigenvalues decay fast enough (``c <= 2b``). The modes must be given in
    the kernel's order (decreasing eigenvalue).

    Parameters
    ----------
    target_power : array-like of shape (K,)
        Power per mode (block), in the order of decreasing eigenvalue.
    degeneracy : array-like of shape (K,), optional
        Multiplicities.
    k_range : (float, float), optional
        Modes to fit; default ``(3, K / 10)``.

    Returns
    -------
    DecayFit
        ``quantity = "target tail"``.

    Examples
    --------
    >>> k = np.arange(1, 1_000_001, dtype=float)   # tail ~ 1/k - 1/N
    >>> round(fit_tail_exponent(k ** -2.0, k_range=(100, 10_000)).exponent, 2)
    1.0
    """
    v = _vector(target_power, "target_power")
    g = np.ones_like(v) if degeneracy is None else _vector(degeneracy, "degeneracy",
                                                           allow_zero=False)
    ends = _cumulative(g)
    lo, hi = _check_range(k_range, float(ends[-1]), "k_range")
    tail = np.concatenate([np.cumsum(v[::-1])[::-1][1:], [0.0]])  # power beyond block j

    def at(k: np.ndarray) -> np.ndarray:
        return tail[np.minimum(np.searchsorted(ends, k - 1e-9), v.size - 1)]

    return _power_fit(at, lo, hi, "target tail")


def complete_tail(eigenvalues: Any, target_power: Any, *, k_range: Sequence[float] | None = None,
                  max_decades: float = 30.0, per_decade: int = 40, rtol: float = 1e-6
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Continue an empirical spectrum beyond its resolved modes by its power laws.

    Modes ``1 .. k_hi`` are kept as measured; beyond, log-spaced blocks (with
    multiplicities) carry ``lambda_k = A k^-b`` (the fit of
    :func:`fit_decay_exponent`) and the target power that keeps the tail
    ``R(k) = A k^-c`` (:func:`fit_tail_exponent`, amplitude and exponent
    from the fit), until ``R`` falls below ``rtol R(k_hi)``
    or ``max_decades`` decades past ``k_hi``; what remains then goes into the
    last block.

    Parameters
    ----------
    eigenvalues, target_power : array-like of shape (n,)
        One mode each, from :func:`spectrum_from_gram`.
    k_range : (float, float), optional
        Modes the power laws are fitted on; default ``(3, n / 10)``.
    max_decades : float, default=30
        How far the continuation may reach.
    per_decade : int, default=40
        Blocks per decade.
    rtol : float, default=1e-6
        Where the target's tail counts as exhausted.

    Returns
    -------
    eigenvalues, target_power, degeneracy : numpy.ndarray
        The completed spectrum (pass all three to :func:`learning_curve`).

    Examples
    --------
    >>> k = np.arange(1, 2001, dtype=float)
    >>> lam, v, g = complete_tail(k ** -2.0, k ** -2.0)
    >>> bool(g.sum() > 1e8), round(float(v.sum()), 2)   # the power of 1e8 modes of k^-2
    (True, 1.64)
    """
    lam, _, v = _spectrum(eigenvalues, None, target_power)
    order = np.argsort(-lam, kind="stable")
    lam, v = lam[order], v[order]
    decay = fit_decay_exponent(lam, k_range=k_range)
    tail = fit_tail_exponent(v, k_range=k_range)
    k_hi = int(decay.k_range[1])
    keep_l, keep_v = lam[:k_hi], v[:k_hi]
    c = max(tail.exponent, 1e-3)
    # the fitted tail at k_hi, not the measured power beyond it: the sample
    # eigenvectors of n points soak up part of the target's power beyond mode
    # k (by 5-20 % at k = n / 10 in Gaussian designs), the fit over the window
    # much less
    r_hi = tail.amplitude * k_hi ** -c
    decades = min(max_decades, np.log10(1.0 / rtol) / c)
    edges = k_hi * np.logspace(0.0, decades, max(2, int(np.ceil(decades * per_decade)) + 1))
    g = np.diff(edges)
    mid = np.sqrt(edges[:-1] * edges[1:])
    ext_l = decay.amplitude * mid ** -decay.exponent
    r = r_hi * (edges / k_hi) ** -c
    ext_v = r[:-1] - r[1:]
    ext_v[-1] += r[-1]  # what remains past the last edge
    return (np.concatenate([keep_l, ext_l]), np.concatenate([keep_v, ext_v]),
            np.concatenate([np.ones(k_hi), g]))


# ------------------------------------------------------------ the prediction
@dataclass(frozen=True)
class SpectralPrediction:
    """What a spectrum predicts: its decay, the learning curve and the data exponent.

    Attributes
    ----------
    decay : DecayFit
        Decay exponent of the eigenvalues.
    tail : DecayFit
        Exponent of the target's power beyond mode ``k``.
    predicted_alpha : float
        Least-squares slope of ``-log E_g`` against ``log P`` over ``window``.
    alpha_ci : tuple of float
        Smallest and largest slope over the window's sub-windows (first and
        last two thirds in ``log P``, and the whole).
    window : tuple of float
        Training-set sizes the exponent is read over.
    curve : LearningCurve
        The predicted curve on a log-spaced grid.
    warnings : list of str
        Where the reading is unsafe (window past the resolved modes, a
        spectrum too flat to be a kernel's, ...).
    settings : dict
        Ridge, noise, tail completion, number of modes.
    """

    decay: DecayFit
    tail: DecayFit
    predicted_alpha: float
    alpha_ci: tuple[float, float]
    window: tuple[float, float]
    curve: LearningCurve
    warnings: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``scalelaw spectrum``: exponents, curve and warnings."""
        err = self.curve.error
        return {"decay_exponent": self.decay.exponent, "decay_ci": list(self.decay.ci),
                "predicted_alpha": self.predicted_alpha, "alpha_ci": list(self.alpha_ci),
                "window": list(self.window), "tail_exponent": self.tail.exponent,
                "k_range": list(self.decay.k_range),
                "predicted_curve": {"P": self.curve.n_train.tolist(),
                                    "E": [float(e) if np.isfinite(e) else None for e in err]},
                "warnings": list(self.warnings), "settings": dict(self.settings)}

    def summary(self) -> str:
        """A few lines for people."""
        d, a = self.decay, self.predicted_alpha
        lines = [f"eigenvalue decay: lambda_k ~ k^-{d.exponent:.3f} (sub-windows "
                 f"[{d.ci[0]:.3f}, {d.ci[1]:.3f}], modes {d.k_range[0]:g}-{d.k_range[1]:g})",
                 f"target tail beyond mode k: ~ k^-{self.tail.exponent:.3f}",
                 f"predicted data exponent alpha_D = {a:.3f} (sub-windows "
                 f"[{self.alpha_ci[0]:.3f}, {self.alpha_ci[1]:.3f}]) over P = "
                 f"{self.window[0]:g}-{self.window[1]:g}"]
        return "\n".join(lines)

    def plot(self, ax: Any = None, measured: Any = None) -> Any:
        """The predicted curve (and measured points ``(P, loss)``, if given).

        Returns
        -------
        matplotlib.figure.Figure
        """
        if ax is None:
            from matplotlib.figure import Figure  # not pyplot: nothing global

            fig = Figure(figsize=(5.5, 4.0))
            ax = fig.subplots()
        else:
            fig = ax.figure
        c = self.curve
        ax.loglog(c.n_train, c.error, "-", color="C0",
                  label=f"spectrum: alpha = {self.predicted_alpha:.2f}")
        ax.axvspan(*self.window, color="C0", alpha=0.08, lw=0)
        if measured is not None:
            p, loss = (np.asarray(a, dtype=float) for a in measured)
            ax.loglog(p, loss, "o", color="C1", label="measured")
        ax.set_xlabel("training-set size P")
        ax.set_ylabel("test error")
        ax.legend(frameon=False)
        return fig


def _slope(p: np.ndarray, err: np.ndarray, lo: float, hi: float) -> tuple[float, tuple]:
    sel = (p >= lo * (1 - 1e-9)) & (p <= hi * (1 + 1e-9)) & np.isfinite(err) & (err > 0)
    x, y = np.log(p[sel]), np.log(err[sel])
    if x.size < 4:
        return float("nan"), (float("nan"), float("nan"))
    full = -np.polyfit(x, y, 1)[0]
    cut1, cut2 = np.log(lo) + np.array([1, 2]) / 3 * np.log(hi / lo)
    subs = [full] + [-np.polyfit(x[s], y[s], 1)[0] for s in (x <= cut2, x >= cut1)
                     if s.sum() >= 4]
    return float(full), (float(min(subs)), float(max(subs)))


def predict_exponent(eigenvalues: Any, target_power: Any, *, degeneracy: Any = None,
                     ridge: float = 0.0, noise: float = 0.0,
                     window: Sequence[float] | None = None,
                     k_range: Sequence[float] | None = None, tail: str = "none",
                     n_grid: int = 120) -> SpectralPrediction:
    """Predict the data exponent ``alpha_D`` from a kernel spectrum and a target.

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Kernel eigenvalues under the data distribution.
    target_power : array-like of shape (K,)
        The target's variance in each mode (``lambda_k w_k^2``).
    degeneracy : array-like of shape (K,), optional
        Multiplicities (not with ``tail="power"``).
    ridge : float, default=0.0
        Ridge of the kernel regression.
    noise : float, default=0.0
        Label-noise standard deviation.
    window : (float, float), optional
        Training-set sizes over which the exponent is read; default the decade
        ``(k_hi / 30, k_hi / 3)`` below the last resolved mode ``k_hi``.
    k_range : (float, float), optional
        Modes the decay exponents are fitted on; default ``(3, K / 10)``.
    tail : {"none", "power"}, default="none"
        ``"power"``: continue the spectrum past ``k_range`` by its power laws
        (:func:`complete_tail`); right for an empirical (truncated) spectrum,
        whose finite length otherwise steepens the curve. ``"none"``: the
        spectrum is complete as given.
    n_grid : int, default=120
        Points of the predicted curve.

    Returns
    -------
    SpectralPrediction
        Decay exponents, the predicted exponent and curve, and warnings.

    Examples
    --------
    >>> k = np.arange(1, 50_001, dtype=float)
    >>> pred = predict_exponent(k ** -2.0, k ** -2.0, window=(50, 300), n_grid=40)
    >>> round(pred.decay.exponent, 3), round(pred.predicted_alpha, 2)   # a = 1
    (2.0, 0.99)
    """
    if tail not in ("none", "power"):
        raise DataValidationError(f"'tail' must be 'none' or 'power'; got {tail!r}.",
                                  column="tail")
    lam, g, v = _spectrum(eigenvalues, degeneracy, target_power)
    if tail == "power" and degeneracy is not None:
        raise DataValidationError("tail='power' continues a spectrum of single modes; give "
                                  "no 'degeneracy'.", column="degeneracy")
    order = np.argsort(-lam, kind="stable")
    lam, g, v = lam[order], g[order], v[order]
    n_modes = float(g.sum())
    decay = fit_decay_exponent(lam, degeneracy=g, k_range=k_range)
    tail_fit = fit_tail_exponent(v, degeneracy=g, k_range=k_range)
    notes: list[str] = []
    if tail == "power":
        lam, v, g = complete_tail(lam, v, k_range=decay.k_range)
        if decay.exponent <= 1.0:
            notes.append(f"the eigenvalues decay as k^-{decay.exponent:.2f}, no faster than "
                         "1/k: the continued spectrum has no finite trace, and the curve "
                         "depends on where the continuation stops")
    if window is None:  # a decade inside the resolved modes
        lo, hi = max(1.0, decay.k_range[1] / 30.0), decay.k_range[1] / 3.0
    else:
        lo, hi = _check_window(window)
    top = float(g.sum()) if tail == "power" else n_modes
    p_max = max(hi * 4.0, min(top, hi * 100.0))
    grid = np.unique(np.concatenate([np.geomspace(1.0, p_max, n_grid),
                                     np.geomspace(lo, hi, 40)]))
    curve = learning_curve(lam, v, grid, ridge=ridge, noise=noise, degeneracy=g)
    alpha, alpha_ci = _slope(curve.n_train, curve.error, lo, hi)
    if tail == "none" and hi > decay.k_range[1]:
        notes.append(f"the exponent is read up to P = {hi:g}, past the modes the spectrum "
                     f"resolves (to {decay.k_range[1]:g}); an empirical spectrum's finite "
                     "length steepens the curve there (use tail='power')")
    if tail == "none" and hi > n_modes / 30:
        notes.append(f"P reaches {hi / n_modes:.0%} of the number of modes ({n_modes:g}): "
                     "a finite spectrum steepens or flattens the curve there (Maloney et al. "
                     "2022)")
    if not np.isfinite(alpha):
        notes.append("too few finite, positive points of the curve in the window")
    for msg in notes:
        warnings.warn(msg, SpectralWarning, stacklevel=2)
    return SpectralPrediction(decay, tail_fit, alpha, alpha_ci, (lo, hi), curve, notes, {
        "ridge": float(ridge), "noise": float(noise), "tail": tail, "n_modes": n_modes,
        "n_modes_completed": float(g.sum())})


def _check_window(window: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError):
        raise DataValidationError(f"'window' must be a pair (low, high) of training-set "
                                  f"sizes; got {window!r}.", column="window") from None
    if not (lo > 0 and hi >= 2 * lo and np.isfinite(hi)):
        raise DataValidationError(f"'window' must satisfy 0 < low and high >= 2 low; got "
                                  f"{(lo, hi)}.", column="window")
    return lo, hi
