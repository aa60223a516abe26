"""The shape of the house, checked: which package may import which, no import cycles, and no
router importing another router. Reads the source with `ast`. Package rules cover every
import, lazy ones inside functions too; the cycle check covers module-level imports, and the
few lazy imports that point back up a dependency chain are listed in LAZY_BACK_EDGES with the
reason, so a new hidden loop fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("geo", "layers", "maps", "api", "cli")
# What each package may import besides itself (DESIGN.md: geo ← layers ← api/maps/cli).
ALLOWED = {
    "geo": set(),
    "layers": {"geo"},
    "maps": {"geo", "layers"},
    "api": {"geo", "layers", "maps"},
    "cli": {"geo", "layers", "api"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


# Imports made inside a function on purpose, each closing what would otherwise be a loop.
LAZY_BACK_EDGES = {
    # psycopg is loaded only when a PostGIS URL is configured
    ("layers.store", "layers.postgis_store"),
    # the default upload persistence: each upload is itself a GeoPackage store
    ("layers.store", "layers.uploads"),
}


def _imports(name: str, path: Path, known: set[str], top_level_only: bool = False) -> set[str]:
    """Project modules `name` imports (resolving `from pkg import module`)."""
    out = set()
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    for node in nodes:
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import time (not inside functions, nor under TYPE_CHECKING)."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                out += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_level(node.body)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(node)
        elif isinstance(node, ast.ClassDef):
            out += _top_level(node.body)
    return out


GRAPH = {name: _imports(name, path, set(_modules())) for name, path in _modules().items()}
EAGER = {name: _imports(name, path, set(_modules()), top_level_only=True)
         for name, path in _modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_packages_import_only_downwards(module: str) -> None:
    package = module.split(".")[0]
    wrong = sorted(dep for dep in GRAPH[module]
                   if dep.split(".")[0] not in ALLOWED[package] | {package})
    assert not wrong, f"{module} imports {wrong}"


def test_no_import_cycles() -> None:
    # Packages' __init__ modules are containers: an import of `layers.axes.build` passes
    # through `layers.axes`, which is fine as long as the leaf modules form no loop.
    graph = {m: {d for d in deps if not _is_package(d)} for m, deps in EAGER.items()
             if not _is_package(m)}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle.extend(stack[stack.index(dep):] + [node, dep] if dep in stack
                             else [node, dep])
                return True
            if state.get(dep) is None and visit(dep, stack + [node]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, []):
            break
    assert not cycle, " → ".join(cycle)


def test_lazy_imports_close_no_unlisted_loop() -> None:
    """A function-level import may not point back up the eager graph unless listed."""
    reach: dict[str, set[str]] = {}

    def reachable(start: str) -> set[str]:
        if start not in reach:
            reach[start] = set()
            for dep in EAGER.get(start, ()):
                reach[start] |= {dep} | reachable(dep)
        return reach[start]

    for module, deps in GRAPH.items():
        for dep in deps - EAGER[module]:
            if module in reachable(dep) and not _is_package(dep):
                assert (module, dep) in LAZY_BACK_EDGES, f"lazy loop {module} → {dep}"


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


def test_routers_never_import_each_other() -> None:
    routers = [m for m in GRAPH if m.startswith("api.routers.")]
    assert len(routers) >= 8
    for router in routers:
        assert not {d for d in GRAPH[router] if d.startswith("api.routers.")}, router


def test_no_router_or_map_view_sets_up_app_state() -> None:
    """Services are built once in create_app (api/deps.py), never lazily in a route."""
    for module, path in _modules().items():
        if module.startswith(("api.routers", "maps")):
            text = path.read_text(encoding="utf-8")
            assert "app.state." not in text.replace("app.state.services", ""), module
