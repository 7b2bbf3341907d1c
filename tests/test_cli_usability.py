"""What a new user trips over on the command line: reading errors, encodings, formats, dataset names."""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import synthetic

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
    line = _one_line_error(
        run("datasets", "synth", "--users", 50, "--items", 30, "--ratings", 500, "-o", tmp_path / "small.xlsx", "-q")
    )
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
    trained = run(
        "train", path, "--rating-col", "none", "-m", "bpr", "--epochs", 2, "-o", tmp_path / "m", "-q", "--json"
    )
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
    evaluated = run(
        "evaluate", "ml-100k", "--protocol", "ml100k-ua", "-m", "baseline", "--no-baselines", "--json", **env
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["rmse"] < 1.0
    line = _one_line_error(run("datasets", "info", "ml-100x", **env))
    assert "no such file or folder: ml-100x" in line and "ml-100k" in line


# ------------------------------------------------------------------ issue 12 #14: --version, 80-column tables


def test_version():
    from mfrec import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"mfrec {__version__}"


def test_recommend_and_explain_tables_fit_80_columns(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from mfrec.models import MatrixFactorization

    rng = np.random.default_rng(0)
    titles = [f"A Rather Long Film Title Number {i}, The Director's Cut ({1950 + i})" for i in range(40)]
    users = rng.integers(0, 30, 600)
    frame = pd.DataFrame({"user": users, "item": rng.choice(titles, 600), "rating": rng.integers(1, 6, 600)})
    frame = frame.drop_duplicates(["user", "item"])
    MatrixFactorization(n_factors=4, n_epochs=5, random_state=0).fit(frame).save(tmp_path / "m")
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "mfrec", "recommend", str(tmp_path / "m"), "-u", "3", "-n", "4", "--explain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80, "\n" + result.stdout
    header = next(line for line in lines if "rank" in line)
    assert header.split() == ["user", "rank", "item", "score", "score_kind", "source", "because"]
    assert sum(line.split()[1:2] in (["1"], ["2"], ["3"], ["4"]) for line in lines if line.strip()) == 4


# ------------------------------------------------------------------ issue 12 #10: cold-start progress has a total


def test_cold_start_progress_counts_to_a_known_total(tmp_path):
    from mfrec.data import synthetic
    from mfrec.evaluation.coldstart import cold_start_curve
    from mfrec.models import Biases

    calls = []
    curve = cold_start_curve(
        synthetic(300, 80, 9_000, seed=0),
        Biases,
        n_users=20,
        revealed=(0, 2, 5),
        progress=lambda done, total, note: calls.append((done, total, note)),
    )
    # 1 base fit + 3 methods (no side-info: no attributes) x 3 points + 2 retrains (none at 0), one by one.
    assert [done for done, _, _ in calls] == list(range(1, 13)) and {total for _, total, _ in calls} == {12}
    assert len(curve) == 9 and calls[-1][2] == "retrain at 5 revealed"
    path = tmp_path / "r.csv"
    synthetic(300, 80, 9_000, seed=0).to_frame().to_csv(path, index=False)
    result = run("evaluate", path, "--protocol", "cold-start", "-m", "baseline", "--cold-users", 20)
    assert result.exit_code == 0, result.output
    # Default points 0, 1, 3, 5, 10, 20: 1 + 3 x 6 + 5 steps.
    assert "cold-start curve" in result.stderr and "24/24" in result.stderr and "/?" not in result.stderr


# ------------------------------------------------------------------ issue 12 #9: compiling is said, and not timed


def test_compile_notice_speaks_once_and_only_for_a_real_compile():
    from numba import njit

    from mfrec.cli.compile import NOTICE, compile_notice

    said = []

    @njit  # no disk cache: this compiles on its first call in every process
    def double(x):
        return 2 * x

    with compile_notice(said.append) as listener:
        double(1)
        double(2.5)  # a second signature: compiled too, but said only once
        double(3)
    assert said == [NOTICE] and listener.compiled == 2
    with compile_notice(said.append) as listener:
        double(4)  # already compiled: silent
    assert said == [NOTICE] and listener.compiled == 0


def test_library_compilations_of_mfrec_kernels_are_logged_on_the_mfrec_logger(caplog):
    """In library use a first fit / partial_fit compiled for seconds with no word; now it logs (no print)."""
    import logging

    from numba import njit

    import mfrec.kernels  # noqa: F401  (importing the kernels registers the listener)

    def triple(x):
        return 3 * x

    # Stands for a kernel that is not in the disk cache yet.
    triple.__module__, triple.__qualname__ = "mfrec.kernels.example", "triple"

    def other(x):
        return 4 * x

    kernel, foreign = njit(triple), njit(other)  # no disk cache: each compiles on its first call in every process
    with caplog.at_level(logging.INFO, logger="mfrec"):
        kernel(1)
        kernel(2)  # compiled already: nothing to say
        foreign(1)  # not an mfrec kernel: not ours to report
    messages = [r.getMessage() for r in caplog.records if r.name == "mfrec"]
    assert messages == [
        "compiling numba kernel mfrec.kernels.example.triple (first use after an install only: cached on disk after)"
    ]
    assert caplog.records[0].levelno == logging.INFO


def test_warm_up_leaves_nothing_to_compile_in_the_timed_fit(planted):
    from mfrec.cli.compile import compile_notice, warm_up
    from mfrec.models import ALS, MatrixFactorization

    for model in (MatrixFactorization(n_factors=8, n_epochs=2), ALS(n_factors=8, n_epochs=2, solver="cg")):
        warm_up([model])
        assert not hasattr(model, "user_factors_")  # a copy was fitted, not the model
        with compile_notice(lambda text: None) as listener:
            model.fit(planted)
        assert listener.compiled == 0, type(model).__name__


_NEW_KERNEL_TYPES_AFTER_WARM_UP = """
import importlib, json, pkgutil, sys
from numba.core.registry import CPUDispatcher
import mfrec.kernels
from mfrec.cli.compile import warm_up
from mfrec.data import random_split, synthetic
from mfrec.models import make_model

def kernel_types():
    found = set()
    for info in pkgutil.iter_modules(mfrec.kernels.__path__):
        module = importlib.import_module("mfrec.kernels." + info.name)
        for name, kernel in vars(module).items():
            if isinstance(kernel, CPUDispatcher):
                found |= {f"{module.__name__}.{name}{signature}" for signature in kernel.signatures}
    return found

train, test = random_split(synthetic(300, 200, 9_000, seed=0), 0.2, seed=0)
new = {}
for name in sys.argv[1:]:
    demo = name == "sgd"  # fitted as the demo fits it: per-epoch validation RMSE and NDCG@10
    warm_up([make_model(name)], validation=demo, track_ndcg=10 if demo else None)
    before = kernel_types()
    model = make_model(name).fit(train, **({"validation": test, "track_ndcg": 10} if demo else {}))
    model.recommend(train.user_ids.ids, n=10)
    new[name] = sorted(kernel_types() - before)
print(json.dumps(new))
"""


def test_warm_up_calls_every_kernel_type_the_fit_and_a_batch_recommend_call():
    """In a fresh process (kernels come from the disk cache, so this is quick) the warm-up must reach every
    kernel, with the argument types, that the real fit and a many-user ``recommend`` call: one it misses
    compiles inside the timed fit on a first run after an install (the demo's sgd once showed 4.4 s, not 1.9)."""
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    done = subprocess.run(
        [sys.executable, "-c", _NEW_KERNEL_TYPES_AFTER_WARM_UP, "sgd", "als", "bpr", "implicit-als"],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    new = json.loads(done.stdout.strip().splitlines()[-1])
    assert new == {"sgd": [], "als": [], "bpr": [], "implicit-als": []}


def test_warm_up_skips_what_the_tiny_set_cannot_take():
    from mfrec.cli.compile import warm_up
    from mfrec.models import TruncatedSVD

    warm_up([TruncatedSVD(n_factors=200)])  # more factors than the tiny set's items: skipped, not an error


@pytest.mark.parametrize(
    "args,expected",
    [
        (["trian"], "error: No such command 'trian'. Did you mean 'train'? (see 'mfrec --help')"),
        (["train", "r.csv", "-o", "m", "--factor", "8"], "error: No such option: --factor"),
        (["recommend", "m", "-n", "ten"], "error: Invalid value for '--n' / '-n'"),
        (["recommend"], "error: Missing argument 'MODEL_DIR'. (see 'mfrec recommend --help')"),
    ],
)
def test_usage_mistakes_are_one_error_line_and_exit_2(args, expected):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "mfrec", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(expected)


def test_mfrec_alone_still_prints_its_help():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    result = subprocess.run([sys.executable, "-m", "mfrec"], env=env, capture_output=True, text=True, timeout=120)
    assert "Usage: mfrec [OPTIONS] COMMAND [ARGS]..." in result.stdout and result.stderr == ""


# ------------------------------------------------------------------ from the README walk of 2026-11-24


def test_train_says_how_long_it_trained_not_how_long_it_saved(tmp_path):
    path = tmp_path / "r.csv"
    synthetic(200, 80, 3_000, seed=1).to_frame().to_csv(path, index=False)
    result = run("train", path, "--model", "baseline", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert re.search(r"trained baseline in \d+\.\d\d s; saved to .*m", result.stdout), result.stdout


def test_evaluate_on_one_split_does_not_say_split_s(tmp_path):
    path = tmp_path / "r.csv"
    synthetic(200, 80, 3_000, seed=1).to_frame().to_csv(path, index=False)
    one = run("evaluate", path, "--protocol", "holdout", "-m", "baseline", "-q").stdout
    assert "(1 split)" in one and "split(s)" not in one
    folds = run("evaluate", path, "--protocol", "kfold", "--folds", "3", "-m", "baseline", "-q").stdout
    assert "(3 splits, mean)" in folds


def test_the_demo_says_compiling_kernels_once(tmp_path, monkeypatch):
    """The demo warms its model and the baselines up; a first run said "compiling kernels" twice."""
    from contextlib import contextmanager

    import mfrec.cli.compile as compile_module
    from mfrec.data import movielens

    @contextmanager
    def always_compiles(say):  # as on a first run: every warm-up compiles
        say(compile_module.NOTICE)
        yield

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(compile_module, "compile_notice", always_compiles)
    monkeypatch.setattr(compile_module, "warm_up", lambda models, **options: None)
    monkeypatch.delenv("MFREC_DATA", raising=False)
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(movielens.urllib.request, "urlopen", offline)
    result = run("demo", "-o", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("compiling kernels") == 1


def test_evaluate_says_in_one_line_whether_the_model_beats_the_best_baseline(tmp_path):
    path = tmp_path / "r.csv"
    synthetic(300, 100, 6_000, seed=2).to_frame().to_csv(path, index=False)
    command = ("evaluate", path, "--protocol", "holdout", "-m", "sgd", "-p", "n_epochs=3", "-q")
    out = run(*command).stdout
    payload = json.loads(run(*command, "--json").stdout)
    rmse = {name: r["rmse"] for name, r in payload["baselines"].items()}
    best = min(rmse, key=rmse.get)
    gap = payload["rmse"] - rmse[best]
    side, word = ("below", "better") if gap < 0 else ("above", "worse")
    assert f"sgd: RMSE {abs(gap):.4f} {side} {best} ({word}); NDCG@10 " in out, out


def test_a_user_who_rated_everything_is_told_why_the_list_is_empty(tmp_path):
    frame = synthetic(60, 20, 400, seed=3).to_frame()
    everything = frame.drop_duplicates("item").assign(user=999_999)  # one user who rated every item
    path = tmp_path / "r.csv"
    pd.concat([frame, everything]).to_csv(path, index=False)
    assert run("train", path, "--model", "baseline", "-o", tmp_path / "m", "-q").exit_code == 0
    result = run("recommend", tmp_path / "m", "-u", "999999", "-u", frame["user"].iloc[0])
    assert result.exit_code == 0, result.output
    assert "user 999999 has nothing left to recommend: they rated every item" in result.stderr
    assert f"user {frame['user'].iloc[0]} has nothing" not in result.stderr


# ------------------------------------------------------------------ a date column under the user's own name


def _dated_export(tmp_path, date_name):
    """A book log as an export names it: reader ids, ISBN strings, stars 1-10 and ISO dates in ``date_name``."""
    rng = pd.Series(range(600))
    frame = pd.DataFrame(
        {
            "reader_id": [f"u-{i % 60:04d}" for i in rng],
            "isbn": [f"978{(i * 7) % 50:010d}" for i in rng],
            "stars": [1 + (i * 3) % 10 for i in rng],
            date_name: pd.date_range("2024-01-01", periods=600, freq="h").strftime("%Y-%m-%dT%H:%M:%S"),
        }
    ).drop_duplicates(["reader_id", "isbn"])
    path = tmp_path / "books.csv"
    frame.to_csv(path, index=False)
    return path, len(frame)


def test_a_date_column_is_found_by_its_usual_names_and_named_with_timestamp_col(tmp_path):
    path, rows = _dated_export(tmp_path, "rated_at")
    info = json.loads(run("datasets", "info", path, "--json").stdout)
    assert info["ratings"] == rows and info["has_timestamps"]  # reader_id, isbn, stars and rated_at: found
    path, _ = _dated_export(tmp_path, "when")
    assert not json.loads(run("datasets", "info", path, "--json").stdout)["has_timestamps"]
    named = json.loads(run("datasets", "info", path, "--timestamp-col", "when", "--json").stdout)
    assert named["has_timestamps"] and named["columns"]["timestamp"] == "when"
    # A temporal split needs the dates: found through --timestamp-col, refused in one line without it.
    assert "temporal split needs" in _one_line_error(run("evaluate", path, "--protocol", "temporal", "-q"))
    result = run("evaluate", path, "--protocol", "temporal", "--timestamp-col", "when", "-q", "--json", "-k", "3")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["protocol"] == "temporal"
    line = _one_line_error(run("datasets", "info", path, "--timestamp-col", "rated"))
    assert "rated" in line
