"""The layout the README's Development section describes: stages that import only earlier
stages, leaves that import nothing of the pipeline, no import cycle, no module over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .support import ROOT

PACKAGE = ROOT / "convcalc"
#: Leaf modules: what every stage may import; they import no stage.
LEAVES = {"records", "units", "source", "errors", "limits", "sizing"}
#: The stages in pipeline order; `layers` and `rules` are the vocabulary and the rule
#: catalogue that every stage may consult. The NumPy kernels (engine.kernels) are a library of
#: pure functions that the layer classes call lazily: they import nothing of the pipeline (the
#: leaves are not the pipeline: `sizing` holds the chunk sizes they share with the estimate).
STAGES = [
    "layers", "rules", "frontend", "expansion", "analysis", "engine", "report", "export", "cli"
]  # fmt: skip
KERNELS = "convcalc.engine.kernels"
#: The rule families fire on the analysed graph: they stand with the analysis (the catalogue,
#: explanations and lint stay early, since the front end reports findings too).
FAMILIES = {"windows", "merges", "budgets", "design", "nodes"}


def stage(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in STAGES:
        return None
    if parts[1] == "rules" and len(parts) > 2 and parts[2] in FAMILIES:
        return "analysis"
    return parts[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every convcalc module a file imports, at any level of its code (TYPE_CHECKING too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                as_path = ROOT / candidate.replace(".", "/")
                is_module = as_path.with_suffix(".py").exists() or as_path.is_dir()
                found.add(candidate if is_module else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("convcalc") and m != name}


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_import_cycle() -> None:
    # depth-first search for a back edge
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in GRAPH.get(module, ()):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target] if target in path else [target]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in GRAPH:
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_no_stage(leaf: str) -> None:
    stages = {f"convcalc.{s}" for s in STAGES}
    bad = {m for m in GRAPH[f"convcalc.{leaf}"] if m.rsplit(".", 1)[0] in stages or m in stages}
    assert not bad, bad


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, long


def test_a_stage_imports_no_later_stage() -> None:
    order = {name: i for i, name in enumerate(STAGES)}
    wrong = []
    for module, targets in GRAPH.items():
        here = stage(module)
        if here is None:
            continue
        for target in targets:
            there = stage(target)
            if there is not None and not target.startswith(KERNELS) and order[there] > order[here]:
                wrong.append(f"{module} → {target}")
    assert not wrong, wrong


def test_the_kernels_import_nothing_of_the_pipeline() -> None:
    for module, targets in GRAPH.items():
        if module.startswith(KERNELS):
            leaves = {f"convcalc.{leaf}" for leaf in LEAVES}
            outside = {t for t in targets if not t.startswith(KERNELS) and t not in leaves}
            assert not outside, (module, outside)
