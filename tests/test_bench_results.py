"""Benchmarks write to a run folder; RESULTS.md changes only with --update-results (issue 12 #13)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _common(monkeypatch, tmp_path, argv):
    monkeypatch.setattr(sys, "argv", argv)
    spec = importlib.util.spec_from_file_location("bench_common_under_test", BENCHMARKS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "RESULTS.md")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs")
    return module


def test_a_benchmark_run_leaves_results_md_alone(monkeypatch, tmp_path):
    common = _common(monkeypatch, tmp_path, ["bench_coldstart.py", "--ml100k", "x"])
    (tmp_path / "RESULTS.md").write_text(
        "# Benchmark results\n<!-- coldstart:start -->\nOLD FIGURES\n<!-- coldstart:end -->\n"
    )
    run = common.write_section("coldstart", "new figures")
    assert (run / "section.md").read_text() == "new figures\n" and run.parent == tmp_path / "runs"
    assert (
        "OLD FIGURES" in (tmp_path / "RESULTS.md").read_text()
        and "new figures" not in (tmp_path / "RESULTS.md").read_text()
    )


def test_update_results_flag_rewrites_the_section_and_is_hidden_from_the_script(monkeypatch, tmp_path):
    common = _common(monkeypatch, tmp_path, ["bench_coldstart.py", "--update-results", "--ml100k", "x"])
    assert common.UPDATE_RESULTS and sys.argv == ["bench_coldstart.py", "--ml100k", "x"]  # argparse never sees it
    (tmp_path / "RESULTS.md").write_text(
        "# Benchmark results\n<!-- coldstart:start -->\nOLD FIGURES\n<!-- coldstart:end -->\n"
    )
    common.write_section("coldstart", "new figures")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "new figures" in text and "OLD FIGURES" not in text


def test_bench_coldstart_documents_the_flag():
    usage = (BENCHMARKS / "bench_coldstart.py").read_text().split('"""')[1]
    assert "--update-results" in usage and "benchmarks/runs/" in usage
