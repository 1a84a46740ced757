"""One writer per agent column and per mutable World field (population.WRITERS), checked
against the code: every module of cartelsim/agents is parsed and each write is found
(assignments, augmented assignments, in-place calls such as np.add.at, list mutators, setattr,
out=, and arrays passed to a kernel that writes the matching parameter, transitively), then
compared with the declared owner. Also: the World is complete when built (no None field) and
cannot be rebound.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import small_document

import cartelsim.agents
from cartelsim.agents import population, world
from cartelsim.agents.engine import settings_of
from cartelsim.agents.regions import load_regions
from cartelsim.agents.sim import build
from cartelsim.plan import make_plan
from cartelsim.scenario import validate

AGENTS = Path(cartelsim.agents.__file__).parent
#: The classes whose fields are tracked (World and its parts, the people tables).
CLASSES = {
    c.__name__: c
    for c in (
        world.World, world.Levels, world.Week, world.Service, world.Hazards, world.Counters,
        population.Members, population.StatePeople, population.Tally,
    )
}  # fmt: skip
FIELDS = {name: {f.name: f.type for f in dataclasses.fields(c)} for name, c in CLASSES.items()}
MUTATORS = {"append", "extend", "clear", "pop", "insert", "remove", "fill", "sort", "update",
            "setdefault", "resize", "put", "itemset", "__setitem__"}  # fmt: skip
IN_PLACE = {"copyto", "put", "place", "fill_diagonal", "putmask"}  # np.f(target, ...)


def module_name(path: Path) -> str:
    return path.stem


def agent_sources() -> dict[str, str]:
    files = sorted(AGENTS.glob("*.py")) + sorted((AGENTS / "mechanisms").glob("*.py"))
    return {module_name(p): p.read_text() for p in files if p.name != "__init__.py"}


class _Module:
    """One parsed module: its functions and the agents functions it imports by name."""

    def __init__(self, name: str, source: str):
        self.name = name
        self.tree = ast.parse(source)
        self.functions: dict[str, ast.FunctionDef] = {}
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module, function)
        self.modules: dict[str, str] = {}  # local name -> agents module
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef):
                self.functions.setdefault(node.name, node)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "cartelsim.agents"
            ):
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node.module in ("cartelsim.agents", "cartelsim.agents.mechanisms"):
                        self.modules[local] = alias.name
                    else:
                        self.imported[local] = (node.module.rsplit(".", 1)[-1], alias.name)


class Checker:
    """Finds every write to a tracked field in the given modules: {(module, field), ...}."""

    def __init__(self, sources: dict[str, str]):
        self.modules = {name: _Module(name, text) for name, text in sources.items()}
        self.param_writes = self._param_writes()
        self.writes: set[tuple[str, str]] = set()
        for module in self.modules.values():
            for function in module.functions.values():
                self._scan(module, function, self.writes, params=None)

    # --- what an expression refers to ---------------------------------------------------

    @staticmethod
    def _env(function: ast.FunctionDef) -> dict:
        env: dict[str, set] = {}
        args = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
        for arg in args:
            kind = arg.annotation.id if isinstance(arg.annotation, ast.Name) else None
            if kind is None and isinstance(arg.annotation, ast.Constant):
                kind = arg.annotation.value
            if kind in CLASSES:
                env[arg.arg] = {("type", kind)}
            elif arg.arg == "world":
                env[arg.arg] = {("type", "World")}
        return env

    def _refs(self, node, env) -> set:
        """{("type", Class) | ("field", "Class.field")} the expression may stand for."""
        if isinstance(node, ast.Name):
            return set(env.get(node.id, ()))
        if isinstance(node, ast.Attribute):
            out = set()
            for ref in self._refs(node.value, env):
                if ref[0] == "type" and node.attr in FIELDS[ref[1]]:
                    kind = FIELDS[ref[1]][node.attr]
                    key = f"{ref[1]}.{node.attr}"
                    out.add(("type", kind, key) if kind in CLASSES else ("field", key))
            return out
        if isinstance(node, ast.Subscript):
            out = set()
            for ref in self._refs(node.value, env):
                if ref[0] == "field":
                    out.add(ref)
                elif ref[1] == "Counters" and isinstance(node.slice, ast.Constant):
                    out.add(("field", f"Counters.{node.slice.value}"))
            return out
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "view"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            bases = self._refs(node.func.value, env)
            if any(r[0] == "type" and r[1] == "Members" for r in bases):
                return {("field", f"Members.{node.args[0].value}")}
        return set()

    @staticmethod
    def _fields(refs: set) -> set[str]:
        return {r[1] if r[0] == "field" else r[2] for r in refs if r[0] == "field" or len(r) > 2}

    # --- kernels that write their parameters ----------------------------------------------

    def _callee(self, module: _Module, func) -> tuple[_Module, ast.FunctionDef] | None:
        if isinstance(func, ast.Name):
            if func.id in module.functions:
                return module, module.functions[func.id]
            if func.id in module.imported:
                other, name = module.imported[func.id]
                if other in self.modules and name in self.modules[other].functions:
                    return self.modules[other], self.modules[other].functions[name]
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            other = module.modules.get(func.value.id)
            if other in self.modules and func.attr in self.modules[other].functions:
                return self.modules[other], self.modules[other].functions[func.attr]
        return None

    def _param_writes(self) -> dict[tuple[str, str], set[str]]:
        """Parameters each function writes in place (its own writes, and through calls)."""
        found: dict[tuple[str, str], set[str]] = {}
        changed = True
        while changed:  # to a fixpoint: a kernel that passes a parameter on to a writer
            changed = False
            self.param_writes = found
            for module in self.modules.values():
                for name, function in module.functions.items():
                    params = {a.arg for a in function.args.posonlyargs + function.args.args}
                    written: set = set()
                    self._scan(module, function, written, params=params)
                    names = {w for w in written if isinstance(w, str)}
                    if names - found.get((module.name, name), set()):
                        found[(module.name, name)] = found.get((module.name, name), set()) | names
                        changed = True
        return found

    # --- the scan --------------------------------------------------------------------------

    def _scan(self, module: _Module, function, out: set, params: set | None) -> None:
        """Add to `out` the fields written ((module, field)) or, with `params`, the names of
        the parameters written."""
        env = self._env(function)
        for name in params or ():
            env.setdefault(name, set()).add(("param", name))

        def hit(target_refs: set) -> None:
            for ref in target_refs:
                if params is not None:
                    if ref[0] == "param":
                        out.add(ref[1])
                    continue
                if ref[0] == "field":
                    out.add((module.name, ref[1]))
                elif len(ref) > 2:
                    out.add((module.name, ref[2]))

        def refs(node) -> set:
            found = self._refs(node, env)
            if isinstance(node, ast.Subscript):  # a parameter's element, in a kernel
                base = node.value
                while isinstance(base, ast.Subscript):
                    base = base.value
                if isinstance(base, ast.Name):
                    found |= {r for r in env.get(base.id, ()) if r[0] == "param"}
                    found |= {r for r in env.get(base.id, ()) if r[0] == "field"}
            return found

        def targets(node):
            if isinstance(node, ast.Tuple | ast.List):
                for element in node.elts:
                    yield from targets(element)
            elif isinstance(node, ast.Starred):
                yield from targets(node.value)
            else:
                yield node

        def assignments():
            for node in ast.walk(function):
                if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                    target_list = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target_node in target_list:
                        pairs = [(target_node, node.value)]
                        if isinstance(target_node, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            pairs = list(zip(target_node.elts, node.value.elts, strict=False))
                        for tgt, value in pairs:
                            for t in targets(tgt):
                                yield node, t, value

        # 1. what each local name may stand for (flow-insensitive: every binding counts)
        size = -1
        while size != sum(len(v) for v in env.values()):
            size = sum(len(v) for v in env.values())
            for node, t, value in assignments():
                if isinstance(t, ast.Name) and not isinstance(node, ast.AugAssign) and value:
                    env.setdefault(t.id, set()).update(self._refs(value, env))
        # 2. the writes
        for node, t, _ in assignments():
            if not isinstance(t, ast.Name):
                hit(refs(t))
            elif isinstance(node, ast.AugAssign):
                hit({r for r in env.get(t.id, ()) if r[0] != "type"})
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute):
                    if func.attr in MUTATORS:
                        hit({r for r in refs(func.value) if r[0] != "type"})
                    if (func.attr == "at" or func.attr in IN_PLACE) and node.args:
                        hit(refs(node.args[0]))
                if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                    for ref in self._refs(node.args[0], env):
                        if ref[0] == "type":
                            name = node.args[1]
                            names = (
                                [name.value] if isinstance(name, ast.Constant)
                                else list(FIELDS[ref[1]])
                            )  # fmt: skip
                            hit({("field", f"{ref[1]}.{n}") for n in names})
                for keyword in node.keywords:
                    if keyword.arg == "out":
                        hit(refs(keyword.value))
                callee = self._callee(module, func)
                if callee is not None:
                    other, definition = callee
                    written = self.param_writes.get((other.name, definition.name), set())
                    names = [a.arg for a in definition.args.posonlyargs + definition.args.args]
                    for k, arg in enumerate(node.args):
                        if k < len(names) and names[k] in written:
                            hit(refs(arg) | self._refs(arg, env))
                    for keyword in node.keywords:
                        if keyword.arg in written:
                            hit(refs(keyword.value) | self._refs(keyword.value, env))


def violations(checker: Checker) -> list[str]:
    problems = []
    for module, field in sorted(checker.writes):
        owner = population.WRITERS.get(field)
        if owner is None:
            problems.append(f"{module} writes {field}, which the schema says is fixed")
        elif owner != module:
            problems.append(f"{module} writes {field}, owned by {owner}")
    return problems


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(agent_sources())


def test_every_field_has_one_writer_and_it_is_the_declared_owner(checker):
    assert violations(checker) == []


def test_every_declared_owner_writes_its_field(checker):
    """The schema is not stale: each listed writer does write the field."""
    unused = [f"{field} ({owner})" for field, owner in population.WRITERS.items()
              if (owner, field) not in checker.writes]  # fmt: skip
    assert unused == []


def test_mechanisms_never_write_members_or_state_service(checker):
    people = {f for f in population.WRITERS if f.split(".")[0] in ("Members", "Service")}
    people |= {"StatePeople.region", "StatePeople.status", "World.cells"}
    assert {m for m, f in checker.writes if f in people} == {"resolve"}


@pytest.mark.parametrize(
    ("module", "source", "field"),
    [
        ("raids", "def f(world):\n    world.cells[0, 0] += 1\n", "World.cells"),
        ("leadership", "def f(world, rows):\n    m = world.members\n    m.role[rows] = 0\n",
         "Members.role"),
        ("alliances", "def f(world):\n    np.add.at(world.payroll, (0, 0), 1)\n", "World.payroll"),
        ("clashes", "def k(a, b):\n    g(b)\ndef g(x):\n    x[0] = 1\n"
         "def f(world):\n    k(world.cells, world.service.forces_in)\n", "Service.forces_in"),
        ("corruption", "def f(world):\n    setattr(world.levers, name, 1)\n",
         "Levels.kingpin_targeting"),
        ("economy", "def f(world):\n    world.today['raids'][0] = 1\n", "Counters.raids"),
        ("movement", "def f(world):\n    world.state.status[0] = 2\n", "StatePeople.status"),
    ],
)  # fmt: skip
def test_the_checker_finds_writes_by_the_wrong_module(module, source, field):
    found = Checker({module: source}).writes
    assert (module, field) in found
    assert violations(Checker({module: source}))


def test_the_world_is_complete_when_built_and_its_fields_are_never_rebound():
    scenario = validate(small_document(agents={"scale": 0.01}), "small.toml")
    w = build(make_plan(scenario), settings_of(scenario, None, None), load_regions("states"), 0)
    assert all(getattr(w, f.name) is not None for f in dataclasses.fields(w))
    for part in (w.week, w.service, w.hazards, w.today, w.members, w.levers):
        assert all(getattr(part, f.name) is not None for f in dataclasses.fields(part))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.cells = np.zeros_like(w.cells)  # type: ignore[misc]
    assert len(w.requests) == 0  # week 0's requests were applied when it was built
