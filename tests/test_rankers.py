"""The pick x like ranker (issue 14): rating models' top-N lists, one ranking path for every caller."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfrec import ranking
from mfrec.data import from_arrays
from mfrec.evaluation import mean_popularity, novelty, score
from mfrec.evaluation.coldstart import cold_start_curve
from mfrec.exceptions import ModelFormatError, ParameterError
from mfrec.models import ALS, Biases, MatrixFactorization, make_model
from mfrec.models.persistence import load_model, save_model

N_POPULAR, N_RARE = 30, 15


def long_tail(seed: int = 0):
    """300 users rate 30 popular items (3-4 stars, each user ~12 of them); 15 rare items get one 5 each."""
    rng = np.random.default_rng(seed)
    users, items, ratings = [], [], []
    for u in range(300):
        chosen = rng.choice(
            N_POPULAR, 12, replace=False, p=np.linspace(2, 1, N_POPULAR) / np.linspace(2, 1, N_POPULAR).sum()
        )
        users += [u] * chosen.size
        items += chosen.tolist()
        ratings += rng.choice([3.0, 4.0, 4.0, 5.0], chosen.size).tolist()
    for j in range(N_RARE):  # the rarely-rated items with extreme ratings
        users.append(j)
        items.append(N_POPULAR + j)
        ratings.append(5.0)
    return from_arrays(users, items, ratings, rating_scale=(1.0, 5.0))


RARE = set(range(N_POPULAR, N_POPULAR + N_RARE))


@pytest.fixture(scope="module")
def data():
    return long_tail()


@pytest.fixture(scope="module")
def fitted(data):
    return Biases(user_bias_regularization=0.5, item_bias_regularization=0.1).fit(data)


def test_rare_extreme_items_do_not_top_the_default_lists(data, fitted):
    users = list(range(100, 140))
    default = fitted.recommend(users, n=5)
    assert not RARE & set(default["item"])
    # The same model ranked by predicted rating puts the rare 5-star items first: the failure issue 14 reports.
    by_rating = (
        Biases(user_bias_regularization=0.5, item_bias_regularization=0.1, rank_by="rating")
        .fit(data)
        .recommend(users, n=5)
    )
    assert len(RARE & set(by_rating["item"])) >= 5


def test_rank_by_leaves_predictions_unchanged(data):
    pairs = (np.arange(50), np.arange(50) % N_POPULAR)
    for cls in (Biases, MatrixFactorization):
        extra = {"n_epochs": 5, "n_factors": 4} if cls is MatrixFactorization else {}
        a = cls(**extra).fit(data).predict(*pairs)
        b = cls(rank_by="rating", **extra).fit(data).predict(*pairs)
        np.testing.assert_array_equal(a, b)


def test_shown_score_is_the_predicted_rating(fitted):
    frame = fitted.recommend([3, 7], n=4)
    np.testing.assert_allclose(frame["score"], fitted.predict(frame["user"], frame["item"]), rtol=1e-6)
    assert (frame["score_kind"] == "rating").all()


def test_every_ranking_caller_uses_rank_scores(data, fitted):
    rows = fitted.user_map_.lookup([5, 6])
    expected = ranking.rank_scores(fitted, rows)
    assert not np.allclose(expected, fitted.score_items(rows))  # the ranker changes the order
    items, _, _ = ranking.top_n_rows(fitted, rows, 5)
    for r, row in enumerate(rows):
        unseen = np.setdiff1d(
            np.arange(len(fitted.item_map_)),
            fitted.seen_indices_[fitted.seen_indptr_[row] : fitted.seen_indptr_[row + 1]],
        )
        best = unseen[np.argsort(-expected[r, unseen], kind="stable")[:5]]
        assert set(items[r]) == set(best)
    listed = fitted.recommend([5], n=5)["item"].tolist()
    assert listed == fitted.item_map_.to_ids(items[0]).tolist()


def test_fold_in_ranks_through_the_same_path(fitted):
    revealed = {0: 4.0, 1: 4.0, 2: 5.0, 3: 3.0, 4: 4.0}
    frame = fitted.recommend(new_user_ratings=revealed, n=5)
    assert (frame["source"] == "fold-in").all()
    assert not RARE & set(frame["item"])
    folded = fitted.fold_in(revealed)
    top, _ = ranking.top_of_scores(fitted, ranking.rank_scores_folded(fitted, folded), 5, exclude=folded.item_rows)
    assert frame["item"].tolist() == fitted.item_map_.to_ids(top).tolist()
    # The fold-in solved a pick vector from the revealed items: the scores are not the predicted ratings.
    from mfrec.ranking import score_folded

    assert not np.allclose(ranking.rank_scores_folded(fitted, folded), score_folded(fitted, folded))


@pytest.mark.filterwarnings("ignore::mfrec.models.coldstart.UnknownItemsWarning")
def test_cold_start_protocol_gets_the_default_ranking(data):
    curves = {
        rank_by: cold_start_curve(
            data, lambda rank_by=rank_by: Biases(rank_by=rank_by), n_users=30, revealed=(5,), methods=("fold-in",)
        )[0]["ndcg@10"]
        for rank_by in ("rating", "pick-like")
    }
    assert curves["pick-like"] != curves["rating"]


def test_save_load_round_trip_keeps_the_ranker(tmp_path, fitted):
    save_model(fitted, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.pick_item_factors_, fitted.pick_item_factors_)
    assert loaded.recommend([9, 10], n=6).equals(fitted.recommend([9, 10], n=6))
    # The regularisation chosen at fit comes back, so a new user is folded in as before the save.
    assert loaded.pick_regularization_ == fitted.pick_regularization_
    fitted.pick_regularization_ = loaded.pick_regularization_ = 100.0  # not the constant a lost value falls back to
    save_model(fitted, tmp_path / "m2")
    again = load_model(tmp_path / "m2")
    new_user = {"new_user_ratings": {3: 5.0, 7: 4.0, 12: 5.0}, "n": 6}
    assert again.pick_regularization_ == 100.0 and again.recommend(**new_user).equals(fitted.recommend(**new_user))


def test_a_model_saved_without_the_ranker_ranks_by_rating(tmp_path, data):
    model = Biases(rank_by="rating").fit(data)
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["params"]["rank_by"]  # as written before issue 14: the default is now pick-like, the arrays absent
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    loaded = load_model(tmp_path / "m")
    assert loaded.rank_by == "pick-like" and not hasattr(loaded, "pick_item_factors_")
    assert loaded.recommend([9], n=5).equals(model.recommend([9], n=5))


def test_load_refuses_pick_arrays_of_the_wrong_shape(tmp_path, fitted):
    save_model(fitted, tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz") as stored:
        arrays = dict(stored)
    arrays["pick_item_factors_"] = arrays["pick_item_factors_"][:-1]
    np.savez(tmp_path / "m" / "arrays.npz", **arrays)
    with pytest.raises(ModelFormatError, match="pick_item_factors_"):
        load_model(tmp_path / "m")


def test_unknown_rank_by_is_refused_at_fit(data):
    with pytest.raises(ParameterError, match="rank_by"):
        Biases(rank_by="stars").fit(data)


def test_implicit_and_popularity_models_have_no_ranker(data):
    for name in ("implicit-als", "popularity", "global-mean"):
        model = make_model(name).fit(data) if name != "implicit-als" else make_model(name, n_epochs=2).fit(data)
        assert not hasattr(model, "pick_item_factors_")


def test_partial_fit_gives_new_users_a_pick_vector(data):
    model = ALS(n_factors=4, n_epochs=3).fit(data)
    model.partial_fit(from_arrays([9999, 9999, 9999], [0, 1, 2], [4.0, 5.0, 4.0], rating_scale=(1.0, 5.0)))
    row = model.user_map_.lookup([9999])[0]
    assert model.pick_user_factors_.shape[0] == len(model.user_map_)
    assert np.abs(model.pick_user_factors_[row]).sum() > 0
    assert not RARE & set(model.recommend([9999], n=5)["item"])


def test_list_diagnostics():
    assert mean_popularity([0, 1, 1], [10, 4, 0]) == 6.0
    assert novelty([0, 1], [512, 1], 1024) == 5.5
    with pytest.raises(ParameterError):
        novelty([0], [1], 0)


def test_score_reports_coverage_popularity_and_novelty(data, fitted):
    result = score(fitted, data, data.subset(np.arange(len(data)) % 7 == 0), k=5)
    by_rating = Biases(user_bias_regularization=0.5, item_bias_regularization=0.1, rank_by="rating").fit(data)
    before = score(by_rating, data, data.subset(np.arange(len(data)) % 7 == 0), k=5)
    for key in ("coverage@5", "popularity@5", "novelty@5", "catalogue_popularity"):
        assert np.isfinite(result[key])
    # Lists of rare items are less popular and more novel than the default lists.
    assert before["popularity@5"] < result["popularity@5"]
    assert before["novelty@5"] > result["novelty@5"]


def test_attribute_only_users_get_the_average_users_picks(data, fitted):
    import pandas as pd

    attributes = pd.DataFrame({"group": np.where(np.arange(300) % 2 == 0, "a", "b")}, index=np.arange(300))
    model = Biases(user_bias_regularization=0.5, item_bias_regularization=0.1).fit(data).fit_attributes(attributes)
    frame = model.recommend(user_attributes={"group": "a"}, n=5)
    assert (frame["source"] == "attributes").all()
    assert not RARE & set(frame["item"])


def _seen_as_interactions(model):
    """The model's seen items as a plain implicit log: what the ranker used to copy and re-map before fitting."""
    users = np.repeat(np.arange(len(model.user_map_)), np.diff(model.seen_indptr_))
    return from_arrays(users, model.seen_indices_.astype(np.int64), np.ones(users.size, np.float32))


