"""House habits (issue 13): CI runs the README's command with ruff; typed package, licence and changelog ship."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_with_ruff_before_pytest():
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert command in (ROOT / "README.md").read_text()
    steps = command.split(" && ")
    assert steps.index(".venv/bin/ruff check .") < steps.index(".venv/bin/ruff format --check .")
    assert steps.index(".venv/bin/ruff format --check .") < steps.index(".venv/bin/python -m pytest")


def test_ruff_is_configured_and_in_the_dev_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ruff = project["tool"]["ruff"]
    assert ruff["line-length"] == 120
    assert set(ruff["lint"]["select"]) >= {"E", "F", "W", "I", "B", "UP"}
    assert any(dep.startswith("ruff") for dep in project["project"]["optional-dependencies"]["dev"])


def test_typed_marker_licence_and_changelog():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / "src" / "mfrec" / "py.typed").is_file()
    assert project["project"]["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and re.search(r"^### (Added|Changed)", changelog, re.M)
