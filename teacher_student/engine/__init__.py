"""The population training engine: many small students of one shape as one stacked model.

Read in this order: :mod:`~teacher_student.engine.data` (the tensors),
:mod:`~teacher_student.engine.state` (flat parameters and the optimiser),
:mod:`~teacher_student.engine.step` (forward pass; the autograd reference step
and the hand-written one), :mod:`~teacher_student.engine.monitor` (divergence,
early stopping, the log) and :mod:`~teacher_student.engine.loop` (the loop that
joins them). :mod:`~teacher_student.engine.settings` holds the tuning switches.
The public entry point is :func:`teacher_student.population.train_population`.
"""

__all__: list[str] = []  # internal: the public entry point is teacher_student.population
