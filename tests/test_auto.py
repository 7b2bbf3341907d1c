"""Defaults that transfer and the fit that tunes itself (issue 27): the constant regularisation rule,
auto=True (models/auto.py), the held-out report and its warning, the pick ranker's chosen regularization."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mfrec.data import from_arrays, synthetic
from mfrec.exceptions import DuplicateRatingsWarning
from mfrec.models import ALS, BayesianMF, Biases, MatrixFactorization
from mfrec.models.auto import AUTO_FRACTION, liked_level, tune


@pytest.fixture(scope="module")
def small():
    return synthetic(300, 150, 9_000, seed=0)


def test_als_with_its_factors_held_at_zero_is_the_bias_baseline(small):
    # The rule: a row's bias is shrunk by bias_regularization * n + constant (users) / 3/5 of it (items), the
    # Biases baseline's 5 and 3 pseudo-ratings; a huge constant on the factors keeps them at zero.
    als = ALS(
        n_factors=4,
        n_epochs=60,
        regularization=0.0,
        constant_regularization=1e9,
        bias_regularization=0.0,
        constant_bias_regularization=5.0,
        rank_by="rating",
    ).fit(small)
    baseline = Biases(n_epochs=60, rank_by="rating").fit(small)
    assert np.abs(als.user_factors_).max() < 1e-6
    users, items = small.user_ids.to_ids(small.user_idx[:500]), small.item_ids.to_ids(small.item_idx[:500])
    np.testing.assert_allclose(als.predict(users, items), baseline.predict(users, items), atol=2e-3)
    np.testing.assert_allclose(als.user_bias_, baseline.user_bias_, atol=2e-3)


def test_sgd_constant_regularization_shrinks_rows_with_few_ratings_more(small):
    def fit(constant):
        return MatrixFactorization(
            n_factors=8,
            n_epochs=20,
            constant_regularization=constant,
            constant_bias_regularization=0.0,
            rank_by="rating",
        ).fit(small)

    plain, shrunk = fit(0.0), fit(20.0)
    counts = np.bincount(small.user_idx, minlength=small.n_users)
    few, many = counts <= np.percentile(counts, 25), counts >= np.percentile(counts, 75)

    def ratio(rows):
        return (
            np.linalg.norm(shrunk.user_factors_[rows], axis=1).mean()
            / np.linalg.norm(plain.user_factors_[rows], axis=1).mean()
        )

    # constant / n per rating: a row's total weight is regularization * n + constant, so short rows shrink most.
    assert ratio(few) < 0.8 and ratio(few) < ratio(many)


def test_auto_refits_on_all_the_data_with_the_values_it_chose(small):
    model = ALS(n_factors=8, n_epochs=8, auto=True, rank_by="rating").fit(small, auto_budget=30)
    result = model.auto_result_
    assert 1 <= result["trials"] <= 16
    assert model.auto_params_ == result["params"]
    for name, value in result["params"].items():  # set on the model, as they were used
        assert model.get_params()[name] == value
    assert model.auto is True
    # Refitted on everything: every rating given is seen, none held out.
    assert len(model.seen_indices_) == len(small)
    assert len(model.history_) == model.n_epochs
    # The held-out report compares it with the baseline and popularity on about AUTO_FRACTION of the ratings.
    report = model.held_out_
    assert {"rmse", "baseline_rmse", "ndcg@10", "popularity_ndcg@10"} <= set(report)
    assert 0.5 * AUTO_FRACTION * len(small) < report["ratings"] <= 1.1 * AUTO_FRACTION * len(small)


@pytest.mark.parametrize("model_class", [ALS, MatrixFactorization])
def test_auto_starts_from_the_models_own_fit_and_never_selects_worse(small, model_class):
    """The first trial is the model's own fit, every epoch of it, on the same held-out split: what auto returns
    scores at least as well there, and keeping the own values returns no params (sgd stopped early after its
    first epoch had scored 0.0044 worse than its own 80 epochs on synth-mnar, so a worse trial looked better)."""
    from mfrec.models.holdout import hold_out

    own = {"n_factors": 8, "n_epochs": 8, "rank_by": "rating"}
    result = tune(model_class(**own), small, max_trials=4, budget_seconds=120)
    assert result["trials"] == 4
    train, valid = hold_out(small, AUTO_FRACTION, np.random.default_rng(0))
    fitted = model_class(**own).fit(train)
    errors = fitted.predict(valid.user_ids.to_ids(valid.user_idx), valid.item_ids.to_ids(valid.item_idx))
    own_score = float(np.sqrt(np.mean((np.clip(errors, 1, 5) - valid.ratings) ** 2)))
    assert result["score"] <= own_score + 1e-6
    if not result["params"]:
        assert result["score"] == pytest.approx(own_score, abs=1e-6)
    else:
        assert set(result["params"]) >= {"regularization", "n_factors", "n_epochs"}


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(lambda: BayesianMF(n_epochs=12, burn_in=4, rank_by="rating"), id="bayesian"),
        pytest.param(lambda: Biases(rank_by="rating"), id="baseline"),
    ],
)
def test_auto_runs_on_models_without_epochs_to_stop(small, model):
    """Models that do not stop early (no patience) get their trials too (a KeyError on 'patience' once)."""
    result = tune(model(), small, max_trials=3, budget_seconds=120)
    assert result["trials"] == 3 and np.isfinite(result["score"])


def test_auto_respects_its_time_budget():
    data = synthetic(1_500, 600, 60_000, seed=1)
    started = time.perf_counter()
    result = tune(MatrixFactorization(n_factors=32, n_epochs=40, rank_by="rating"), data, budget_seconds=1.0)
    elapsed = time.perf_counter() - started
    # Either the budget stopped the search before its 16 trials or they all fitted inside it.
    assert result["trials"] < 16 or result["seconds"] <= 1.0 + result["seconds"] / result["trials"]
    # Optuna stops between trials: the budget plus at most one trial and the held-out report.
    assert elapsed < 1.0 + 3 * max(1.0, result["seconds"] / max(1, result["trials"])) + 5


def test_auto_regularizes_a_sparse_log_more_than_a_dense_one():
    dense = synthetic(400, 200, 24_000, seed=0)
    sparse = synthetic(2_000, 1_500, 12_000, seed=0)

    def shrinkage(data):  # the factor weight a row with the median number of ratings gets
        model = ALS(n_factors=16, n_epochs=10, rank_by="rating")
        params = {**model.get_params(), **tune(model, data, max_trials=10)["params"]}  # {}: the own values stay
        n = np.median(np.bincount(data.user_idx))
        return params["regularization"] * n + params["constant_regularization"], n

    (dense_weight, dense_n), (sparse_weight, sparse_n) = shrinkage(dense), shrinkage(sparse)
    assert sparse_weight / sparse_n > dense_weight / dense_n  # per rating of evidence


def test_the_warning_fires_when_a_model_loses_to_the_bias_baseline():
    data = synthetic(400, 300, 4_000, seed=3)
    overfit = MatrixFactorization(
        n_factors=64,
        n_epochs=60,
        learning_rate=0.03,
        regularization=0.0,
        bias_regularization=0.0,
        constant_regularization=0.0,
        constant_bias_regularization=0.0,
        init_std=0.3,
        early_stopping=True,
        patience=60,
        restore_best=False,
        rank_by="rating",
    )
    with pytest.warns(
        UserWarning, match=r"RMSE worse than the bias baseline.* on [\d,]+ held-out ratings; try auto=True"
    ):
        overfit.fit(data)
    report = overfit.held_out_
    assert report["rmse"] > report["baseline_rmse"]
    # A model that beats the baseline says nothing about RMSE.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        good = ALS(n_factors=8, early_stopping=True).fit(synthetic(300, 150, 9_000, seed=0))
    assert good.held_out_["rmse"] < good.held_out_["baseline_rmse"]
    assert not [w for w in caught if "bias baseline" in str(w.message)]


def test_liked_level_follows_the_protocol():
    assert [liked_level(s) for s in ((1, 5), (0.5, 5), (0.5, 4), (1, 10))] == [4, 4, 3, 8]


def test_pick_regularization_is_chosen_on_held_out_picks():
    from mfrec.ranking.pick import PICK_REGULARIZATIONS

    # Picks drawn from popularity alone (the generator's): the fixed 30 lost to a most-popular chart there.
    model = Biases().fit(synthetic(3_000, 1_000, 30_000, seed=0))
    assert model.pick_regularization_ is None or model.pick_regularization_ in PICK_REGULARIZATIONS
    assert model.pick_regularization_ != 30.0


def test_with_timestamps_half_the_users_hold_out_their_latest_liked_pick(monkeypatch):
    """The "will pick" regularization is chosen both for what users pick next (time-split logs: the zoo's
    ml-100k-longtail, 14 on the latest picks) and for what is missing (random folds: ML-100k u1-u5, 20)."""
    import mfrec.models.pick as pick
    from mfrec.models.pick import _held_pick

    liked = np.array([True, False, True, True, False])
    times = np.array([50, 10, 40, 20, 30, 40, 99])  # the row starts at position 2: times 40, 20, 30, 40, 99
    rng = np.random.default_rng(0)
    held = [_held_pick(liked, times, 2, rng) for _ in range(2_000)]
    assert set(held) == {0, 2, 3}  # liked picks only
    # Latest liked (40 twice: the last, position 3) for half the users, plus a third of the random half.
    assert np.mean(np.array(held) == 3) == pytest.approx(0.5 + 0.5 / 3, abs=0.03)
    assert _held_pick(np.array([True, False]), np.array([5, 9]), 0, np.random.default_rng(0)) == 0
    assert _held_pick(liked, None, 0, np.random.default_rng(0)) in (0, 2, 3)

    seen = {}

    def spy(indptr, indices, n_items, n_threads, liked, times, ratings, scale):
        seen.update(indptr=indptr, indices=indices, times=times)
        return 30.0, True

    monkeypatch.setattr(pick, "choose_regularization", spy)
    data = synthetic(200, 120, 3_000, seed=3)
    shuffled = data.subset(np.random.default_rng(1).permutation(len(data)), name="shuffled")
    model = Biases().fit(shuffled)
    # The times reach the selection in the order of the seen CSR: each (user, item) carries its own timestamp.
    stamp = dict(
        zip(
            zip(shuffled.user_ids.to_ids(shuffled.user_idx), shuffled.item_ids.to_ids(shuffled.item_idx)),
            shuffled.timestamps,
        )
    )
    users = np.repeat(np.arange(len(seen["indptr"]) - 1), np.diff(seen["indptr"]))
    pairs = zip(model.user_map_.to_ids(users), model.item_map_.to_ids(seen["indices"]))
    assert [stamp[p] for p in pairs] == list(seen["times"])
    Biases().fit(dataclasses.replace(shuffled, timestamps=None, _csr_cache={}))  # without timestamps: none
    assert seen["times"] is None


def test_when_picks_follow_popularity_the_default_lists_are_the_chart_and_never_below_it():
    """The candidates are scored as lists are ranked (pick x like) and the chart wins ties: on this 0.08%-dense
    log the pick model (regularization 100) was chosen before and its lists scored 0.1610 against the chart's
    0.1611 on the held-out ratings."""
    from mfrec.evaluation.metrics import ndcg_at_k
    from mfrec.models import Popularity
    from mfrec.models.holdout import hold_out

    train, test = hold_out(synthetic(6_000, 6_000, 30_000, seed=0), 0.2, np.random.default_rng(0))
    model, chart = Biases().fit(train), Popularity().fit(train)
    assert model.pick_regularization_ is None and model.pick_like_  # "chart x like" scored above the plain chart
    frame = test.to_frame()
    relevant = frame[frame["rating"] >= 4].groupby("user")["item"].apply(set)

    def ndcg(fitted):
        lists = {u: list(g["item"]) for u, g in fitted.recommend(list(relevant.index), n=10).groupby("user")}
        return np.mean([ndcg_at_k(lists.get(u, []), relevant[u], 10) for u in relevant.index])

    assert ndcg(model) >= ndcg(chart) > 0.1


def test_where_the_plain_chart_wins_the_lists_are_popularitys_own(tmp_path, monkeypatch):
    """Where the plain chart beats "chart x like" on the held-out picks (by PICK_SELECT_PLAIN_SE standard errors:
    lowered here, this small log's lead is under two), the lists are Popularity's, item for item (tiled path, a
    folded-in user, after a reload), so they cannot fall below it (on ml-100k keeping 10% "chart x like" scored
    0.02141 against 0.02142)."""
    import mfrec.models.pick as pick
    from mfrec.models import Popularity
    from mfrec.models.persistence import load_model, save_model

    # Picks follow popularity, and the popular items are the ones rated low: "will like" demotes what users pick.
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 401) ** 1.1
    users = np.repeat(np.arange(3_000), 10)
    items = np.concatenate([rng.choice(400, 10, replace=False, p=weights / weights.sum()) for _ in range(3_000)])
    ratings = np.clip(np.round(2.0 + 3.0 * items / 400 + rng.normal(0, 0.7, items.size)), 1, 5)
    data = from_arrays(users, items, ratings.astype(np.float32))
    assert Biases().fit(data).pick_like_ is True  # the plain chart's lead is under two standard errors
    monkeypatch.setattr(pick, "PICK_SELECT_PLAIN_SE", 0.0)
    model, chart = Biases().fit(data), Popularity().fit(data)
    assert model.pick_regularization_ is None and model.pick_like_ is False
    users = list(range(1, 200))
    ours, theirs = model.recommend(users, n=10), chart.recommend(users, n=10)
    assert ours["item"].tolist() == theirs["item"].tolist()
    new_user = {"new_user_ratings": {3: 5.0, 7: 1.0}, "n": 10}
    assert model.recommend(**new_user)["item"].tolist() == chart.recommend(**new_user)["item"].tolist()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.pick_like_ is False and loaded.recommend(users, n=10).equals(ours)


def test_the_like_part_of_the_pick_selection_is_the_damped_bias_model():
    from mfrec.models.pick import _like_proxy

    # Two users, three items: ratings (u0: i0=5, i1=3), (u1: i0=4, i2=1); mu = 3.25.
    mu, user_bias, item_bias = _like_proxy(
        np.array([0, 2, 4]), np.array([0, 1, 0, 2]), np.array([5.0, 3.0, 4.0, 1.0]), 3
    )
    assert mu == pytest.approx(3.25)
    assert item_bias == pytest.approx([(1.75 + 0.75) / 5, -0.25 / 4, -2.25 / 4])
    expected_u0 = ((5 - 3.25 - 0.5) + (3 - 3.25 + 0.0625)) / 7
    assert user_bias[0] == pytest.approx(expected_u0, rel=1e-5)


def test_train_auto_holds_out_the_latest_ratings_of_a_file_with_dates(tmp_path, monkeypatch):
    """`mfrec train --auto` reads the file's dates (a newcomer's review_date-less 'date' column) for its hold-out;
    it used to load every file without them, so the CLI's --auto held out random ratings."""
    from typer.testing import CliRunner

    import mfrec.models.auto as auto
    from mfrec.cli import app

    seen = []
    real = auto.hold_out
    monkeypatch.setattr(
        auto, "hold_out", lambda data, *args: seen.append(data.timestamps is not None) or real(data, *args)
    )
    frame = synthetic(300, 150, 9_000, seed=0).to_frame()
    frame["date"] = pd.to_datetime(frame.pop("timestamp"), unit="s").dt.strftime("%Y-%m-%d")
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    args = ["train", str(tmp_path / "reviews.csv"), "--model", "sgd", "--auto", "--budget", "0.05", "-q"]
    result = CliRunner().invoke(app, [*args, "-p", "n_factors=8", "-p", "n_epochs=4", "-o", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert seen == [True]


def test_train_auto_prints_the_held_out_comparison_and_saves_the_chosen_values(tmp_path):
    import json

    from typer.testing import CliRunner

    from mfrec.cli import app

    path = tmp_path / "ratings.csv"
    synthetic(300, 150, 9_000, seed=0).to_frame()[["user", "item", "rating"]].to_csv(path, index=False)
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(path),
            "--model",
            "als",
            "--auto",
            "--budget",
            "0.1",
            "-p",
            "n_factors=8",
            "-o",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.stderr.split())
    assert "held out" in text and "bias baseline" in text and "popularity" in text
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["params"]["auto"] is True
    refused = CliRunner().invoke(
        app, ["train", str(path), "--model", "als", "--budget", "1", "-o", str(tmp_path / "x")]
    )
    assert refused.exit_code == 2 and "--auto" in refused.stderr


@pytest.mark.parametrize("timestamps", [True, False], ids=["latest-by-time", "random"])
@pytest.mark.parametrize("n_users, n_items, n_ratings", [(300, 400, 3_000), (943, 1_682, 100_000)])
def test_hold_out_holds_out_the_fraction_and_keeps_every_user_and_item(n_users, n_items, n_ratings, timestamps):
    """The keepers are set aside before the held-out ratings are drawn (before: 51 of 299 on the sparse log)."""
    from mfrec.models.holdout import hold_out

    data = synthetic(n_users, n_items, n_ratings, seed=4)
    if not timestamps:
        data = dataclasses.replace(data, timestamps=None)
    train, held = hold_out(data, 0.1, np.random.default_rng(0))
    assert abs(len(held) - round(0.1 * len(data))) <= 0.01 * len(data)
    assert len(train) + len(held) == len(data)
    assert set(np.unique(train.user_idx)) == set(np.unique(data.user_idx))
    assert set(np.unique(train.item_idx)) == set(np.unique(data.item_idx))


def test_with_timestamps_each_user_holds_out_their_latest_ratings():
    """What is chosen on the held-out ratings is chosen for predicting later ones (the zoo's time-split logs)."""
    from mfrec.models.holdout import hold_out

    data = synthetic(400, 300, 12_000, seed=5)
    train, held = hold_out(data, 0.2, np.random.default_rng(0))
    last_train = pd.Series(train.timestamps).groupby(train.user_idx).max()
    first_held = pd.Series(held.timestamps).groupby(held.user_idx).min()
    assert (first_held >= last_train.reindex(first_held.index)).all()
    # About 0.2 of every user's ratings whatever their count (rounding 0.2 n held out 20-50% of short rows).
    share = pd.Series(held.user_idx).value_counts().reindex(np.unique(data.user_idx), fill_value=0)
    share /= pd.Series(data.user_idx).value_counts().reindex(share.index)
    assert abs(len(held) / len(data) - 0.2) < 0.01 and share.max() <= 0.5
    assert set(np.unique(train.item_idx)) == set(np.unique(data.item_idx))


def test_a_held_out_report_scores_the_held_out_pairs_and_reads_a_click_log_as_clicks(tmp_path):
    """The held-out pairs are 'seen' by the fitted model but must be rankable when scoring it (NDCG was 0), and on
    a click log every interaction is relevant (3/4 of the count scale left popularity alone scored, at 1.0)."""
    from mfrec.data import load

    rng = np.random.default_rng(0)
    n = 30_000
    users, items = rng.integers(0, 1_500, n), rng.zipf(1.3, n) % 500
    pd.DataFrame({"user": users, "item": items, "timestamp": np.arange(n)}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.warns(DuplicateRatingsWarning):
        clicks = load(tmp_path / "c.csv", rating_col=None)
    with pytest.warns(UserWarning, match="interaction counts .*implicit-als or bpr"):
        model = MatrixFactorization(early_stopping=True, n_epochs=8).fit(clicks)
    report = model.held_out_
    assert 0.05 < report["popularity_ndcg@10"] < 0.9
    assert report["ndcg@10"] > 0.05  # was 0.0: the lists could never hold a held-out pair


def test_auto_keeps_the_own_values_unless_a_trial_beats_them_clearly():
    from mfrec.models.auto import _clearly_better

    rng = np.random.default_rng(0)
    own = rng.exponential(1.0, 2_000)
    assert _clearly_better(own, own * 0.9)  # 10% lower on every rating: far beyond noise
    assert not _clearly_better(own, own + rng.normal(0, 0.3, own.size) - 0.005)  # a lucky draw, not a gain
    # A gain of 1.8 standard errors: not enough for the best of a search, enough for one of a model's few listed
    # trials (one-sided 5%).
    from mfrec.models.auto import AUTO_MIN_Z_LISTED

    signs = np.tile([1.0, -1.0], 200)
    gain = 1.8 / np.sqrt(400) + signs  # mean 0.09, standard deviation 1 (ddof=1: 1.0013), 400 ratings: z = 1.798
    assert not _clearly_better(own[:400], own[:400] - gain)
    assert _clearly_better(own[:400], own[:400] - gain, AUTO_MIN_Z_LISTED)
    # On a thin log (6 ratings a user) the best of 10 trials does not clear the bar: the model's values stay.
    result = tune(
        ALS(n_factors=16, n_epochs=10, rank_by="rating"), synthetic(2_000, 1_500, 12_000, seed=0), max_trials=10
    )
    assert result["params"] == {} and result["trials"] >= 2


def test_the_pick_model_is_kept_when_it_clearly_beats_the_chart():
    """Users in 20 taste groups, each picking among its own 40 items: the chart (one list for all) is far behind,
    so the pick model is chosen; the one-standard-error rule only gives the chart the close calls."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(2_000), 12)
    group = users % 20
    items = group * 40 + np.concatenate([rng.choice(40, 12, replace=False) for _ in range(2_000)])
    ratings = rng.integers(3, 6, users.size).astype(np.float32)
    model = Biases().fit(from_arrays(users, items, ratings, np.arange(users.size)))
    assert model.pick_regularization_ is not None


def test_a_model_that_lists_its_trials_gets_exactly_those_unpruned(small, monkeypatch):
    """BayesianMF's auto_trials: its own chain, then half and 1.5 times as many sweeps, each run to its end (the
    median pruner would judge a running posterior mean by its burn-in)."""
    model = BayesianMF(n_factors=4, n_epochs=12, burn_in=4, n_chains=1, blend=False, init_std=0.1, rank_by="rating")
    assert model.auto_trials() == [{"n_epochs": 6}, {"n_epochs": 18}]
    assert BayesianMF(n_epochs=3, burn_in=2).auto_trials() == [{"n_epochs": 4}]
    sweeps = []
    fit = BayesianMF._fit

    def counted(self, train, validation, callback):
        fit(self, train, validation, callback)
        sweeps.append(len(self.history_))

    monkeypatch.setattr(BayesianMF, "_fit", counted)
    result = tune(model, small, budget_seconds=120)
    assert sweeps == [12, 6, 18] and result["trials"] == 3 and result["pruned"] == 0
    assert result["params"] in ({}, {"n_epochs": 6}, {"n_epochs": 18})
