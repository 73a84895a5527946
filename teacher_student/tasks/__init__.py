"""Teacher-student tasks with a controlled intrinsic dimension.

The package holds the configuration (``_config``: :class:`Task`), the teachers
(``_teachers``), the inputs and their embeddings (``_inputs``) and the samples
(``_sampling``: label noise, train/test draws, validation sets, online
batches, files).

A :class:`Task` is a small frozen configuration; :func:`sample` turns it into
train/test tensors. The protocols follow the two reference papers exactly;
everything else is marked as an extension.

Families
--------
``sharma_kaplan`` (Sharma & Kaplan 2020, App. A.2.1 and their code)
    Inputs uniform on ``[-1/2, 1/2]^20``; a random ReLU teacher
    ``[20, 600, 600, out]`` with zero biases and weights ``N(0, 1/fan_in)``
    reads only the first ``k`` coordinates (the others are multiplied by 0
    inside the teacher, as in their code; ``irrelevant="zero"`` also zeroes
    them in the stored inputs). Output ``6 * (last layer)`` for regression
    (one output, MSE) or ``softmax(6 * logits)`` for classification (two
    outputs, soft targets, KL/CE loss).
``bahri`` (Bahri et al. 2021, supplement A.5)
    Inputs uniform on the ``d``-cube ``[-1/2, 1/2]^d``, teacher
    ``[d, 96, 96, 1]`` (same initialisation; the output is not rescaled).
``manifold`` (extension)
    A ``d``-dimensional cube embedded in ``R^D``: ``linear`` = ``Q z`` with
    ``Q`` a random ``D x d`` matrix of orthonormal columns (a random rotation);
    ``nonlinear`` = ``Q z + c P sin(W z + b)`` with ``P`` orthonormal and
    orthogonal to ``Q``: a smooth curved embedding that can never collapse a
    direction (projecting on ``Q`` recovers ``z``, so the Jacobian has rank
    ``d`` everywhere) and never saturates. Teacher ``[D, 96, 96, 1]``.
``additive`` (extension of Sharma & Kaplan section 3.2)
    Inputs on a product of cubes of dimensions ``d_1, ..., d_m``; target
    ``sum_i f_i(x_i)`` with an independent ``[d_i, 96, 96, 1]`` teacher per
    factor. Predicted exponent ``4 / max(d_i)`` while the measured ID is
    about ``sum(d_i)``.
``random_features`` (Bahri et al. 2021, section 2.3)
    The exactly solvable linear teacher-student pair: features
    ``F(x) = ReLU(W x + b) / sqrt(S)`` of a random ReLU layer (``S``
    features, inputs uniform on the ``d``-cube), teacher ``y = omega . F(x)``
    with ``omega ~ N(0, I / S)``.
    :class:`~teacher_student.random_features.RandomFeatureModel` exposes the
    kernel spectrum (so ``alpha_K`` can be computed) and the analytic
    ``L(D)`` and ``L(P)``.

Determinism and nesting: inputs are drawn in blocks of 4,096 rows, block ``b``
of stream ``s`` from ``SeedSequence([task hash, seed, s, b])``, so the same
(task, seed, n) always gives the same bytes on CPU and a larger ``n`` extends
a smaller one (nested training sets, as the papers sub-sample one fixed set).
The test set and the online stream are separate streams of the same seed.
"""

from __future__ import annotations

from teacher_student.tasks._config import (
    ACTIVATIONS,
    BLOCK,
    EMBEDDINGS,
    FAMILIES,
    LOSSES,
    Task,
    TaskConfigError,
    suggest_name,
)
from teacher_student.tasks._inputs import embed_latent, sample_inputs, stream_inputs
from teacher_student.tasks._sampling import (
    TaskData,
    add_label_noise,
    online_batches,
    sample,
    validation_set,
    write_task_data,
)
from teacher_student.tasks._teachers import activation, random_feature_map, teacher_outputs

__all__ = [
    "ACTIVATIONS",
    "BLOCK",
    "EMBEDDINGS",
    "FAMILIES",
    "LOSSES",
    "Task",
    "TaskConfigError",
    "TaskData",
    "activation",
    "add_label_noise",
    "embed_latent",
    "online_batches",
    "random_feature_map",
    "sample",
    "sample_inputs",
    "stream_inputs",
    "suggest_name",
    "teacher_outputs",
    "validation_set",
    "write_task_data",
]
