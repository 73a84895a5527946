"""Teacher-student benchmarks with a known intrinsic dimension, and their training.

* :mod:`teacher_student.tasks`: task configs, teachers, deterministic nested
  sampling (:func:`~teacher_student.tasks.sample`), the random-feature model;
* :mod:`teacher_student.suite`: the named benchmark suite bundled in
  ``datasets/teacher_student/tasks.toml``;
* :mod:`teacher_student.population`: many students trained as one stacked model;
* :mod:`teacher_student.sweep`: resumable sweeps (``scalelaw sweep``).

Importing the package loads nothing heavy; torch is imported by the functions
that need it.
"""

__all__: list[str] = []  # the public names live in the submodules (see docs/api.md)
