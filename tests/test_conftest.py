"""The real-data fixture: honours MFREC_DATA, skips with a reason locally, fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA_TEST = "tests/test_split.py::test_ml100k_predefined_folds"


def _run_realdata_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in ("CI", "MFREC_DATA")}
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", REAL_DATA_TEST, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_missing_data_is_a_clear_skip_outside_ci(tmp_path):
    result = _run_realdata_test(tmp_path, MFREC_DATA=str(tmp_path / "nowhere"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "MovieLens 100k not found at" in result.stdout and "nowhere" in result.stdout


def test_missing_data_fails_under_ci(tmp_path):
    result = _run_realdata_test(tmp_path, MFREC_DATA=str(tmp_path / "nowhere"), CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI=true and the real-data tests cannot run" in result.stdout


def test_mfrec_data_is_where_the_real_data_tests_look(tmp_path):
    from conftest import ml100k_folder

    shared = REPO_ROOT.parent / "shared" / "data"
    if not (shared / "ml-100k" / "u.data").is_file():
        pytest.skip(f"MovieLens 100k not at {shared}")
    (tmp_path / "elsewhere").symlink_to(shared)
    assert ml100k_folder(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "ml-100k"
    assert ml100k_folder(shared / "ml-100k") == shared / "ml-100k"  # MFREC_DATA may name the folder itself
    result = _run_realdata_test(tmp_path, MFREC_DATA=str(tmp_path / "elsewhere"), CI="true")
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
