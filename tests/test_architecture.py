"""The package's import graph: one direction, no cycles, layers as the README states.

Every import is counted, including those inside functions and those under
``if TYPE_CHECKING:`` (a type hint that points upward is a dependency too).
Importing ``a.b.c`` also imports the packages ``a.b`` and ``a``, so those
count as imported too. Private names (``_name``) and private modules
(``pkg._module``) are imported only inside the package that owns them.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scalelaw", "teacher_student")

#: Layers, lowest first: a module may import only from its own or lower layers.
#: (The README's "Architecture" section shows the same list.)
LAYERS = [
    ["scalelaw.exceptions", "scalelaw._validation", "scalelaw.stats"],
    ["scalelaw.io", "scalelaw.datasets"],
    ["scalelaw.laws"],
    ["scalelaw.optim"],
    ["scalelaw.inference"],
    ["scalelaw.forecast"],
    ["scalelaw.results"],
    ["scalelaw.fitting"],
    ["scalelaw.backtest", "scalelaw.allocation", "scalelaw.curves", "scalelaw.synthetic",
     "scalelaw.synthetic_variance", "scalelaw.intrinsic_dim",
     "scalelaw.downstream", "scalelaw.planning", "scalelaw.spectral"],
    ["scalelaw.theory"],
    ["scalelaw.lottery", "scalelaw.variance", "scalelaw.slt", "scalelaw.redshift"],
    ["scalelaw.plotting"],
    ["scalelaw="],  # the package's __init__ (exact name)
    # applications: may use teacher_student
    ["scalelaw.experiments", "scalelaw.cli", "scalelaw.__main__"],
]
#: The library layers never import teacher_student (the applications may).
APPLICATIONS = ("scalelaw.experiments", "scalelaw.cli", "scalelaw.__main__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            for a in node.names:  # "from pkg import submodule"
                out.add(f"{name}.{a.name}")
    return {m for m in out if m.split(".")[0] in PACKAGES}


@functools.cache
def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for imp in _imports(path, name):
            # "from pkg import name" may name an attribute, not a module
            while imp and imp not in modules:
                imp = imp.rpartition(".")[0]
            parts = imp.split(".")
            deps.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
        deps.discard(name)
        deps -= set(_parents(name))  # a module never re-imports its packages
        graph[name] = {d for d in deps if d in modules}
    # importing a module runs its packages' __init__ first
    for name in modules:
        graph[name] |= {p for p in _parents(name) if p in modules} - {name}
    return graph


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m):], m]
            if state.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if state.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    # a package's __init__ imports its submodules, and they run the __init__ first:
    # that edge is how packages work, not a cycle, so it is left out here
    acyclic = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items()}
    cycle = _find_cycle(acyclic)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_can_fail():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def _layer(module: str) -> int | None:
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if prefix.endswith("="):
                if module == prefix[:-1]:
                    best = (i, len(prefix))
                continue
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    return None if best is None else best[0]


@pytest.mark.parametrize("module", sorted(m for m in _graph() if m.startswith("scalelaw")))
def test_modules_import_only_from_lower_layers(module):
    graph = _graph()
    mine = _layer(module)
    assert mine is not None, f"{module} is in no layer: add it to LAYERS (and the README)"
    above = sorted(d for d in graph[module] if d.startswith("scalelaw")
                   and not module.startswith(d + ".")
                   and (_layer(d) is None or _layer(d) > mine))
    assert not above, f"{module} (layer {mine}) imports from higher layers: {above}"


def test_scalelaw_core_never_imports_teacher_student():
    graph = _graph()
    for module in graph:
        if module.startswith("scalelaw") and not module.startswith(APPLICATIONS):
            assert not any(d.startswith("teacher_student") for d in graph[module]), module


def _private_owner(module: str) -> str | None:
    """The package that owns a private module (``a.b._c.d`` -> ``a.b``), else None."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _private_imports(path: Path, module: str) -> list[str]:
    """Imports of private modules or names from outside the package that owns them."""
    is_pkg = path.name == "__init__.py"
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            src, names = "", [a.name for a in node.names]
        else:
            continue
        for name in names:
            full = f"{src}.{name}" if src else name
            if full.split(".")[0] not in PACKAGES:
                continue
            owner = _private_owner(full)
            if owner is not None and not (module == owner or module.startswith(owner + ".")):
                bad.append(full)
    return bad


def test_private_names_stay_inside_their_package():
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    bad = {f"{_module_name(p)} imports {imp}" for p in files
           for imp in _private_imports(p, _module_name(p))}
    assert not bad, "\n".join(sorted(bad))


def test_the_private_import_check_can_fail(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from scalelaw.optim import _common\nfrom scalelaw.fitting._api import fit\n"
                 "from scalelaw.laws._average import x\n")
    assert _private_imports(f, "scalelaw.laws.user") == ["scalelaw.optim._common",
                                                         "scalelaw.fitting._api.fit"]
    assert _private_owner("scalelaw._validation") == "scalelaw"
