"""The named benchmark suite, stored in ``datasets/teacher_student/tasks.toml``.

Names: ``sk-k{k}-mse`` / ``sk-k{k}-ce`` (Sharma & Kaplan, k = 2..19),
``bahri-d{d}`` (Bahri et al., d = 2..9), ``manifold-linear-d{d}`` /
``manifold-nonlinear-d{d}`` (extensions, d = 2..8 in R^20),
``additive-3+3``, ``additive-3+3+3``, ``additive-3+6`` (extensions after
Sharma & Kaplan Fig. 7), ``random-features`` and ``random-features-d2``
(Bahri et al. section 2.3). ``scripts/make_task_suite.py`` writes the file
from :func:`build_suite`; a test checks the two agree.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

import pandas as pd

from teacher_student.tasks import Task, TaskConfigError, suggest_name

__all__ = ["build_suite", "get_task", "list_tasks", "suite_path", "task_table"]


def build_suite() -> dict[str, Task]:
    """The benchmark tasks, built in code (the source of the bundled TOML)."""
    tasks: list[Task] = []
    for k in range(2, 20):
        for loss in ("mse", "ce"):
            tasks.append(Task(
                name=f"sk-k{k}-{loss}", family="sharma_kaplan", intrinsic_dim=k,
                ambient_dim=20, loss=loss, teacher_widths=(600, 600), output_scale=6.0,
                description=f"Sharma & Kaplan (2020) random ReLU teacher [20, 600, 600, "
                f"{2 if loss == 'ce' else 1}] reading the first {k} of 20 uniform inputs; "
                + ("soft targets softmax(6 logits), KL/CE loss." if loss == "ce"
                   else "output x6, MSE loss."),
            ))
    for d in range(2, 10):
        tasks.append(Task(
            name=f"bahri-d{d}", family="bahri", intrinsic_dim=d, ambient_dim=d,
            description=f"Bahri et al. (2021) A.5: inputs uniform on the {d}-cube, teacher "
            f"[{d}, 96, 96, 1], MSE.",
        ))
    for d in range(2, 9):
        for emb in ("linear", "nonlinear"):
            tasks.append(Task(
                name=f"manifold-{emb}-d{d}", family="manifold", intrinsic_dim=d,
                ambient_dim=20, embedding=emb,
                description=f"Extension: {d}-cube embedded in R^20 "
                + ("by a random rotation" if emb == "linear"
                   else "by a smooth curved map (rotation plus sinusoidal bending in the "
                        "orthogonal directions)")
                + "; teacher [20, 96, 96, 1] on the embedded inputs, MSE.",
            ))
    for factors in ((3, 3), (3, 3, 3), (3, 6)):
        name = "additive-" + "+".join(map(str, factors))
        tasks.append(Task(
            name=name, family="additive", intrinsic_dim=sum(factors),
            ambient_dim=sum(factors), factors=factors,
            description=f"Extension after Sharma & Kaplan Fig. 7: sum of independent "
            f"[d_i, 96, 96, 1] teachers on a product of cubes {list(factors)}; predicted "
            f"alpha = 4/{max(factors)}, measured ID about {sum(factors)}.",
        ))
    for d, name in ((4, "random-features"), (2, "random-features-d2")):
        tasks.append(Task(
            name=name, family="random_features", intrinsic_dim=d, ambient_dim=d,
            n_features=1500, teacher_widths=(1500,),
            description=f"Bahri et al. (2021) section 2.3: linear teacher on 1,500 random "
            f"ReLU features of the {d}-cube; exactly solvable L(D), L(P), spectrum alpha_K.",
        ))
    return {t.name: t for t in tasks}


def suite_path():
    """Path of the bundled suite file."""
    from scalelaw.datasets import data_dir

    return data_dir() / "teacher_student" / "tasks.toml"


@lru_cache(maxsize=1)
def _load() -> dict[str, Task]:
    d = tomllib.loads(suite_path().read_text())
    return {name: Task.from_dict({"name": name, **spec}) for name, spec in d["tasks"].items()}


def list_tasks() -> list[str]:
    """Names of the benchmark tasks.

    Examples
    --------
    >>> "bahri-d4" in list_tasks() and "sk-k8-ce" in list_tasks()
    True
    """
    return list(_load())


def get_task(name: str) -> Task:
    """A benchmark task by name (a clear error with a suggestion otherwise).

    Examples
    --------
    >>> get_task("sk-k8-mse").intrinsic_dim
    8
    """
    tasks = _load()
    if name not in tasks:
        raise TaskConfigError(f"Unknown task {name!r}." + suggest_name(name, list(tasks))
                              + " See `scalelaw tasks list`.")
    return tasks[name]


def task_table() -> pd.DataFrame:
    """The suite as a table: name, family, dimensions, loss, predicted 4/d, id.

    Returns
    -------
    pandas.DataFrame
        One row per task.

    Examples
    --------
    >>> task_table().set_index("name").loc["bahri-d4", "4/d"]
    '1.000'
    """
    rows = []
    for name in list_tasks():
        task = get_task(name)
        alpha = task.predicted_alpha
        rows.append({"name": name, "family": task.family, "d": task.intrinsic_dim,
                     "ambient": task.ambient_dim, "loss": task.loss,
                     "4/d": "-" if alpha is None else f"{alpha:.3f}", "id": task.task_id})
    return pd.DataFrame(rows)
