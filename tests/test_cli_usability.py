"""What a new user trips over on the command line: reading errors, encodings, formats, dataset names."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mfrec.cli import app

runner = CliRunner()


def run(*args, **env):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env or None)


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output, result.stderr
    return lines[0]


# ------------------------------------------------------------------ issue 11 #11: reading failures


def test_ragged_csv_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("user,item,rating\n1,2,3\n2,3,4\n3,4,5,6\n")
    line = _one_line_error(run("datasets", "info", path))
    assert "ragged.csv: line 4 has 4 fields" in line and "--sep SEP" in line


def test_latin1_file_warns_in_one_line_and_encoding_flag_reads_it(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("user,item,rating\nJosé,Café,3\nZoë,Crème,4\n".encode("latin-1"))
    result = run("datasets", "info", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ratings"] == 2
    assert "warning: " in result.stderr and "line 2 is not UTF-8" in result.stderr and "--encoding" in result.stderr
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr
    assert run("datasets", "info", path, "--encoding", "latin-1", "--json").stderr == ""
    line = _one_line_error(run("datasets", "info", path, "--encoding", "utf-8"))
    assert "latin.csv: line 2 is not valid utf-8; pass --encoding latin-1" in line


# ------------------------------------------------------------------ issue 12 #4: synth writes what the suffix says


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_synth_writes_the_format_its_suffix_names(tmp_path, suffix):
    path = tmp_path / f"small{suffix}"
    assert run("datasets", "synth", "--users", 50, "--items", 30, "--ratings", 500, "-o", path, "-q").exit_code == 0
    head = path.read_bytes()[:40]
    if suffix == ".parquet":
        assert head.startswith(b"PAR1")
    else:
        assert head.decode().startswith("user,item,rating,timestamp" if suffix == ".csv" else "user\titem\trating")
    info = run("datasets", "info", path, "--json")
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["ratings"] == 500


def test_synth_refuses_an_unknown_suffix_before_writing(tmp_path):
    line = _one_line_error(run("datasets", "synth", "--users", 50, "--items", 30, "--ratings", 500,
                               "-o", tmp_path / "small.xlsx", "-q"))  # fmt: skip
    assert "'small.xlsx'" in line and ".csv" in line and not (tmp_path / "small.xlsx").exists()


# ------------------------------------------------------------------ issue 12 #5: --rating-col none


def test_rating_col_none_reads_a_two_column_log(tmp_path):
    path = tmp_path / "plays.csv"
    path.write_text("user,item\n" + "".join(f"{u},{i}\n" for u in range(1, 21) for i in range(1, 11) if (u + i) % 3))
    line = _one_line_error(run("datasets", "info", path))
    assert "missing column 'rating'" in line and "--rating-col none" in line
    result = run("datasets", "info", path, "--rating-col", "none", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["users"] == 20  # the header row is not a user
    trained = run("train", path, "--rating-col", "none", "-m", "bpr", "--epochs", 2, "-o", tmp_path / "m", "-q", "--json")
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["ratings"] == len(path.read_text().splitlines()) - 1


# ------------------------------------------------------------------ issue 12 #6: dataset names


@pytest.mark.realdata
def test_dataset_name_works_for_info_train_and_evaluate(ml100k_path, tmp_path):
    env = {"MFREC_DATA": str(ml100k_path.parent)}
    info = run("datasets", "info", "ml-100k", "--json", **env)
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["ratings"] == 100_000
    trained = run("train", "ml-100k", "-m", "baseline", "-o", tmp_path / "m", "-q", "--json", **env)
    assert trained.exit_code == 0 and json.loads(trained.stdout)["ratings"] == 100_000, trained.output
    evaluated = run("evaluate", "ml-100k", "--protocol", "ml100k-ua", "-m", "baseline", "--no-baselines", "--json", **env)
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["rmse"] < 1.0
    line = _one_line_error(run("datasets", "info", "ml-100x", **env))
    assert "no such file or folder: ml-100x" in line and "ml-100k" in line
