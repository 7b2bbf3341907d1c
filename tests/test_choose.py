"""``--model auto`` (models/choose.py): the rating model with the lowest held-out RMSE, tuned, refitted on all."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import from_arrays, synthetic
from mfrec.exceptions import ParameterError
from mfrec.models import ALS, MatrixFactorization
from mfrec.models.auto import held_out_split, squared_errors
from mfrec.models.choose import choice_line, choose_model
from mfrec.models.persistence import load_model


@pytest.fixture(scope="module")
def data():
    return synthetic(400, 150, 8_000, seed=2)


def test_the_candidate_with_the_lowest_held_out_rmse_is_chosen_tuned_and_refitted(data, monkeypatch):
    fits = {"sgd": 0, "als": 0}
    for cls, name in ((MatrixFactorization, "sgd"), (ALS, "als")):
        original = cls._fit

        def counted(self, *args, original=original, name=name):
            fits[name] += 1
            return original(self, *args)

        monkeypatch.setattr(cls, "_fit", counted)
    model = choose_model(data, ("sgd", "als"), n_threads=1)
    fitted = dict(fits)
    scores = model.held_out_["candidates"]
    chosen = min(scores, key=scores.get)
    assert model.held_out_["chosen"] == chosen and isinstance(model, {"sgd": MatrixFactorization, "als": ALS}[chosen])
    # The scores are each default's RMSE on auto's held-out split, fitted on the rest.
    train, valid = held_out_split(data, 0)
    again = {"sgd": MatrixFactorization, "als": ALS}[chosen](n_threads=1, rank_by="rating").fit(train)
    assert scores[chosen] == pytest.approx(np.sqrt(squared_errors(again, valid).mean()), abs=1e-6)
    # The winner's search starts from its candidate fit (trial 0 is not fitted again), then one refit on all.
    other = "als" if chosen == "sgd" else "sgd"
    assert fitted[other] == 1
    assert fitted[chosen] == 1 + (model.auto_result_["trials"] - 1) + 1
    assert model.auto is True and len(model.user_map_) == data.n_users  # refitted on everything
    assert "model chosen: " + chosen in choice_line(model.held_out_)


def test_a_chosen_model_saves_and_loads_with_its_choice(data, tmp_path):
    model = choose_model(data, ("sgd", "als"), n_threads=1, budget_seconds=0.5)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.held_out_["chosen"] == model.held_out_["chosen"]
    assert loaded.recommend([1, 2], n=5).equals(model.recommend([1, 2], n=5))


def test_bad_candidates_and_click_logs_are_refused(data):
    with pytest.raises(ParameterError, match="unknown candidate"):
        choose_model(data, ("sgd", "lightgbm"))
    with pytest.raises(ParameterError, match="rating models"):
        choose_model(data, ("sgd", "bpr"))
    clicks = from_arrays(np.repeat(np.arange(50), 4), np.tile(np.arange(4), 50), np.ones(200, np.float32))
    with pytest.raises(ParameterError, match="implicit-als or bpr"):
        choose_model(clicks)


def test_too_few_ratings_to_hold_out_gives_the_first_candidate():
    tiny = from_arrays(np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([4.0, 3.0, 5.0], np.float32))
    with pytest.warns(UserWarning, match="cannot hold out"):
        model = choose_model(tiny, ("sgd", "als"))
    assert isinstance(model, MatrixFactorization) and model.held_out_["candidates"] == {}
    assert "too few ratings" in choice_line(model.held_out_)


def test_cli_model_auto_trains_the_chosen_model_and_refuses_hyper_parameters(tmp_path):
    path = tmp_path / "ratings.csv"
    synthetic(300, 120, 5_000, seed=5).to_frame().to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["train", str(path), "--model", "auto", "--budget", "0.02", "-o", str(tmp_path / "m"), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] in ("sgd", "als", "bayesian")
    assert summary["model"] == summary["held_out"]["chosen"]
    assert set(summary["held_out"]["candidates"]) == {"sgd", "als", "bayesian"}
    assert load_model(tmp_path / "m").held_out_["chosen"] == summary["model"]
    refused = runner.invoke(app, ["train", str(path), "--model", "auto", "-k", "8", "-o", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "--model auto chooses the model" in refused.stderr
    assert "Traceback" not in refused.output


def test_evaluate_model_auto_chooses_on_each_split_and_says_what_it_chose(tmp_path, monkeypatch):
    """Each split's training part chooses its own model (the choice sees none of that split's test ratings); the
    scores are those of the chosen models, and a choice on the whole file would score the same model as train."""
    import mfrec.models.choose as choose

    path = tmp_path / "ratings.csv"
    synthetic(300, 120, 5_000, seed=5).to_frame().to_csv(path, index=False)
    seen = []
    real = choose.choose_model

    def recorded(data, *args, **kwargs):
        seen.append(len(data))
        kwargs["budget_seconds"] = 0.5  # a short search: the test is about who chooses on what
        return real(data, *args, **kwargs)

    monkeypatch.setattr(choose, "choose_model", recorded)
    runner = CliRunner()
    args = ["evaluate", str(path), "-m", "auto", "--protocol", "kfold", "--folds", "2", "--no-baselines"]
    result = runner.invoke(app, [*args, "--json", "-q"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["chosen"]) == 2 and set(payload["chosen"]) <= {"sgd", "als", "bayesian"}
    assert seen == [2_500, 2_500] and payload["folds"] == 2 and 0.3 < payload["rmse"] < 1.5
    shown = runner.invoke(app, [*args, "-q"])
    assert f"auto chose, split by split: {', '.join(payload['chosen'])}" in shown.stdout
    refused = runner.invoke(app, ["evaluate", str(path), "-m", "auto", "--epochs", "3"])
    assert refused.exit_code == 2 and "--model auto chooses the model" in refused.stderr
    cold = runner.invoke(app, ["evaluate", str(path), "-m", "auto", "--protocol", "cold-start"])
    assert cold.exit_code == 2 and "not available with --protocol cold-start" in cold.stderr
