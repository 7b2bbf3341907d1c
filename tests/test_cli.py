"""The command line: each command end to end, JSON output, and one-line errors with exit code 2."""

import json
import re
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import movielens, synthetic

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    synthetic(300, 120, 6_000, seed=5).to_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(ratings_csv, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "m"
    result = run("train", ratings_csv, "--factors", 8, "--epochs", 5, "--seed", 1, "-o", folder, "--quiet")
    assert result.exit_code == 0, result.output
    return folder


def test_train_json_summary(ratings_csv, tmp_path):
    result = run("train", ratings_csv, "-k", 4, "--epochs", 3, "-o", tmp_path / "m", "--json", "--quiet")
    summary = json.loads(result.stdout)
    assert summary["params"]["n_factors"] == 4 and summary["ratings"] == 6_000
    assert len(summary["epoch_seconds"]) == 3 and (tmp_path / "m" / "model.json").is_file()


def test_train_other_models_and_param_pairs(ratings_csv, tmp_path):
    assert run("train", ratings_csv, "--model", "popularity", "-o", tmp_path / "p", "-q").exit_code == 0
    result = run(
        "train",
        ratings_csv,
        "-m",
        "baseline",
        "-p",
        "item_bias_regularization=7.5",
        "-o",
        tmp_path / "b",
        "--json",
        "-q",
    )
    assert json.loads(result.stdout)["params"]["item_bias_regularization"] == 7.5
    params = tmp_path / "best.json"
    params.write_text(json.dumps({"params": {"n_factors": 3, "n_epochs": 2}}))
    result = run("train", ratings_csv, "--params", params, "-o", tmp_path / "s", "--json", "-q")
    assert json.loads(result.stdout)["params"]["n_factors"] == 3


def test_recommend_and_similar(model_dir):
    result = run("recommend", model_dir, "--user", 1, "--user", 2, "-n", 4, "--json")
    recs = json.loads(result.stdout)["recommendations"]
    assert [r["rank"] for r in recs] == [1, 2, 3, 4] * 2 and {r["user"] for r in recs} == {1, 2}
    result = run("similar", model_dir, "--item", 3, "-n", 2, "--json")
    assert len(json.loads(result.stdout)["similar"]) == 2
    assert "rank" in run("recommend", model_dir, "-u", 1).stdout


def test_predict_gives_the_models_ratings_and_flags_the_fallback(model_dir):
    from mfrec.models.persistence import load_model

    model = load_model(model_dir)
    result = run("predict", model_dir, "--user", 1, "--item", 3, "-i", 4, "-i", "nothing", "--json")
    rows = json.loads(result.stdout)["predictions"]
    assert [r["fallback"] for r in rows] == [False, False, True]
    expected = model.predict([1, 1, 1], [3, 4, "nothing"])
    assert [r["prediction"] for r in rows] == pytest.approx(expected.tolist(), abs=1e-5)
    assert "average known user" in run("predict", model_dir, "-u", "ghost", "-i", 3).stdout
    refused = run("predict", model_dir, "-u", "ghost", "-i", 3, "--unknown", "error")
    assert refused.exit_code == 2 and "'ghost' is not known" in refused.output


def test_recommend_table_says_when_the_scores_are_not_in_rank_order(model_dir, ratings_csv, tmp_path):
    note = "ranked by how likely they are to pick it"
    assert note in " ".join(run("recommend", model_dir, "-u", 1).stdout.split())  # pick x like, the default
    by_rating = tmp_path / "by-rating"
    assert (
        run("train", ratings_csv, "-k", 4, "--epochs", 3, "-p", "rank_by=rating", "-o", by_rating, "-q").exit_code == 0
    )
    plain = run("recommend", by_rating, "-u", 1).stdout
    assert "rank" in plain and note not in " ".join(plain.split())
    assert note not in run("recommend", model_dir, "-u", 1, "--json").stdout  # JSON stays JSON


def test_evaluate_json_has_model_and_baselines(ratings_csv):
    result = run("evaluate", ratings_csv, "--protocol", "holdout", "-k", 4, "--epochs", 5, "--json", "--quiet")
    payload = json.loads(result.stdout)
    for key in ("rmse", "mae", "ndcg@10", "precision@10", "recall@10"):
        assert 0 <= payload[key] < 5
    assert payload["baseline"]["model"] == "baseline" and "rmse" in payload["baseline"]
    assert set(payload["baselines"]) == {"baseline", "popularity", "global-mean"}


def test_evaluate_saves_a_run_that_report_reads(ratings_csv, tmp_path):
    result = run("evaluate", ratings_csv, "-m", "sgd", "--epochs", 3, "--run-dir", tmp_path / "run", "--json", "-q")
    assert "first_model" not in json.loads(result.stdout)
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(saved["results"]) == {"sgd", "baseline", "popularity", "global-mean"}
    assert saved["data_path"].endswith("ratings.csv") and len(saved["histories"]["sgd"]) == 3
    assert run("report", tmp_path / "run", "-o", tmp_path / "r.html", "-q").exit_code == 0


def test_evaluate_prints_a_table(ratings_csv):
    result = run("evaluate", ratings_csv, "--protocol", "kfold", "--folds", 2, "-m", "baseline", "-q")
    assert "RMSE" in result.stdout and "popularity" in result.stdout and "skipped" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "missing.csv", "-o", "x"], "no such file or folder: missing.csv"),
        (["train", "{csv}", "-k", "0", "-o", "x"], "n_factors must be an int >= 1, got 0"),
        (["train", "{csv}", "-m", "timesvdpp", "-o", "x"], "'svdpp'] or 'auto'"),
        (
            ["train", "{csv}", "-m", "popularity", "-k", "5", "-o", "x"],
            "model 'popularity' has no parameter n_factors (given by --factors)",
        ),
        (["train", "{csv}", "--rating-scale", "1,3", "-o", "x"], "outside the rating scale [1, 3]"),
        (["recommend", "{model}", "-u", "99999"], "user '99999' is not known"),
        (["recommend", "nowhere", "-u", "1"], "is not a saved mfrec model"),
        (["evaluate", "{csv}", "--protocol", "bogus"], "unknown protocol 'bogus'"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, message, ratings_csv, model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [a.format(csv=ratings_csv, model=model_dir) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.output and result.stderr.count("error:") == 1


def test_datasets_info_synth_and_list(tmp_path, monkeypatch):
    out = tmp_path / "s.parquet"
    assert run("datasets", "synth", "--users", 200, "--items", 50, "--ratings", 3000, "-o", out, "-q").exit_code == 0
    info = json.loads(run("datasets", "info", out, "--json").stdout)
    assert (info["users"], info["items"], info["ratings"]) == (200, 50, 3000)
    assert "long tail" in run("datasets", "info", out).stdout
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MFREC_DATA", raising=False)
    assert "ml-1m" in run("datasets", "list").stdout


def test_download_offline_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path))
    monkeypatch.setattr(movielens.urllib.request, "urlopen", _offline)
    result = runner.invoke(app, ["datasets", "download", "ml-100k", "-q"])
    assert result.exit_code == 2 and "are you offline?" in result.stderr


