"""The local learning coefficient: Langevin sampling localised at trained weights.

The estimator of Lau et al. (2023, "Quantifying degeneracy in singular models
via the learning coefficient")::

    lambda_hat = n beta (E_w[L_n(w)] - L_n(w*))

where the expectation is over the tempered, localised posterior
``p(w) ~ exp(-n beta L_n(w) - gamma / 2 |w - w*|^2)`` and ``n beta = n / log n``
by default (Watanabe's WBIC temperature). The posterior is sampled by
Langevin moves localised at ``w*`` with full-batch gradients, so that ``L_n``
is always the loss on the whole training set::

    w' = w - eps / 2 (n beta grad L_n(w) + gamma (w - w*)) + N(0, eps)

``sampler="sgld"`` keeps every move after burn-in: the estimator of Lau et al.
(Welling & Teh's SGLD without mini-batch noise), whose discretisation error
grows with ``eps``. ``sampler="mala"`` (the default) puts each move through a
Metropolis test, which removes that error at any step size, so what remains
is the Monte Carlo error and the estimand's own finite-``n beta`` bias (for
normal crossings of multiplicity ``m``, about ``-(m - 1) / log(n beta)``). The
step adapts during burn-in to a target acceptance of that test.

Several chains run as one batch (a leading chain axis on every parameter);
each chain's estimate is ``n beta`` times its mean loss after burn-in minus
``L_n(w*)``. The diagnostics say when the estimate cannot be trusted: a
chain diverged, a chain found lower loss than ``w*`` (not a local minimum),
the chains disagree or drift (split R-hat above :data:`RHAT_MAX`), the
unadjusted moves would often be rejected (:data:`ACCEPT_MIN`), and, in
:func:`llc_stability`, the estimate moves with the step size.

Every draw comes from a ``torch.Generator`` seeded by ``seed``; nothing here
changes torch's process-wide state.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_int, check_positive_float
from scalelaw.exceptions import DataValidationError

__all__ = ["ACCEPT_MIN", "RHAT_MAX", "STEP_TOLERANCE", "LLCEstimate", "LLCStability",
           "default_nbeta", "estimate_llc", "llc_stability", "module_loss", "split_rhat",
           "steps_agree"]

#: Split R-hat above which chains count as not mixed (Gelman et al., Bayesian
#: Data Analysis, 3rd ed., sec. 11.4: "below 1.1" for short chains; Vehtari et
#: al. 2021 ask for 1.01 with thousands of draws, more than an LLC chain has).
RHAT_MAX = 1.1
#: Relative change of the estimate between step sizes ``eps`` and ``eps / 2``
#: above which the discretisation bias is not negligible (besides 2 standard
#: errors of the difference). The Langevin step's bias on a quadratic
#: direction is ``1 / (1 - eps a / 4) - 1`` (``a`` its curvature times n beta):
#: 15 % is where halving the step would still move the estimate by several per cent.
STEP_TOLERANCE = 0.15
#: Mean Metropolis acceptance of the unadjusted moves below which their
#: discretisation error counts as large (the automatic step aims at 0.9).
ACCEPT_MIN = 0.7

#: Parameters times chains below which sampling on a CPU runs on one thread.
SMALL_PROBLEM = 1 << 18

LossFn = Callable[[list[Any]], Any]


def default_nbeta(n: int) -> float:
    """``n / log n``, the inverse temperature of WBIC (Watanabe 2013).

    Examples
    --------
    >>> round(default_nbeta(1000), 2)
    144.76
    """
    n = check_int(n, "n", minimum=2)
    return n / math.log(n)


@dataclass(frozen=True)
class LLCEstimate:
    """A local learning coefficient with its chains and diagnostics.

    Attributes
    ----------
    llc : float
        Mean of the chains' estimates.
    llc_sd : float
        Standard deviation of the chains' estimates (ddof 1; NaN for one chain).
    llc_se : float
        ``llc_sd / sqrt(chains)``.
    chain_llc : tuple of float
        Each chain's estimate.
    loss_at_optimum : float
        ``L_n(w*)``.
    loss_trace : ndarray of shape (chains, steps)
        ``L_n`` at every step of every chain (burn-in included).
    n, nbeta, step_size, localization, n_burnin : numbers
        The settings used (``step_size`` after ``"auto"`` was resolved).
    rhat : float
        Split R-hat of the post-burn-in ``n beta L_n`` traces.
    stable : bool
        Every diagnostic passed.
    reason : str
        Why the estimate is not stable, or what was checked.
    settings : dict
        Seed, chains, steps, device, dtype, the top Hessian eigenvalue used
        by ``step_size="auto"``, the number of parameters.
    """

    llc: float
    llc_sd: float
    llc_se: float
    chain_llc: tuple[float, ...]
    loss_at_optimum: float
    loss_trace: np.ndarray = field(repr=False)
    n: int
    nbeta: float
    step_size: float
    localization: float
    n_burnin: int
    rhat: float
    stable: bool
    reason: str
    settings: dict = field(default_factory=dict)

    def to_dict(self, *, trace: bool = False) -> dict[str, Any]:
        """Plain dict for JSON (the loss trace only when asked).

        Returns
        -------
        dict
            Every attribute; ``loss_trace`` as nested lists when ``trace``.
        """
        out = {k: getattr(self, k) for k in (
            "llc", "llc_sd", "llc_se", "loss_at_optimum", "n", "nbeta", "step_size",
            "localization", "n_burnin", "rhat", "stable", "reason")}
        out["chain_llc"] = list(self.chain_llc)
        out["settings"] = dict(self.settings)
        if trace:
            out["loss_trace"] = self.loss_trace.tolist()
        return out


def split_rhat(draws: np.ndarray) -> float:
    """Split R-hat of ``draws`` ``[chains, n]`` (Gelman et al. 2013, BDA3 eq. 11.4).

    Each chain is cut in halves, so a drifting chain raises R-hat as chains
    that disagree do.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(split_rhat(rng.normal(size=(4, 400))) < 1.02)
    True
    >>> bool(split_rhat(np.linspace(0, 1, 800).reshape(4, 200)) > 1.5)
    True
    """
    x = np.asarray(draws, dtype=float)
    half = x.shape[1] // 2
    if half < 2:
        return float("nan")
    parts = np.concatenate([x[:, :half], x[:, half:2 * half]], axis=0)
    k = parts.shape[1]
    within = parts.var(axis=1, ddof=1).mean()
    between = k * parts.mean(axis=1).var(ddof=1)
    if within <= 0:
        return 1.0 if between <= 0 else float("inf")
    var_plus = (k - 1) / k * within + between / k
    return float(np.sqrt(var_plus / within))


def _as_tensors(w_star: Sequence[Any], device: Any, dtype: Any) -> list[Any]:
    import torch

    out = []
    for i, w in enumerate(w_star):
        t = torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w)
        if not torch.is_floating_point(t):
            raise DataValidationError(f"w_star[{i}] must hold floats; got {t.dtype}.",
                                      column="w_star")
        if not bool(torch.isfinite(t).all()):
            raise DataValidationError(f"w_star[{i}] has non-finite values.", column="w_star")
        out.append(t.detach().to(device=device, dtype=dtype or t.dtype).clone())
    if not out:
        raise DataValidationError("w_star must hold at least one parameter array.",
                                  column="w_star")
    return out


def _check_settings(n: int, nbeta: float | None, step_size: float | str | None,
                    localization: float, n_chains: int, n_steps: int,
                    n_burnin: int | None) -> tuple[int, float, int, int, int]:
    n = check_int(n, "n", minimum=2)
    nb = default_nbeta(n) if nbeta is None else check_positive_float(nbeta, "nbeta")
    if not (step_size is None or step_size == "auto"):
        check_positive_float(step_size, "step_size")
    check_positive_float(localization, "localization", allow_zero=True)
    chains = check_int(n_chains, "n_chains", minimum=1)
    steps = check_int(n_steps, "n_steps", minimum=4)
    burn = steps // 2 if n_burnin is None else check_int(n_burnin, "n_burnin")
    if steps - burn < 4:
        raise DataValidationError(f"n_burnin ({burn}) must leave at least 4 of the {steps} "
                                  "steps as draws.", column="n_burnin")
    return n, nb, chains, steps, burn


def estimate_llc(
    loss: LossFn,
    w_star: Sequence[Any],
    n: int,
    *,
    nbeta: float | None = None,
    step_size: float | str | None = "auto",
    localization: float = 1.0,
    n_chains: int = 4,
    n_steps: int = 3000,
    n_burnin: int | None = None,
    seed: int = 0,
    sampler: str = "mala",
    target_accept: float | None = None,
    device: Any = None,
    dtype: Any = None,
    should_stop: Callable[[], bool] | None = None,
) -> LLCEstimate:
    """Estimate the local learning coefficient at ``w_star`` by Langevin sampling.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> Tensor[chains]``: the mean loss on the whole training
        set of each chain; ``params`` is a list of tensors shaped as
        ``w_star`` with a leading chain axis (:func:`module_loss` builds one
        from an ``nn.Module``).
    w_star : sequence of array-like
        The trained weights (tensors or arrays).
    n : int
        Number of training examples.
    nbeta : float, optional
        Inverse temperature times ``n``; default ``n / log n``.
    step_size : float or "auto", default="auto"
        Langevin step ``eps``. ``"auto"``: adapted during burn-in until a
        Metropolis test of the Langevin moves would accept ``target_accept``
        of them, then fixed. The rejection rate of that test measures the
        discretisation error of the unadjusted step, whatever the model's
        curvature, so one setting serves models of any size and ``n``.
    localization : float, default=1
        ``gamma``, the strength of the Gaussian tether to ``w*``. It must be
        small beside ``nbeta`` times the loss's curvature in the directions
        the data determine (a regular model's estimate is
        ``d / 2 * nbeta s / (nbeta s + gamma)`` for curvature ``s``);
        devinterp's 100 suits ``n`` in the millions, not a few thousand.
    n_chains : int, default=4
        Independent chains (run as one batch).
    n_steps : int, default=3000
        Steps per chain.
    n_burnin : int, optional
        Steps left out of the average (default half).
    seed : int, default=0
        Seed of the chains' noise (a ``torch.Generator``).
    sampler : {"mala", "sgld"}, default="mala"
        ``"sgld"``: the unadjusted Langevin step after burn-in (the estimator
        of Lau et al. with full-batch gradients). ``"mala"``: every move passes
        a Metropolis test (no discretisation bias; slower to mix).
    target_accept : float, optional
        Acceptance the automatic step aims for: default 0.9 for ``"sgld"``
        (a small discretisation error in many dimensions; in a few it can
        still be large, which :func:`llc_stability` exposes) and 0.8 for
        ``"mala"`` (above Roberts & Rosenthal's 0.574, optimal for Gaussian
        targets: singular posteriors have stiff walls where large steps stall).
    device, dtype : optional
        Where and in what precision to sample (default: those of ``w_star``).
    should_stop : callable, optional
        Polled every 64 steps; returning True raises ``KeyboardInterrupt``.

    Returns
    -------
    LLCEstimate
        The estimate, its chains, the loss trace and the diagnostics.

    Raises
    ------
    DataValidationError
        A setting out of range, or ``w_star`` empty or not finite.

    Examples
    --------
    A regular model (least squares with 3 parameters) has ``lambda = d / 2``:

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(500, 3, generator=g, dtype=torch.float64)
    >>> y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    >>> y = y + torch.randn(500, generator=g, dtype=torch.float64)
    >>> w_hat = torch.linalg.lstsq(x, y[:, None]).solution[:, 0]
    >>> def loss(p):  # p[0]: [chains, 3]
    ...     return 0.5 * ((y[None] - p[0] @ x.T) ** 2).mean(dim=1)
    >>> est = estimate_llc(loss, [w_hat], n=500, n_steps=800, seed=1)
    >>> bool(abs(est.llc - 1.5) < 0.3), est.stable
    (True, True)
    """
    import torch

    n, nb, chains, steps, burn = _check_settings(n, nbeta, step_size, localization, n_chains,
                                                 n_steps, n_burnin)
    seed = check_int(seed, "seed")
    star = _as_tensors(w_star, device, dtype)
    gen = torch.Generator().manual_seed(seed)
    d = sum(p.numel() for p in star)
    with torch.no_grad():
        l_star = float(loss([p[None] for p in star])[0])
    if not math.isfinite(l_star):
        raise DataValidationError(f"The loss at w_star is not finite ({l_star}).",
                                  column="w_star")
    if sampler not in ("sgld", "mala"):
        raise DataValidationError(f"sampler must be 'sgld' or 'mala'; got {sampler!r}.",
                                  column="sampler")
    target = (0.9 if sampler == "sgld" else 0.8) if target_accept is None else float(
        target_accept)
    if not 0 < target < 1:
        raise DataValidationError(f"target_accept must be in (0, 1); got {target_accept!r}.",
                                  column="target_accept")
    eps = None if step_size is None or step_size == "auto" else float(step_size)
    with _threads_for(star[0].device, d * chains):
        trace, eps_used, stats = _run_chains(loss, star, nb, eps, float(localization), chains,
                                             steps, burn, gen, sampler, target, should_stop)
    return _summarise(trace, l_star, n, nb, eps_used, float(localization), burn, sampler,
                      {"seed": seed, "n_chains": chains, "n_steps": steps, "sampler": sampler,
                       "step_size": "auto" if eps is None else eps, "target_accept": target,
                       "device": str(star[0].device), "dtype": str(star[0].dtype),
                       "n_params": int(d), **stats})


@contextlib.contextmanager
def _threads_for(device: Any, size: int) -> Iterator[None]:
    """One torch thread for small CPU problems while sampling, restored afterwards.

    Thousands of tiny steps spend their time waking threads: on a busy
    2-core machine a 3-parameter model ran 13 times slower with 2 threads.
    """
    import torch

    before = torch.get_num_threads()
    small = str(device).startswith("cpu") and size < SMALL_PROBLEM
    try:
        if small and before != 1:
            torch.set_num_threads(1)
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _per_chain(parts: list[Any]) -> Any:
    """Sum over every axis but the first (the chain axis), over a list of tensors."""
    return sum(p.flatten(1).sum(dim=1) for p in parts)


class _Chains:
    """Batched chains: the state, its potential ``U = nbeta L_n + gamma/2 |w - w*|^2``
    and gradient, and one Langevin proposal with its Metropolis log-ratio."""

    def __init__(self, loss: LossFn, star: list[Any], chains: int, nb: float,
                 gamma: float) -> None:
        self.loss, self.nb, self.gamma = loss, nb, gamma
        self.centre = [p[None] for p in star]
        self.w = [p[None].repeat(chains, *([1] * p.dim())) for p in star]
        self.value, self.u, self.grad = self.evaluate(self.w)

    def evaluate(self, w: list[Any]) -> tuple[Any, Any, list[Any]]:
        import torch

        w = [p.detach().requires_grad_(True) for p in w]
        value = self.loss(w)
        grads = torch.autograd.grad(value.sum(), w)
        with torch.no_grad():
            diff = [p - c for p, c in zip(w, self.centre, strict=True)]
            u = self.nb * value + 0.5 * self.gamma * _per_chain([d * d for d in diff])
            g = [self.nb * gl + self.gamma * d for gl, d in zip(grads, diff, strict=True)]
        return value.detach(), u, g

    def step(self, eps: float, gen: Any, metropolis: Any) -> tuple[Any, Any]:
        """Propose, then keep the proposal where ``metropolis(log_ratio, finite)`` says so.

        Returns the per-chain Metropolis acceptance probability and the mask kept.
        """
        import torch

        with torch.no_grad():
            noise = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device)
                     for p in self.w]
            prop = [p - 0.5 * eps * g + math.sqrt(eps) * z
                    for p, g, z in zip(self.w, self.grad, noise, strict=True)]
        value, u, grad = self.evaluate(prop)
        with torch.no_grad():
            fwd = _per_chain([z * z for z in noise]) * 0.5  # |w' - w + eps/2 gU(w)|^2 / 2 eps
            back = _per_chain([(a - b + 0.5 * eps * g) ** 2 for a, b, g in
                               zip(self.w, prop, grad, strict=True)]) / (2 * eps)
            log_ratio = self.u - u + fwd - back
            finite = torch.isfinite(u) & torch.isfinite(log_ratio)
            accept_prob = torch.where(finite, torch.exp(torch.clamp(log_ratio, max=0.0)),
                                      torch.zeros_like(u))
            keep = metropolis(log_ratio, finite)
            for i in range(len(self.w)):
                shape = (-1, *([1] * (self.w[i].dim() - 1)))
                self.w[i] = torch.where(keep.view(shape), torch.nan_to_num(prop[i]), self.w[i])
                self.grad[i] = torch.where(keep.view(shape), torch.nan_to_num(grad[i]),
                                           self.grad[i])
            self.value = torch.where(keep, torch.nan_to_num(value), self.value)
            self.u = torch.where(keep, torch.nan_to_num(u), self.u)
        return accept_prob, keep


def _run_chains(loss: LossFn, star: list[Any], nb: float, eps: float | None, gamma: float,
                chains: int, steps: int, burn: int, gen: Any, sampler: str, target: float,
                should_stop: Callable[[], bool] | None) -> tuple[np.ndarray, float, dict]:
    """Run the chains; return the loss trace, the step used and sampler statistics.

    With ``eps=None`` the step adapts during burn-in towards the Metropolis
    acceptance ``target`` (Robbins-Monro on ``log eps``), then stays fixed at
    the geometric mean of the last fifth of burn-in. During burn-in every
    sampler rejects as Metropolis would (so a too-large first step cannot
    blow a chain up); after it ``"sgld"`` keeps every finite proposal
    (the unadjusted Langevin estimator of the literature) and ``"mala"``
    keeps rejecting (exact, at any step size).
    """
    import torch

    st = _Chains(loss, star, chains, nb, gamma)
    trace = torch.full((chains, steps), float("nan"), dtype=torch.float64)
    diverged = torch.zeros(chains, dtype=torch.bool, device=star[0].device)
    log_eps = math.log(eps) if eps is not None else math.log(0.1 / (nb + gamma))
    tail: list[float] = []
    accept_after: list[Any] = []

    def metropolis(log_ratio: Any, finite: Any) -> Any:
        u = torch.rand(log_ratio.shape, generator=gen, dtype=torch.float64)
        return finite & (torch.log(u).to(log_ratio.device) < log_ratio)

    def ula(log_ratio: Any, finite: Any) -> Any:
        return finite & ~diverged

    for t in range(steps):
        if should_stop is not None and t % 64 == 0 and should_stop():
            raise KeyboardInterrupt
        in_burn = t < burn
        rule = metropolis if (in_burn or sampler == "mala") else ula
        acc, keep = st.step(math.exp(log_eps), gen, rule)
        if not in_burn:
            accept_after.append(acc.to("cpu", torch.float64))
            if sampler == "sgld":
                diverged |= ~keep
        trace[:, t] = st.value.to("cpu", torch.float64)
        if eps is None and in_burn:
            if t < int(0.8 * burn):
                log_eps += 0.05 * (float(acc.mean()) - target)
            else:
                tail.append(log_eps)
            if t == burn - 1 and tail:
                log_eps = float(np.mean(tail))
    trace[diverged] = float("nan")
    stats = {"metropolis_accept": (float(torch.stack(accept_after).mean())
                                   if accept_after else float("nan")),
             "n_diverged": int(diverged.sum())}
    return trace.numpy(), math.exp(log_eps), stats


def _summarise(trace: np.ndarray, l_star: float, n: int, nb: float, eps: float, gamma: float,
               burn: int, sampler: str, settings: dict) -> LLCEstimate:
    draws = trace[:, burn:]
    finite = np.isfinite(draws).all(axis=1)
    with np.errstate(invalid="ignore"):
        chain = nb * (draws.mean(axis=1) - l_star)
    ok = chain[finite]
    llc = float(ok.mean()) if ok.size else float("nan")
    sd = float(ok.std(ddof=1)) if ok.size > 1 else float("nan")
    rhat = split_rhat(nb * draws[finite]) if ok.size > 1 else float("nan")
    reasons = []
    if not finite.all():
        reasons.append(f"{int((~finite).sum())} of {len(finite)} chains diverged (lower the "
                       "step size)")
    if ok.size and (ok < 0).any():
        reasons.append(f"{int((ok < 0).sum())} chain(s) found lower loss than at w* (w* is "
                       "not a local minimum: train longer, or localise more)")
    if ok.size > 1 and not rhat <= RHAT_MAX:
        reasons.append(f"split R-hat {rhat:.2f} > {RHAT_MAX} (chains disagree or drift: "
                       "more steps, or a smaller step size)")
    accept = settings.get("metropolis_accept", float("nan"))
    if sampler == "sgld" and accept < ACCEPT_MIN:
        reasons.append(f"a Metropolis test would reject {1 - accept:.0%} of the moves "
                       f"(discretisation error: a smaller step size)")
    stable = not reasons
    reason = "; ".join(reasons) if reasons else (
        f"chains finite, above L_n(w*), split R-hat {rhat:.3f}, Metropolis acceptance "
        f"{accept:.2f}")
    return LLCEstimate(
        llc=llc, llc_sd=sd, llc_se=sd / math.sqrt(ok.size) if ok.size > 1 else float("nan"),
        chain_llc=tuple(float(c) for c in chain), loss_at_optimum=l_star, loss_trace=trace,
        n=n, nbeta=nb, step_size=eps, localization=gamma, n_burnin=burn, rhat=rhat,
        stable=stable, reason=reason, settings=settings)


@dataclass(frozen=True)
class LLCStability:
    """Estimates over a grid of step sizes and inverse temperatures.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per setting: ``step_size, nbeta, llc, llc_se, rhat, stable,
        reason``.
    estimates : list of LLCEstimate
        In the table's order.
    stable : bool
        Every setting passed its own diagnostics, and at each ``nbeta`` the
        estimates at neighbouring step sizes agree (:data:`STEP_TOLERANCE`
        plus two standard errors of the difference).
    reason : str
        What failed, or what was checked.
    """

    table: pd.DataFrame
    estimates: list[LLCEstimate] = field(repr=False)
    stable: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (no traces).

        Returns
        -------
        dict
            ``table`` as records, ``stable``, ``reason``.
        """
        return {"table": self.table.to_dict(orient="records"), "stable": self.stable,
                "reason": self.reason}


