"""Tests import a benchmark script (``benchmarks/...``) as a module, the way it runs: its folder on the path and
its own name as ``sys.argv``, so its argument parsing and ``_common`` import behave."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(monkeypatch: pytest.MonkeyPatch, relative: str, name: str) -> ModuleType:
    """``benchmarks/<relative>`` executed as module ``name`` (path and argv restored by ``monkeypatch``)."""
    path = BENCHMARKS / relative
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(sys, "argv", [path.name])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