def _offline(*args, **kwargs):
    raise urllib.error.URLError("no network")


def test_demo_falls_back_to_synthetic_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("MFREC_DATA", raising=False)
    monkeypatch.setenv("MFREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(movielens.urllib.request, "urlopen", _offline)
    result = run("demo", "-o", tmp_path / "demo", "-q")
    assert result.exit_code == 0
    assert "synthetic movie set" in result.stdout and "Top-10 recommendations" in result.stdout
    # The list goes by pick x like, not by the rating printed beside each title: the demo says so.
    assert "ranked by how likely they are to pick it x how much they would like it" in result.stdout
    for name in ("model/model.json", "report.html", "run.json", "ratings.parquet", "items.parquet"):
        assert (tmp_path / "demo" / name).is_file()
    # The charts are the ones the README shows, under the README's names (issue 12 #11).
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    shown = set(re.findall(r"\(docs/images/([\w-]+\.png)\)", readme))
    assert len(shown) == 5 and {path.name for path in (tmp_path / "demo").glob("*.png")} == shown


@pytest.mark.realdata
def test_demo_on_movielens(ml100k_path, tmp_path):
    result = run("demo", "--data", ml100k_path, "-o", tmp_path / "demo", "-q")
    assert result.exit_code == 0 and "Using MovieLens 100k" in result.stdout


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "mfrec", "--help"], capture_output=True, text=True, check=True)
    assert "evaluate" in result.stdout


def test_evaluate_splits_rating_metrics_into_warm_and_cold(tmp_path):
    """A time-ordered split tests many users unseen in train: their rows are reported apart."""
    frame = synthetic(300, 120, 6_000, seed=5).to_frame()
    late = frame["user"].isin(frame["user"].unique()[:60])  # these users only appear at the end of the log
    frame.loc[late, "timestamp"] += frame["timestamp"].max()
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    result = run("evaluate", path, "--protocol", "temporal", "-m", "baseline", "--json", "-q")
    payload = json.loads(result.stdout)
    assert payload["ratings_warm"] > 0 and payload["ratings_cold"] > 0
    assert payload["ratings_warm"] + payload["ratings_cold"] == round(0.2 * len(frame))
    overall = payload["rmse"] ** 2 * (payload["ratings_warm"] + payload["ratings_cold"])
    parts = payload["rmse_warm"] ** 2 * payload["ratings_warm"] + payload["rmse_cold"] ** 2 * payload["ratings_cold"]
    assert abs(overall - parts) < 1e-6 * overall
    table = run("evaluate", path, "--protocol", "temporal", "-m", "baseline", "-q").stdout
    assert "warm n" in table and "cold n" in table and f"{payload['ratings_cold']:,}" in table


def test_cli_errors_name_flags_not_python_arguments(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("person,thing,stars\n1,2,3\n2,1,4\n")
    result = runner.invoke(app, ["train", str(path), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "--user-col NAME" in result.stderr and "user_col=" not in result.stderr


def test_unknown_user_error_mentions_the_fallback_flag(model_dir):
    result = runner.invoke(app, ["recommend", str(model_dir), "-u", "99999"])
    assert result.exit_code == 2 and "--unknown fallback" in result.stderr.replace("\n", " ")


def test_tune_help_describes_the_search_it_runs():
    text = run("tune", "--help").stdout.replace("\n", " ")
    text = " ".join(text.split())
    assert "Random search" not in text and "TPE" in text and "selection scores" in text
