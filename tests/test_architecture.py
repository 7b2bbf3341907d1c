"""Layering rules: models do not reach up into evaluation / CLI / report; callers use the public model API."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mfrec"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((SRC / "models").glob("*.py")), ids=lambda p: p.name)
def test_models_do_not_import_evaluation_cli_or_report(path):
    forbidden = ("mfrec.evaluation", "mfrec.cli", "mfrec.report", "mfrec.plot")
    bad = sorted(name for name in _imports(path) if name.startswith(forbidden))
    assert not bad, f"{path.name} imports {bad}: models must not depend on the layers that use them"


CALLERS = sorted(
    [*(SRC / "evaluation").glob("*.py"), *(SRC / "cli").glob("*.py"), SRC / "report.py", SRC / "model_report.py"]
)


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_evaluation_and_cli_use_only_public_model_api(path):
    tree = ast.parse(path.read_text())
    private = sorted(
        {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
        }
    )
    assert not private, f"{path.name} reaches into private attributes {private}; use mfrec.ranking or public methods"


def test_no_source_file_is_too_long():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"files over 400 lines: {long}"
