"""Imports only point down (DESIGN.md): dashboards -> plots -> metrics -> techniques -> training
-> network -> data. Checked on the source, function-level imports included, so a lazy import
cannot hide an arrow that points up."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "compresslab"

# Higher levels may import lower or equal ones, never higher.
LEVELS = {
    "_validation": 0, "encoding": 0, "stats": 0, "data": 0, "lecture": 0,
    "models": 1,
    "network": 2,
    "training": 3,
    "lowrank": 4, "quantization": 4, "pruning": 4, "distillation": 4, "integer": 4,
    "metrics": 5, "baseline": 5,
    "curves": 6, "exercises": 6, "distillation_results": 6, "pruning_experiments": 6,
    "plots": 7,
    "dashboards": 8,
    "bench": 9, "bench_pruning": 9, "bench_distillation": 9, "__init__": 9,
}
# Deliberate exceptions, each with its reason.
ALLOWED = {
    ("_validation", "network"): "check_network's isinstance test; imported on use, no cycle at import time",
}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(PACKAGE).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package_parts)[: len(package_parts) - (node.level - 1)] if node.level > 1 else list(
                package_parts)
            target = (base + (node.module.split(".") if node.module else []))
            if target:
                yield node.lineno, target[0]
            else:                                   # from . import x
                for alias in node.names:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("compresslab."):
            yield node.lineno, node.module.split(".")[1]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_level():
    assert {_module(p) for p in SOURCES} <= set(LEVELS), {_module(p) for p in SOURCES} - set(LEVELS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    source = _module(path)
    upward = [f"line {line}: {source} imports {target}" for line, target in _imports(path)
              if target in LEVELS and LEVELS[target] > LEVELS[source] and (source, target) not in ALLOWED]
    assert not upward, upward


def test_core_modules_import_no_widgets_or_matplotlib():
    for path in SOURCES:
        if _module(path) in ("plots", "dashboards", "bench", "bench_pruning", "bench_distillation"):
            continue
        text = path.read_text()
        assert "import ipywidgets" not in text and "import matplotlib" not in text, path
