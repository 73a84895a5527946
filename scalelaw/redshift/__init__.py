"""Simplicity bias of random networks (Teney et al. 2024, "Neural Redshift").

Random MLPs ``R^2 -> R`` with uniformly drawn weights and biases are
evaluated on a square grid; the functions they compute are measured by
their mean spatial frequency, their compressibility and the mean order of
their Legendre expansion, per activation, depth, width, weight scale, layer
norm and residual connections (:func:`random_network_complexity`), and
compared with paired intervals (:func:`complexity_ratio`). NumPy only.

Examples
--------
>>> from scalelaw.redshift import random_network_complexity
>>> res = random_network_complexity(["relu"], depths=[1, 4], weight_scales=[1.0],
...                                 widths=[8], n_init=4, grid=16)
>>> list(res.rows["depth"])
[1, 4]
"""

from scalelaw.redshift._grid import (
    MEASURES,
    RedshiftResult,
    check_redshift_args,
    complexity_ratio,
    random_network_complexity,
)
from scalelaw.redshift._measures import compressibility, mean_frequency, polynomial_order
from scalelaw.redshift._networks import ACTIVATIONS, draw_uniform, grid_inputs, network_outputs

__all__ = [
    "ACTIVATIONS",
    "MEASURES",
    "RedshiftResult",
    "check_redshift_args",
    "complexity_ratio",
    "compressibility",
    "draw_uniform",
    "grid_inputs",
    "mean_frequency",
    "network_outputs",
    "polynomial_order",
    "random_network_complexity",
]
