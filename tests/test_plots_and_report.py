"""Charts render to valid, non-blank PNGs of the expected size; the report has every section."""

import base64
import io
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import random_split, synthetic
from mfrec.evaluation import score
from mfrec.exceptions import DataError, ParameterError
from mfrec.models import Biases, MatrixFactorization, Popularity
from mfrec.reports import plots as plot
from mfrec.reports.run import attach_cold_start, build_report, write_run


def rendered(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pixels = mpimg.imread(io.BytesIO(buffer.getvalue()))
    return buffer.getvalue(), pixels


def assert_picture(figure, size):
    png, pixels = rendered(figure)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (pixels.shape[1], pixels.shape[0]) == size
    assert pixels[..., :3].std() > 0.05  # not blank: lines, text and points are drawn


@pytest.fixture(scope="module")
def fitted():
    data = synthetic(600, 250, 15_000, seed=4)
    genres = pd.Series(np.where(np.arange(1, 251) % 3 == 0, "Drama|War", "Comedy"), index=np.arange(1, 251))
    titles = pd.Series([f"Film {i}" for i in range(1, 251)], index=np.arange(1, 251))
    train, test = random_split(data, 0.2, seed=0)
    model = MatrixFactorization(n_factors=8, n_epochs=8).fit(train, validation=test)
    return data, train, test, model, genres, titles


def test_learning_curves(fitted):
    *_, model, _, _ = fitted
    assert_picture(plot.learning_curves({"sgd": model.history_}, baseline_rmse=0.95), (880, 550))
    with pytest.raises(ParameterError):
        plot.learning_curves({})


@pytest.mark.parametrize("name", ["sgd", "als", "nmf", "adam"])
def test_ndcg_is_tracked_per_epoch_and_plotted(name):
    from mfrec.models import make_model

    train, valid = random_split(synthetic(300, 120, 6_000, seed=1), 0.2, seed=0)
    model = make_model(name, n_factors=4, n_epochs=3).fit(train, validation=valid, track_ndcg=10)
    assert all(0.0 <= row["val_ndcg@10"] <= 1.0 for row in model.history_) and len(model.history_) >= 1
    assert_picture(plot.learning_curves({name: model.history_}, metric="ndcg@10"), (1760, 550))


def test_ndcg_panel_needs_tracking(fitted):
    *_, model, _, _ = fitted
    with pytest.raises(ParameterError, match="track_ndcg"):
        plot.learning_curves({"sgd": model.history_}, metric="ndcg@10")


def test_metric_bars_with_error_bars(fitted):
    _, train, test, model, _, _ = fitted
    results = {
        "sgd": {**score(model, train, test), "std": {"rmse": 0.01}},
        "baseline": score(Biases().fit(train), train, test),
    }
    assert_picture(plot.metric_bars(results), (1320, 440))


def test_spectrum(fitted):
    data, *_ = fitted
    assert_picture(plot.spectrum(data, n_values=30, chosen_k=8), (880, 550))


def test_embedding_map_labels_without_overlap(fitted):
    *_, model, genres, titles = fitted
    figure = plot.embedding_map(model, color_by=genres, labels=titles, n_labels=15)
    texts = [t for t in figure.axes[0].texts]
    assert 0 < len(texts) <= 15
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert {t.get_text() for t in figure.axes[0].get_legend().get_texts()} == {"Comedy", "Drama"}
    assert_picture(figure, (1100, 880))


def test_user_embedding_map(fitted):
    *_, model, _, _ = fitted
    assert_picture(plot.embedding_map(model, side="user"), (1100, 880))


def test_embedding_map_needs_factors(fitted):
    _, train, *_ = fitted
    with pytest.raises(ParameterError, match="no latent factors"):
        plot.embedding_map(Popularity().fit(train))


def test_recommended_popularity_against_the_catalogue(fitted):
    model = fitted[3]
    assert_picture(plot.recommended_popularity(model, k=5), (880, 495))


def test_report_has_every_section_and_embeds_images(fitted, tmp_path):
    data, train, test, model, *_ = fitted
    results = {"sgd": score(model, train, test), "baseline": score(Biases().fit(train), train, test)}
    write_run(tmp_path / "run", data, results, model, protocol="holdout")
    page = build_report(tmp_path / "run")
    for section in (
        "Dataset",
        "Evaluation",
        "Learning curves",
        "Model comparison",
        "Singular-value spectrum",
        "Item embeddings",
        "Recommended item popularity",
    ):
        assert f"<h2>{section}</h2>" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5 and all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert "<th>baseline</th>" in page and "http" not in page.replace("http-equiv", "")  # self-contained


def test_report_command_and_bad_folder(fitted, tmp_path):
    data, train, test, model, *_ = fitted
    write_run(tmp_path / "run", data, {"sgd": score(model, train, test)}, model, protocol="holdout")
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html"), "--images", str(tmp_path / "img"), "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and (tmp_path / "r.html").stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == [
        "item-embeddings.png",
        "learning-curves.png",
        "model-comparison.png",
        "recommended-item-popularity.png",
        "singular-value-spectrum.png",
    ]
    failed = runner.invoke(app, ["report", str(tmp_path), "-q"])
    assert failed.exit_code == 2 and "is not a run folder" in failed.stderr
    with pytest.raises(DataError):
        build_report(tmp_path)


def test_report_shows_an_attached_cold_start_curve(fitted, tmp_path):
    data, train, test, model, *_ = fitted
    with pytest.raises(DataError, match="not a run folder"):
        attach_cold_start(tmp_path / "nowhere", [], model="sgd")
    write_run(tmp_path / "run", data, {"sgd": score(model, train, test)}, model, protocol="holdout")
    curve = [
        {"method": method, "revealed": n, "rmse": 1.1 - n / 100 - offset, "ndcg@5": 0.1 + n / 100, "users": 40}
        for offset, method in ((0.0, "fold-in"), (0.05, "retrain"))
        for n in (0, 5, 20)
    ]
    attach_cold_start(tmp_path / "run", curve, model="sgd", k=5)
    page = build_report(tmp_path / "run")
    assert "<h2>Cold start</h2>" in page and len(re.findall(r'src="data:image/png', page)) == 6
    table = page[page.index('id="cold-start-table"') :]
    assert "40 users unseen" in table and "<th>0</th><th>5</th><th>20</th>" in table
    assert "<tr><th>retrain</th><td>RMSE</td><td>1.0500</td><td>1.0000</td><td>0.8500</td></tr>" in table
    assert "<tr><th>fold-in</th><td>NDCG@5</td><td>0.1000</td><td>0.1500</td><td>0.3000</td></tr>" in table


# ------------------------------------------------------------------ every chart says what it shows (issue 12 #11)


def test_learning_curves_say_which_curves_and_show_the_baseline_only_beside_validation():
    from mfrec.reports.plots import learning_curves

    trained = [{"epoch": e, "train_rmse": 1.0 / e} for e in range(1, 4)]
    alone = learning_curves({"sgd": trained}, baseline_rmse=0.94)
    ax = alone.axes[0]
    assert "without a validation set" in ax.get_title()
    assert not any("baseline" in text.get_text() for text in ax.get_legend().get_texts())
    validated = [{**row, "val_rmse": 1.1 / row["epoch"]} for row in trained]
    both = learning_curves({"sgd": validated}, baseline_rmse=0.94).axes[0]
    assert "validation" in both.get_title()
    assert any("baseline, held out (0.940)" in text.get_text() for text in both.get_legend().get_texts())


def test_metric_bars_title_says_what_the_bars_and_error_bars_are():
    from mfrec.reports.plots import metric_bars

    one = metric_bars({"sgd": {"rmse": 0.9, "mae": 0.7, "ndcg@10": 0.1}})
    assert one._suptitle.get_text() == "Held-out metrics by model (one split)"
    several = metric_bars({"sgd": {"rmse": 0.9, "mae": 0.7, "ndcg@10": 0.1, "std": {"rmse": 0.01}}})
    assert "error bars: standard deviation" in several._suptitle.get_text()


def test_report_promises_a_spread_only_when_it_shows_one():
    from mfrec.reports.run import _spread_note

    assert "no spread" in _spread_note({"sgd": {"rmse": 0.9, "folds": 1}, "baseline": {"rmse": 0.94}})
    assert _spread_note({"sgd": {"rmse": 0.9, "folds": 5, "std": {"rmse": 0.01}}}) == (
        "Mean &plusmn; standard deviation over 5 splits."
    )
