"""Cross-validation, grid and random search, and the tune command."""

import json

import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import kfold, synthetic
from mfrec.evaluation import SEARCH_SPACES, clone, cross_validate, grid_search, random_search
from mfrec.exceptions import ParameterError
from mfrec.models import MODELS, Biases, MatrixFactorization


@pytest.fixture(scope="module")
def splits():
    return list(kfold(synthetic(400, 150, 8_000, seed=9), 2, seed=0))


def test_clone_copies_parameters_not_state(planted):
    model = MatrixFactorization(n_factors=3, n_epochs=2).fit(planted)
    copy = clone(model, n_epochs=5)
    assert copy.get_params() == {**model.get_params(), "n_epochs": 5}
    assert not hasattr(copy, "user_factors_")


def test_cross_validate_scores_every_fold(splits):
    result = cross_validate(Biases(), splits)
    assert result["folds"] == 2 and len(result["per_fold"]) == 2 and result["rmse"] > 0


def test_grid_search_finds_the_best_of_the_grid(splits):
    grid = {"user_bias_regularization": [0.0, 10.0], "item_bias_regularization": [0.0, 10.0]}
    result = grid_search("baseline", grid, splits, n_jobs=1)
    assert len(result.candidates) == 4
    assert result.best_score == min(c["score"] for c in result.candidates)
    best = [c for c in result.candidates if c["score"] == result.best_score][0]
    assert best["params"] == result.best_params


def test_random_search_starts_from_the_defaults_and_stops_on_count(splits):
    result = random_search("baseline", None, splits, max_candidates=3, n_jobs=2, seed=1)
    assert len(result.candidates) == 3 and {} in [c["params"] for c in result.candidates]
    defaults = [c["score"] for c in result.candidates if c["params"] == {}][0]
    assert result.best_score <= defaults


def test_a_ranking_metric_is_maximised(splits):
    result = grid_search("popularity", {"damping": [0.0, 5.0]}, splits, metric="ndcg@10", n_jobs=1)
    assert result.best_score == max(c["score"] for c in result.candidates)


def test_every_model_has_a_search_space():
    assert set(SEARCH_SPACES) >= set(MODELS) - {"global-mean"}
    for name, space in SEARCH_SPACES.items():
        accepted = set(MODELS[name].param_names())
        assert set(space) <= accepted, name


def test_unknown_model_in_a_search(splits):
    with pytest.raises(ParameterError, match="unknown model"):
        random_search("nope", None, splits, max_candidates=1)


def test_tune_writes_parameters_that_train_reads(tmp_path):
    data = tmp_path / "r.csv"
    synthetic(300, 100, 5_000, seed=2).to_frame().to_csv(data, index=False)
    runner = CliRunner()
    best = tmp_path / "best.json"
    result = runner.invoke(
        app,
        [
            "tune",
            str(data),
            "-m",
            "baseline",
            "--folds",
            "2",
            "--max-candidates",
            "3",
            "--jobs",
            "1",
            "-o",
            str(best),
            "-q",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(best.read_text())
    assert saved["model"] == "baseline" and saved["metric"] == "rmse" and len(saved["candidates"]) == 3
    trained = runner.invoke(
        app,
        ["train", str(data), "-m", "baseline", "--params", str(best), "-o", str(tmp_path / "m"), "--json", "-q"],
        catch_exceptions=False,
    )
    used = json.loads(trained.stdout)["params"]
    assert all(used[name] == value for name, value in saved["params"].items())


def test_tune_on_one_split_claims_no_spread_and_its_bar_knows_the_count(tmp_path):
    """A std over one split is undefined, not 0.0000; with --max-candidates the bar reads 3/3, never 3/?."""
    data = tmp_path / "r.csv"
    synthetic(300, 100, 5_000, seed=2).to_frame().to_csv(data, index=False)
    best = tmp_path / "best.json"
    args = ["tune", str(data), "-m", "baseline", "--protocol", "holdout", "--max-candidates", "3", "--jobs", "1"]
    result = CliRunner().invoke(app, [*args, "-o", str(best)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "(1 split) over 3 candidates" in result.stdout and "±" not in result.stdout
    assert "3/3" in result.stderr and "?" not in result.stderr
    saved = json.loads(best.read_text())
    assert saved["folds"] == 1 and saved["best_std"] is None and all(c["std"] is None for c in saved["candidates"])


def test_the_progress_bar_counts_without_a_total_and_takes_one_late(monkeypatch):
    import io

    from rich.console import Console

    from mfrec.cli import common

    def shown(total, *advances):
        console = Console(file=io.StringIO(), width=100)
        monkeypatch.setattr(common, "stderr", console)
        with common.progress_bar(False, "work", total) as advance:
            for kwargs in advances:
                advance(**kwargs)
        return console.file.getvalue()

    assert "3/3" in shown(3, {}, {}, {})
    counted = shown(None, {}, {}, {})
    assert " 3 " in counted and "?" not in counted
    assert "3/5" in shown(None, {"total": 5}, {}, {})


def test_local_candidates_stay_inside_the_space():
    import numpy as np

    from mfrec.evaluation.selection import _near

    space = SEARCH_SPACES["sgd"]
    rng = np.random.default_rng(0)
    best = {
        "n_factors": 192,
        "n_epochs": 199,
        "learning_rate": 0.0119,
        "user_regularization": 0.06,
        "item_regularization": 0.09,
        "bias_regularization": 0.1,
        "bias_learning_rate": 0.007,
        "lr_decay": 1.0,
        "init_std": 0.02,
    }
    for _ in range(200):
        candidate = _near(space, best, rng)
        for name, spec in space.items():
            if isinstance(spec, tuple):
                assert spec[0] <= candidate[name] <= spec[1], name
            else:
                assert candidate[name] in spec, name
    nearby = [_near(space, best, rng)["learning_rate"] for _ in range(200)]
    assert np.median(np.abs(np.log(np.array(nearby) / 0.0119))) < 0.3  # close to the best, not uniform


def test_tune_ranks_implicit_models_on_ndcg(tmp_path):
    """Regression: the second candidate of a ranking model crashed with KeyError 'rmse'."""
    data = tmp_path / "r.csv"
    synthetic(300, 100, 5_000, seed=2).to_frame().to_csv(data, index=False)
    best = tmp_path / "best.json"
    result = CliRunner().invoke(
        app,
        ["tune", str(data), "-m", "bpr", "--folds", "2", "--max-candidates", "3", "--jobs", "1", "-o", str(best), "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(best.read_text())
    assert saved["metric"] == "ndcg@10" and len(saved["candidates"]) == 3
    assert all("rmse" not in c and 0 <= c["score"] <= 1 for c in saved["candidates"])
    assert saved["best_score"] == max(c["score"] for c in saved["candidates"])


def test_a_search_runs_from_a_script_without_a_main_guard(tmp_path):
    """Workers must not re-run an unguarded script (each would start its own search and fail)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from mfrec.data import kfold, synthetic\n"
        "from mfrec.evaluation import grid_search\n"
        "print('script body ran')\n"
        "splits = list(kfold(synthetic(200, 60, 3_000, seed=1), 2, seed=0))\n"
        "result = grid_search('baseline', {'user_bias_regularization': [1.0, 5.0]}, splits, n_jobs=2)\n"
        "print('candidates', len(result.candidates))\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": src},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body ran") == 1 and "candidates 2" in done.stdout
    assert "RuntimeError" not in done.stderr
