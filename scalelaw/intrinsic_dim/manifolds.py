"""Point clouds of known intrinsic dimension: the calibration families.

The intervals of :func:`scalelaw.intrinsic_dim.estimate_intrinsic_dim` carry
the estimators' bias as measured on these families (``bench/intrinsic_dim_calibration.py``).
Each family draws its shape from ``generator_seed`` (scales, radii, embedding
weights, cluster centres: a different manifold of the same dimension for every
seed) and its points from ``random_state``:

* ``"gaussian"``: an anisotropic Gaussian (axis scales within a factor 2 of
  each other), rotated into ``R^(d+2)``;
* ``"box"``: a uniform box (sides within a factor 1.4), rotated into ``R^(d+2)``;
  its boundary makes every nearest-neighbour estimator read low;
* ``"flat_torus"``: a product of ``d`` circles of random radii in ``R^(2d)``,
  rotated into ``R^(2d+2)`` (flat, no boundary);
* ``"ellipsoid"``: the unit sphere ``S^d`` stretched along random axes
  (factor up to 1.5), rotated into ``R^(d+3)`` (curved, no boundary);
* ``"blobs"``: a mixture of four unit Gaussians with random centres and
  weights in ``R^d``, rotated into ``R^(d+2)`` (density changing across the set);
* ``"twin_peaks"``: scikit-dimension's ``hyperTwinPeaks`` (a curved graph over
  the unit cube) of random height, rotated into ``R^(d+3)``;
* ``"tanh"``: ``tanh(z W + b)`` for Gaussian ``z`` in ``R^(3d+10)``;
* ``"relu_mlp"``: a random one-hidden-layer ReLU network (256 units) applied
  to a uniform cube, read out in ``R^(3d+10)``: piecewise linear, like a
  network's representation.
"""

from __future__ import annotations

import numpy as np

from scalelaw._validation import RandomStateLike, check_int, check_random_state, unknown_name

__all__ = ["FAMILIES", "sample_manifold"]

FAMILIES: tuple[str, ...] = ("gaussian", "box", "flat_torus", "ellipsoid", "blobs",
                             "twin_peaks", "tanh", "relu_mlp")


def _rotate(x: np.ndarray, ambient: int, gen: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(gen.standard_normal((ambient, ambient)))
    return x @ q[: x.shape[1]]


def sample_manifold(family: str, d: int, n: int, *, generator_seed: int = 0,
                    random_state: RandomStateLike = 0) -> np.ndarray:
    """Points on a manifold of known intrinsic dimension.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES` (see the module docstring).
    d : int
        The intrinsic dimension (at least 1).
    n : int
        Number of points (at least 1).
    generator_seed : int, default=0
        Draws the manifold itself (scales, radii, embedding, centres).
    random_state : int, numpy.random.Generator or None, default=0
        Draws the points.

    Returns
    -------
    ndarray of shape (n, ambient)
        The points.

    Examples
    --------
    >>> X = sample_manifold("flat_torus", 3, 500, generator_seed=1)
    >>> X.shape
    (500, 8)
    """
    if family not in FAMILIES:
        raise unknown_name("manifold family", family, FAMILIES)
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    gen = np.random.default_rng(check_int(generator_seed, "generator_seed", minimum=0))
    rng = check_random_state(random_state)
    if family == "gaussian":
        scales = np.exp(gen.uniform(-np.log(2) / 2, np.log(2) / 2, d))
        return _rotate(rng.standard_normal((n, d)) * scales, d + 2, gen)
    if family == "box":
        sides = np.exp(gen.uniform(-np.log(1.4) / 2, np.log(1.4) / 2, d))
        return _rotate(rng.uniform(size=(n, d)) * sides, d + 2, gen)
    if family == "flat_torus":
        radii = np.exp(gen.uniform(-np.log(2) / 2, np.log(2) / 2, d))
        theta = rng.uniform(0, 2 * np.pi, (n, d))
        x = np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=2).reshape(n, 2 * d)
        return _rotate(x, 2 * d + 2, gen)
    if family == "ellipsoid":
        axes = np.exp(gen.uniform(0, np.log(1.5), d + 1))
        z = rng.standard_normal((n, d + 1))
        return _rotate(z / np.linalg.norm(z, axis=1, keepdims=True) * axes, d + 3, gen)
    if family == "blobs":
        centres = gen.normal(0, 3.0, (4, d))
        weights = gen.dirichlet(np.full(4, 2.0))
        which = rng.choice(4, size=n, p=weights)
        return _rotate(centres[which] + rng.standard_normal((n, d)), d + 2, gen)
    if family == "twin_peaks":
        from scalelaw.intrinsic_dim._skdim import skdim_datasets

        height = float(np.exp(gen.uniform(np.log(0.5), np.log(2.0))))
        seed = int(rng.integers(2**31 - 1))
        x = skdim_datasets().hyperTwinPeaks(n, d=d, height=height, random_state=seed)
        return _rotate(x, d + 3, gen)
    ambient = 3 * d + 10
    if family == "tanh":
        w = gen.normal(0, np.sqrt(2.0 / d), (d, ambient))
        b = gen.normal(0, 0.5, ambient)
        return np.tanh(rng.standard_normal((n, d)) @ w + b)
    # relu_mlp
    w1 = gen.normal(0, np.sqrt(2.0 / d), (d, 256))
    b1 = gen.normal(0, 0.5, 256)
    w2 = gen.normal(0, np.sqrt(2.0 / 256), (256, ambient))
    return np.maximum(rng.uniform(-1, 1, (n, d)) @ w1 + b1, 0.0) @ w2
