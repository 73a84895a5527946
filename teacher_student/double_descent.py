"""Min-norm random-features regression: double descent with crossed seed designs.

The setting of the shared science notes (Part II, section 3.4): inputs
``x ~ N(0, I_d)``, target ``y = x . beta + eps`` (``beta ~ N(0, I/d)``, noise
sd ``noise``), features ``relu(x W / sqrt(d))`` with ``W`` of shape
``(d, width)``, fitted by minimum-norm least squares on ``n_train`` points.
At ``width = n_train`` the fit interpolates with a nearly singular design and
the test error has an infinite-mean tail.

Every source of randomness is its own seed, so designs are crossed: the data
draw ``X`` depends only on ``data_seed``, the features ``W`` only on
``init_seed`` (the first ``width`` columns of one matrix, so also across
widths), the label noise only on ``noise_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["RandomFeaturesRegression"]


class RandomFeaturesRegression:
    """A random-features regression task with separately seeded sources.

    Parameters
    ----------
    n_train : int, default=120
        Training points per data draw.
    dim : int, default=30
        Input dimension.
    n_test : int, default=400
        Fixed test points.
    noise : float, default=0.5
        Label-noise sd.
    seed : int, default=0
        Seeds the teacher ``beta`` and the test set.

    Examples
    --------
    >>> task = RandomFeaturesRegression(n_train=20, dim=5, n_test=10)
    >>> task.predict(width=10, data_seed=0, init_seed=0, noise_seed=0).shape
    (10,)
    """

    def __init__(self, n_train: int = 120, dim: int = 30, n_test: int = 400,
                 noise: float = 0.5, seed: int = 0) -> None:
        self.n_train, self.dim, self.n_test, self.noise, self.seed = (
            n_train, dim, n_test, noise, seed)
        rng = np.random.default_rng([seed, 0])
        self.beta = rng.normal(0.0, 1.0 / np.sqrt(dim), dim)
        self.x_test = rng.normal(size=(n_test, dim))
        self.y_test = self.x_test @ self.beta

    def _x(self, data_seed: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 1, data_seed]).normal(
            size=(self.n_train, self.dim))

    def _w(self, init_seed: int, width: int) -> np.ndarray:
        # columns generated in blocks so that W[:, :m] is the same for every width
        rng = np.random.default_rng([self.seed, 2, init_seed])
        n_blocks = -(-width // 64)
        return np.hstack([rng.normal(size=(self.dim, 64)) for _ in range(n_blocks)])[:, :width]

    def _eps(self, noise_seed: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 3, noise_seed]).normal(
            0.0, self.noise, self.n_train)

    def _features(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.maximum(x @ w / np.sqrt(self.dim), 0.0)

    def predict(self, width: int, data_seed: int, init_seed: int,
                noise_seed: int | Sequence[int]) -> np.ndarray:
        """Test predictions of the min-norm fit; several noise seeds share one solve.

        Returns
        -------
        ndarray
            Shape ``(n_test,)``, or ``(len(noise_seed), n_test)`` for a sequence.
        """
        x = self._x(data_seed)
        w = self._w(init_seed, width)
        seeds = np.atleast_1d(noise_seed)
        y = (x @ self.beta)[:, None] + np.stack([self._eps(s) for s in seeds], axis=1)
        coef = np.linalg.lstsq(self._features(x, w), y, rcond=None)[0]
        pred = (self._features(self.x_test, w) @ coef).T
        return pred if np.ndim(noise_seed) else pred[0]

    def crossed_predictions(self, widths: Sequence[int], n_data: int = 6, n_init: int = 6,
                            n_noise: int = 4) -> tuple[np.ndarray, pd.DataFrame]:
        """Fully crossed predictions per width.

        Returns
        -------
        cube : ndarray, shape (len(widths), n_data, n_init, n_noise, n_test)
            Predictions.
        table : pandas.DataFrame
            The same as a long table: ``width, data_seed, init_seed, noise_seed,
            example, prediction, target``.
        """
        cube = np.empty((len(widths), n_data, n_init, n_noise, self.n_test))
        for i, m in enumerate(widths):
            for a in range(n_data):
                for b in range(n_init):
                    cube[i, a, b] = self.predict(m, a, b, list(range(n_noise)))
        idx = pd.MultiIndex.from_product(
            [list(widths), range(n_data), range(n_init), range(n_noise), range(self.n_test)],
            names=["width", "data_seed", "init_seed", "noise_seed", "example"])
        table = idx.to_frame(index=False)
        table["prediction"] = cube.reshape(-1)
        table["target"] = np.tile(self.y_test, cube.size // self.n_test)
        return cube, table

    def run_losses(self, widths: Sequence[int], n_runs: int = 400, start_seed: int = 10_000
                   ) -> pd.DataFrame:
        """Independent runs (fresh data, features and noise each): test MSE per run.

        Returns
        -------
        pandas.DataFrame
            ``width, seed, test_mse`` (against the noiseless target).
        """
        rows = []
        for m in widths:
            for r in range(start_seed, start_seed + n_runs):
                p = self.predict(m, r, r, r)
                rows.append((m, r, float(np.mean((p - self.y_test) ** 2))))
        return pd.DataFrame(rows, columns=["width", "seed", "test_mse"])