def steps_agree(a: LLCEstimate, b: LLCEstimate) -> tuple[bool, str]:
    """Whether two estimates agree within :data:`STEP_TOLERANCE` plus 2 standard errors."""
    se = math.hypot(a.llc_se, b.llc_se) if math.isfinite(a.llc_se + b.llc_se) else 0.0
    gap = abs(a.llc - b.llc)
    allowed = STEP_TOLERANCE * max(abs(a.llc), abs(b.llc)) + 2 * se
    ok = bool(gap <= allowed)
    return ok, (f"step {a.step_size:.3g} vs {b.step_size:.3g}: {a.llc:.4g} vs {b.llc:.4g} "
                f"(|diff| {gap:.3g} {'<=' if ok else '>'} {allowed:.3g})")


def llc_stability(
    loss: LossFn,
    w_star: Sequence[Any],
    n: int,
    *,
    step_sizes: Sequence[float] | None = None,
    nbetas: Sequence[float] | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> LLCStability:
    """The estimate over a grid of step sizes and ``n beta``, with a stability verdict.

    Parameters
    ----------
    loss, w_star, n
        As for :func:`estimate_llc`.
    step_sizes : sequence of float, optional
        Default: the automatic step times 2, 1, 1/2 and 1/4.
    nbetas : sequence of float, optional
        Default: ``n / log n`` times 1/2, 1 and 2.
    progress : bool, default=False
        Show a progress bar.
    **kwargs
        Passed to :func:`estimate_llc` (chains, steps, seed, localization, ...).

    Returns
    -------
    LLCStability
        The table, the estimates and the verdict.

    Examples
    --------
    >>> import torch
    >>> loss = lambda p: (p[0][:, 0] ** 2) * (p[0][:, 1] ** 2)   # normal crossing (1, 1)
    >>> res = llc_stability(loss, [torch.zeros(2, dtype=torch.float64)], 10_000,
    ...                     step_sizes=[1e-3, 5e-4], nbetas=[1000.0], localization=1.0,
    ...                     n_steps=500, n_chains=2)
    >>> list(res.table.columns[:3])
    ['step_size', 'nbeta', 'llc']
    """
    from tqdm.auto import tqdm

    base = default_nbeta(check_int(n, "n", minimum=2))
    nbs = [base * f for f in (0.5, 1.0, 2.0)] if nbetas is None else [
        check_positive_float(v, "nbetas") for v in nbetas]
    if step_sizes is None:
        probe = estimate_llc(loss, w_star, n, nbeta=nbs[len(nbs) // 2], step_size="auto",
                             **kwargs)
        steps = [probe.step_size * f for f in (2.0, 1.0, 0.5, 0.25)]
    else:
        steps = sorted((check_positive_float(s, "step_sizes") for s in step_sizes),
                       reverse=True)
    rows, estimates, problems = [], [], []
    grid = [(nb, eps) for nb in nbs for eps in steps]
    for nb, eps in tqdm(grid, desc="LLC stability", disable=not progress):
        est = estimate_llc(loss, w_star, n, nbeta=nb, step_size=eps, **kwargs)
        estimates.append(est)
        rows.append({"step_size": eps, "nbeta": nb, "llc": est.llc, "llc_se": est.llc_se,
                     "rhat": est.rhat, "stable": est.stable, "reason": est.reason})
        if not est.stable:
            problems.append(f"n beta {nb:.4g}, step {eps:.3g}: {est.reason}")
    for i in range(len(nbs)):
        block = estimates[i * len(steps):(i + 1) * len(steps)]
        for a, b in itertools.pairwise(block):
            ok, text = steps_agree(a, b)
            if not ok:
                problems.append(f"n beta {a.nbeta:.4g}: {text}")
    reason = ("; ".join(problems) if problems else
              f"{len(grid)} settings passed; neighbouring step sizes agree")
    return LLCStability(table=pd.DataFrame(rows), estimates=estimates, stable=not problems,
                        reason=reason)


def module_loss(module: Any, x: Any, y: Any, *,
                loss: str | Callable[[Any, Any], Any] = "mse") -> tuple[LossFn, list[Any]]:
    """A batched loss for :func:`estimate_llc` from an ``nn.Module`` and its training set.

    The module runs once per chain through ``torch.func.functional_call``
    under ``torch.func.vmap`` (its buffers are shared, not sampled).

    Parameters
    ----------
    module : torch.nn.Module
        The trained model (its parameters are ``w*``).
    x, y : torch.Tensor
        The whole training set.
    loss : {"mse", "half_mse", "cross_entropy"} or callable, default="mse"
        Per-batch mean loss ``loss(output, y) -> scalar``. ``"mse"`` is the
        mean squared error over rows and outputs, ``"half_mse"`` half of it
        (the Gaussian negative log-likelihood with unit variance, up to a
        constant).

    Returns
    -------
    tuple
        ``(loss, w_star)`` to pass to :func:`estimate_llc`.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 1).double()
    >>> x = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> f, w = module_loss(net, x, x[:, :1])
    >>> tuple(f([p[None].repeat(3, *[1] * p.dim()) for p in w]).shape)
    (3,)
    """
    import torch
    from torch.func import functional_call, vmap

    fns = {"mse": lambda o, t: ((o - t) ** 2).mean(),
           "half_mse": lambda o, t: 0.5 * ((o - t) ** 2).mean(),
           "cross_entropy": lambda o, t: torch.nn.functional.cross_entropy(o, t)}
    if callable(loss):
        fn = loss
    elif loss in fns:
        fn = fns[loss]
    else:
        raise DataValidationError(f"loss must be one of {sorted(fns)} or a callable; got "
                                  f"{loss!r}.", column="loss")
    names = [k for k, _ in module.named_parameters()]
    w_star = [p.detach().clone() for _, p in module.named_parameters()]
    buffers = dict(module.named_buffers())

    def one(*params: Any) -> Any:
        out = functional_call(module, ({**dict(zip(names, params, strict=True)), **buffers}),
                              (x,))
        return fn(out, y)

    batched = vmap(one)

    def batched_loss(params: list[Any]) -> Any:
        return batched(*params)

    return batched_loss, w_star
