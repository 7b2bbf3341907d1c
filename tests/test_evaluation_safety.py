"""Issue 28: the relevance threshold follows the data, no metric over 0 users, no NaN in JSON, unknown ids warned."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import from_frame
from mfrec.evaluation import relevance_threshold, score
from mfrec.exceptions import UnknownIdsWarning
from mfrec.models import MatrixFactorization


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def log(rating: str, scale: tuple[int, int] = (1, 5), n_users: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"user": rng.integers(1, n_users, 3000), "item": rng.integers(1, 50, 3000)})
    frame = frame.drop_duplicates(["user", "item"])
    if rating == "ones":
        frame["rating"] = 1
    elif rating == "scale":
        frame["rating"] = rng.integers(scale[0], scale[1] + 1, len(frame))
    return frame


def evaluate_cli(path, *extra):
    args = ["evaluate", str(path), "--model", "sgd", "--epochs", "3", "--no-baselines", "--json", *extra]
    return CliRunner().invoke(app, args)


def test_a_click_log_is_evaluated_with_every_interaction_relevant(tmp_path):
    path = tmp_path / "clicks.csv"
    log("ones").to_csv(path, index=False)
    result = evaluate_cli(path)
    assert result.exit_code == 0, result.output
    payload = strict_json(result.stdout[result.stdout.index("{") :])
    assert payload["users_evaluated"] > 0 and payload["threshold"] == 1.0
    assert "every interaction" in payload["threshold_rule"]


def test_the_threshold_is_the_same_share_of_every_scale():
    five = from_frame(log("scale", (1, 5)))
    ten = from_frame(log("scale", (1, 10)))
    assert relevance_threshold(five)[0] == 4.0
    assert relevance_threshold(ten)[0] == 7.75
    assert relevance_threshold(from_frame(log("scale", (1, 10)), rating_scale=(0, 10)))[0] == 7.5


def test_metrics_over_zero_users_are_refused_in_one_line_and_json_never_holds_nan(tmp_path):
    path = tmp_path / "r.csv"
    log("scale").to_csv(path, index=False)
    refused = evaluate_cli(path, "--threshold", "6")
    assert refused.exit_code != 0
    assert "0 users" in refused.output and "Traceback" not in refused.output
    assert [line for line in refused.output.splitlines() if "0 users" in line][0].startswith("error: ")
    fine = evaluate_cli(path)  # rmse_cold etc. may be undefined: null, not NaN
    assert fine.exit_code == 0, fine.output
    strict_json(fine.stdout[fine.stdout.index("{") :])


def test_scoring_on_data_the_model_never_saw_warns():
    train = from_frame(log("scale", seed=1))
    other = log("scale", seed=2)
    other["user"] += 1000
    test = from_frame(other)
    model = MatrixFactorization(n_factors=2, n_epochs=2).fit(train)
    with pytest.warns(UnknownIdsWarning, match="unknown to the model"):
        score(model, train, test)
