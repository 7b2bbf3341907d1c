"""``mfrec report MODEL_DIR``: a saved model folder alone gives a page of its own (issue 13)."""

import base64
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import random_split, synthetic
from mfrec.exceptions import DataError
from mfrec.models import BPR, GlobalMean, MatrixFactorization, Popularity
from mfrec.reports.model import history_chart, recommendation_popularity
from mfrec.reports.run import build_report


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    train, valid = random_split(synthetic(300, 120, 6_000, seed=3), 0.2, seed=0)
    MatrixFactorization(n_factors=6, n_epochs=4).fit(train, validation=valid).save(folder / "sgd")
    BPR(n_factors=6, n_epochs=3).fit(train).save(folder / "bpr")
    Popularity().fit(train).save(folder / "popularity")
    return folder


def _images(page):
    return [base64.b64decode(i) for i in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_a_model_folder_gets_its_own_report(saved):
    page = build_report(saved / "sgd")
    for section in (
        "Model",
        "Hyper-parameters",
        "Learning curve",
        "Factors",
        "Item embeddings",
        "Popularity of recommendations",
    ):
        assert f"<h2>{section}</h2>" in page
    images = _images(page)
    assert len(images) == 4 and all(png[:4] == b"\x89PNG" for png in images)
    assert "<th>n_factors</th><td>6</td>" in page and "<th>model</th><td>MatrixFactorization</td>" in page
    assert "http" not in page  # self-contained


def test_models_without_factors_or_rating_history_still_report(saved):
    page = build_report(saved / "popularity")
    assert "<h2>Factors</h2>" not in page and "<h2>Popularity of recommendations</h2>" in page
    GlobalMean().fit(synthetic(100, 50, 1_000, seed=1)).save(saved / "mean")
    mean = build_report(saved / "mean")  # no factors, no history: model facts and recommendations only
    assert "<h2>Learning curve</h2>" not in mean and "<h2>Popularity of recommendations</h2>" in mean
    assert history_chart([{"epoch": 1, "seconds": 0.1}]) is None
    bpr = build_report(saved / "bpr")
    assert "<h2>Learning curve</h2>" in bpr and "<h2>Factors</h2>" in bpr  # BPR records train_auc, not RMSE


def test_recommendation_popularity_of_the_popularity_baseline(saved):
    from mfrec.models.persistence import load_model

    model = load_model(saved / "popularity")
    summary = recommendation_popularity(model, 10)
    assert summary["users"] == len(model.user_map_)
    counts = summary["item_counts"]
    lists = summary["recommended"].reshape(summary["users"], 10)
    for user in (0, 7, 42):  # the popularity baseline recommends the most popular items the user has not seen
        seen = model.seen_indices_[model.seen_indptr_[user] : model.seen_indptr_[user + 1]]
        unseen = np.setdiff1d(np.arange(len(counts)), seen)
        assert np.array_equal(np.sort(counts[lists[user]]), np.sort(counts[unseen])[-10:])
    assert summary["coverage"] == np.unique(lists).size / len(counts)
    assert summary["top10_share"] == np.isin(lists, np.argsort(-counts, kind="stable")[:12]).mean()


def test_report_command_on_a_model_folder_and_on_neither(saved, tmp_path):
    runner = CliRunner()
    out = tmp_path / "m.html"
    result = runner.invoke(
        app,
        ["report", str(saved / "sgd"), "-o", str(out), "--images", str(tmp_path / "img"), "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == [
        "factors.png",
        "item-embeddings.png",
        "learning-curve.png",
        "popularity-of-recommendations.png",
    ]
    failed = runner.invoke(app, ["report", str(tmp_path), "-q"])
    assert failed.exit_code == 2 and "nor a saved model" in failed.stderr
    with pytest.raises(DataError, match="is not a run folder"):
        build_report(tmp_path)
