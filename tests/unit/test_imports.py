"""The import graph of l1tag/ follows the flow (docs/design.md "Imports").

Every module under l1tag/ is parsed with ``ast``; every ``import`` counts, top-level and inside functions
(a lazy import is still a dependency).  Each module belongs to one layer of ``FLOW`` (the foundations
first, then the stages in flow order) and may import only its own layer or an earlier one.  The
exceptions are listed here exactly: a listed exception that no longer occurs fails the test too, so
the list (and the docs quoting it) stays true.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "l1tag"

# The flow, in order (docs/design.md "Imports" quotes it).  The foundations may be imported by anything;
# a stage may import the foundations and the stages before it, never one after it.
FLOW = (
    ("foundations", ("l1tag", "l1tag.errors", "l1tag.files", "l1tag.numerics", "l1tag.devices", "l1tag.kinds",
                     "l1tag.config")),
    ("data", ("l1tag.data",)),
    ("models", ("l1tag.models",)),
    ("train", ("l1tag.train",)),
    ("ops", ("l1tag.ops",)),
    ("hls", ("l1tag.hls",)),
    ("rtl", ("l1tag.rtl",)),
    ("hardware", ("l1tag.hardware",)),
    ("report", ("l1tag.report",)),
    ("package", ("l1tag.package",)),
    ("build", ("l1tag.build",)),
    ("search", ("l1tag.search",)),
    ("cli", ("l1tag.cli",)),
)

# Imports against the flow that stay, each explained in docs/design.md "Imports".
ALLOWED_AGAINST_FLOW = {
    # the schema's vocabulary (feature and class names) is the data stage's
    ("l1tag.config", "l1tag.data.features"),
    # load-time check of hls.part and the clock against the budget: the budget's own comparison (lazy)
    ("l1tag.config", "l1tag.hardware.budget"),
}

def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The l1tag module ``name`` refers to (the longest existing prefix), or None outside l1tag."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported l1tag module, at top level?) for every import statement of one module."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner_top = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((m, top) for a in child.names if (m := _resolve(a.name, modules)))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                for a in child.names:
                    target = _resolve(f"{base}.{a.name}", modules)  # a submodule, or else the module itself
                    if target and target != module:
                        found.append((target, top))
            visit(child, inner_top)

    visit(tree, True)
    return found


def _graph() -> dict[str, list[tuple[str, bool]]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _layer(module: str) -> int:
    best, layer = -1, None
    for i, (_, prefixes) in enumerate(FLOW):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), i
    assert layer is not None, f"{module} is in no layer of FLOW: add it there (and to docs/design.md)"
    return layer


def _against_flow() -> set[tuple[str, str]]:
    return {(src, dst) for src, deps in _graph().items() for dst, _ in deps if _layer(dst) > _layer(src)}


def test_every_module_has_a_layer():
    for module in _modules():
        _layer(module)


def test_no_cycle_among_top_level_imports():
    graph = {m: sorted({d for d, top in deps if top and d != m}) for m, deps in _graph().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in graph[m]:
            if state.get(d) == 1:
                cycle = path[path.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                walk(d)
        path.pop()
        state[m] = 2

    for m in graph:
        if m not in state:
            walk(m)


def test_imports_point_down_the_flow():
    found = _against_flow()
    expected = ALLOWED_AGAINST_FLOW
    new = sorted(found - expected)
    gone = sorted(expected - found)
    assert not new, "imports against the flow (a later stage imported by an earlier one): " + \
        "; ".join(f"{s} -> {d}" for s, d in new)
    assert not gone, "listed exceptions that no longer occur (remove them here and in docs/design.md): " + \
        "; ".join(f"{s} -> {d}" for s, d in gone)


def test_design_doc_quotes_the_flow_and_its_exceptions():
    text = (REPO / "docs" / "design.md").read_text()
    section = text.split("## Imports", 1)[1].split("\n## ", 1)[0]
    order = [name for name, _ in FLOW]
    assert re.search(r"\s*(→|->)\s*".join(map(re.escape, order)), section), \
        f"docs/design.md 'Imports' does not give the order {' → '.join(order)}"
    for src, dst in ALLOWED_AGAINST_FLOW:
        assert f"`{src}` → `{dst}`" in section, f"docs/design.md 'Imports' does not explain {src} -> {dst}"


def test_loading_a_config_imports_no_tensorflow():
    """The foundations stay light: config validation needs neither TensorFlow nor hls4ml."""
    import subprocess
    import sys

    code = "import sys, l1tag.config; print(sorted({'tensorflow', 'hls4ml', 'keras', 'qkeras'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"
