"""The package's dependencies point one way: a test over its import statements.

Layers, lowest first (README, Layout):

    core      scenario, plan, the aggregate engine, observation, results, run path
    agents/   the agent engine: imports the core, found by it through engines.py
    analysis/ draws, targets, fits, calibration, comparison, sensitivity
    report/   the HTML reports and figures
    cli, dashboard/   the interfaces

A module may import its own layer and the layers below, never above; no import cycles; and
no module uses another module's private (underscore) names. The test reads every import
statement, including those inside functions, so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cartelsim

PACKAGE = Path(cartelsim.__file__).parent
#: Edge layers by first package component, lowest first; everything else is the core.
EDGES = {"agents": 1, "analysis": 2, "report": 3, "cli": 4, "dashboard": 4, "__main__": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = PACKAGE / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def layer(name: str) -> int:
    parts = name.split(".")
    return EDGES.get(parts[1], 0) if len(parts) > 1 else 0


def imports_of(path: Path) -> tuple[set[str], list[str]]:
    """The cartelsim modules a file imports, and the private names it takes from them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    aliases: dict[str, str] = {}
    private: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cartelsim":
                    found.add(alias.name)
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "cartelsim":
                continue
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if is_module(child):
                    found.add(child)
                    aliases[alias.asname or alias.name] = child
                else:
                    found.add(node.module)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append(f"from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            private.append(f"{aliases[node.value.id]}.{node.attr}")
    return found, private


def graph() -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    edges, private = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        found, names = imports_of(path)
        edges[name] = {m for m in found if m != name}
        if names:
            private[name] = names
    return edges, private


def test_no_module_imports_a_higher_layer():
    edges, _ = graph()
    upward = [f"{a} -> {b}" for a, targets in edges.items() for b in targets if layer(b) > layer(a)]
    assert not upward, "imports that point up the layers: " + "; ".join(sorted(upward))


def test_the_core_imports_no_engine_analysis_report_or_interface():
    edges, _ = graph()
    core = [a for a in edges if layer(a) == 0]
    assert {"cartelsim.scenario", "cartelsim.plan", "cartelsim.results"} <= set(core)
    wrong = [f"{a} -> {b}" for a in core for b in edges[a] if layer(b) > 0]
    assert not wrong, "; ".join(sorted(wrong))


def test_no_import_cycles():
    edges, _ = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if target == "cartelsim":  # the package facade, run before any submodule
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_no_private_names_across_modules():
    _, private = graph()
    assert not private, "; ".join(f"{m}: {', '.join(n)}" for m, n in sorted(private.items()))


def test_the_checks_can_fail(tmp_path):
    """The parser sees an upward import, a private name and a module import (a check that
    sees nothing would pass every test above)."""
    file = tmp_path / "m.py"
    file.write_text(
        "def f():\n"
        "    from cartelsim.report import run_report\n"
        "    from cartelsim.scenario import _format\n"
        "    from cartelsim import observe\n"
        "    return observe._private\n",
        encoding="utf-8",
    )
    found, private = imports_of(file)
    assert {"cartelsim.report.run_report", "cartelsim.scenario", "cartelsim.observe"} <= found
    assert private == ["from cartelsim.scenario import _format", "cartelsim.observe._private"]
    assert layer("cartelsim.report.run_report") > layer("cartelsim.results")