def test_pick_factors_equal_an_implicit_als_fit_on_the_seen_items(monkeypatch):
    import mfrec.models.pick as pick
    from mfrec.data import synthetic
    from mfrec.ranking.pick import PICK_ALPHA, PICK_EPOCHS, PICK_FACTORS, PICK_REGULARIZATION

    # The fit path, whatever the held-out choice on this log (the chart: its picks follow popularity).
    monkeypatch.setattr(pick, "choose_regularization", lambda *args: (PICK_REGULARIZATION, True))
    model = make_model("sgd", n_factors=8, n_epochs=2).fit(synthetic(300, 120, 6_000, seed=3))
    reference = make_model(
        "implicit-als", n_factors=PICK_FACTORS, n_epochs=PICK_EPOCHS, regularization=PICK_REGULARIZATION,
        alpha=PICK_ALPHA, random_state=0,
    ).fit(_seen_as_interactions(model))  # fmt: skip
    assert reference.user_factors_.shape == model.pick_user_factors_.shape
    np.testing.assert_allclose(model.pick_user_factors_, reference.user_factors_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.pick_item_factors_, reference.item_factors_, rtol=0, atol=1e-6)


def test_pick_ranker_allocates_no_copy_of_the_ratings_beyond_one_int32_index(monkeypatch):
    import tracemalloc

    import mfrec.models.pick as pick
    from mfrec.data import synthetic
    from mfrec.models.pick import fit_ranker
    from mfrec.ranking.pick import PICK_FACTORS, PICK_REGULARIZATION, PICK_SELECT_MAX_RATINGS, PICK_SELECT_USERS

    # The selection runs and is measured; its answer (the chart, on this log) is overridden so the fit is too.
    select = pick.choose_regularization
    monkeypatch.setattr(pick, "choose_regularization", lambda *args: (select(*args), (PICK_REGULARIZATION, True))[1])

    model = make_model("sgd", n_factors=4, n_epochs=1, rank_by="rating").fit(synthetic(2_000, 500, 200_000, seed=0))
    model.rank_by = "pick-like"
    fit_ranker(model)  # compiled and warm: the measured call allocates only arrays
    n_cells, n_rows = model.seen_indices_.size, len(model.user_map_) + len(model.item_map_)
    tracemalloc.start()
    try:
        fit_ranker(model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The item-side index (4 bytes a rating), the float32 factors and their float64 draw, plus small change;
    # copying the (user, item) pairs as int64 (the route before) is 16 bytes a rating on its own. Choosing the
    # regularization on held-out picks adds its training index and that index's transpose (8 bytes a rating, on
    # at most PICK_SELECT_MAX_RATINGS ratings), the like part's bias model (16) and two blocks of scores.
    selection = 24 * min(n_cells, PICK_SELECT_MAX_RATINGS) + 2 * 4 * min(PICK_SELECT_USERS, 2_000) * 500
    budget = 4 * n_cells + n_rows * PICK_FACTORS * (4 + 8) + selection + 2**20
    assert peak <= budget, f"fit_ranker peaked at {peak:,} bytes of numpy arrays, budget {budget:,}"
    assert model.pick_user_factors_.shape == (2_000, PICK_FACTORS)
