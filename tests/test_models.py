"""The estimator contract, run against every model, plus what is specific to SGD MF."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mfrec import ranking
from mfrec.data import from_arrays, random_split
from mfrec.exceptions import NotFittedError, ParameterError, TrainingError, UnknownIdError
from mfrec.models import BPR, MODELS, Biases, GlobalMean, MatrixFactorization, Popularity, make_model
from mfrec.models.persistence import load_model

FAST = {
    "sgd": {"n_factors": 8, "n_epochs": 10},
    "svdpp": {"n_factors": 8, "n_epochs": 10},
    "als": {"n_factors": 4, "n_epochs": 3},
    "nmf": {"n_factors": 3, "n_epochs": 5},
    "svd": {"n_factors": 2},
    "adam": {"n_factors": 4, "n_epochs": 3},
    "bayesian": {"n_factors": 3, "n_epochs": 6, "burn_in": 2},
    "implicit-als": {"n_factors": 4, "n_epochs": 3},
    "bpr": {"n_factors": 4, "n_epochs": 3},
}


def fitted(name, data):
    return make_model(name, **FAST.get(name, {})).fit(data)


@pytest.fixture(params=sorted(MODELS))
def name(request):
    return request.param


# ------------------------------------------------------------------ contract, every model


def test_fit_returns_self_and_sets_fitted_attributes(name, planted):
    model = make_model(name, **FAST.get(name, {}))
    assert model.fit(planted) is model
    assert np.isfinite(model.global_mean_)
    assert model.user_bias_.shape == (planted.n_users,) and model.item_bias_.shape == (planted.n_items,)


def test_unfitted_model_says_so(name):
    with pytest.raises(NotFittedError, match="call fit"):
        make_model(name).predict([1], [1])


def test_predict_is_clipped_float32_and_aligned(name, planted):
    model = fitted(name, planted)
    users = planted.user_ids.to_ids(planted.user_idx[:100])
    items = planted.item_ids.to_ids(planted.item_idx[:100])
    out = model.predict(users, items)
    assert out.dtype == np.float32 and out.shape == (100,)
    if model.predicts_ratings:
        assert out.min() >= 1.0 and out.max() <= 5.0
    else:  # preferences are not ratings: unclipped, and what the ranking uses
        ranked = model._score_items(model.user_map_.lookup(users[:1]))[0]
        assert out[0] == pytest.approx(ranked[model.item_map_.lookup(items[:1])[0]], abs=1e-5)
    with pytest.raises(ParameterError, match="same length"):
        model.predict(users[:3], items[:2])


def test_unknown_ids_fall_back_and_are_flagged(name, planted):
    model = fitted(name, planted)
    known_user, known_item = planted.user_ids.ids[0], planted.item_ids.ids[0]
    frame = model.predict_frame(
        [known_user, "nobody", known_user, "nobody"], [known_item, known_item, "nothing", "nothing"]
    )
    assert frame["fallback"].tolist() == [False, True, True, True]
    assert frame["prediction"].notna().all()
    item_bias = model.item_bias_[model.item_map_.lookup([known_item])[0]]
    if not model.predicts_ratings:  # preferences: the item's bias alone (zero for implicit ALS), no clipping
        assert frame["prediction"].iloc[3] == 0.0 and frame["prediction"].iloc[1] == pytest.approx(item_bias)
        return
    # The documented fallback: the average known user (mean factors and bias) for an unknown user, the average
    # item alike; NMF without biases, the mean training rating (it used to predict 0, clipped to the bottom).
    if name == "nmf" and not model._has_biases():
        mean = float(planted.ratings.mean())
        assert frame["prediction"].iloc[3] == pytest.approx(np.clip(mean, 1, 5), abs=1e-4)
    else:
        P, Q = model._factors()
        item_row = model.item_map_.lookup([known_item])[0]
        average_user = model.global_mean_ + model.user_bias_.mean() + item_bias + Q[item_row] @ P.mean(axis=0)
        both = model.global_mean_ + model.user_bias_.mean() + model.item_bias_.mean() + P.mean(0) @ Q.mean(0)
        assert frame["prediction"].iloc[1] == pytest.approx(np.clip(average_user, 1, 5), abs=1e-4)
        assert frame["prediction"].iloc[3] == pytest.approx(np.clip(both, 1, 5), abs=1e-4)
    assert model.predict_new_user(model.fold_in([]), [known_item])[0] == pytest.approx(frame["prediction"].iloc[1])


def test_recommend_excludes_seen_and_returns_original_ids(name, planted):
    model = fitted(name, planted)
    users = planted.user_ids.ids[:5]
    recs = model.recommend(list(users), n=10)
    assert list(recs.columns[:4]) == ["user", "item", "score", "rank"]
    assert len(recs) == 50 and (recs.groupby("user")["rank"].apply(list) == [list(range(1, 11))] * 5).all()
    seen = set(zip(*planted.to_frame()[["user", "item"]].to_numpy().T))
    assert not any((u, i) in seen for u, i in zip(recs.user, recs.item))
    # Listed best first: by the ranking score (pick x like for rating models, whose shown score is the rating).
    order = ranking.rank_scores(model, model.user_map_.lookup(recs.user))[
        np.arange(len(recs)), model.item_map_.lookup(recs.item)
    ]
    assert pd.Series(order).groupby(recs.user.to_numpy()).apply(lambda s: s.is_monotonic_decreasing).all()
    with pytest.raises(UnknownIdError, match="user 'ghost' is not known"):
        model.recommend("ghost")


def test_recommend_gives_fewer_rows_rather_than_seen_items(name, tutorial):
    model = fitted(name, tutorial)
    recs = model.recommend("Alice", n=10)
    assert sorted(recs["item"]) == ["Frozen", "Moana", "Titanic"]  # the only unseen movies
    assert len(model.recommend("Alice", n=10, exclude_seen=False)) == 6


def test_recommend_allow_and_deny_lists(name, tutorial):
    model = fitted(name, tutorial)
    assert model.recommend("Alice", items=["Moana", "Inception"])["item"].tolist() == ["Moana"]
    assert "Frozen" not in model.recommend("Alice", exclude_items=["Frozen"])["item"].tolist()


def test_save_load_gives_identical_predictions(name, planted, tmp_path):
    model = fitted(name, planted)
    loaded = load_model(model.save(tmp_path / "m"))
    users = planted.user_ids.ids[:50]
    items = planted.item_ids.ids[:50]
    assert np.array_equal(model.predict(users, items), loaded.predict(users, items))
    pd.testing.assert_frame_equal(model.recommend(list(users[:3])), loaded.recommend(list(users[:3])))
    assert loaded.get_params() == model.get_params()
    assert type(loaded) is type(model)


def test_string_ids_survive_save_and_load(name, tutorial, tmp_path):
    loaded = load_model(fitted(name, tutorial).save(tmp_path / "m"))
    assert set(loaded.recommend("Bob", exclude_seen=False)["item"]) == set(tutorial.item_ids.ids)


# ------------------------------------------------------------------ the tutorial example


def test_tutorial_taste_groups_are_recovered(tutorial):
    """SPEC's reference example: with k=2, Alice/Carol like sci-fi, Bob/Dave family films.

    13 ratings leave the unrated cells underdetermined: every seed reaches the same
    training loss (within 2%) with a different guess for them. So the test averages
    the predicted matrix over 10 seeds, as one would average posterior samples.
    """
    scifi, family = ["Inception", "Dark Knight", "Interstellar"], ["Titanic", "Moana", "Frozen"]
    users = ["Alice", "Carol", "Bob", "Dave"]
    grid = np.zeros((4, 6))
    for seed in range(10):
        model = MatrixFactorization(
            n_factors=2,
            n_epochs=1000,
            learning_rate=0.01,
            regularization=0.1,
            constant_regularization=0.0,
            init_std=0.5,
            lr_decay=1.0,
            biased=False,
            random_state=seed,
        ).fit(tutorial)
        grid += np.array([model.predict([u] * 6, scifi + family) for u in users]) / 10
    for row, user in enumerate(users):
        likes_scifi = grid[row, :3].mean() - grid[row, 3:].mean()
        assert (likes_scifi if user in ("Alice", "Carol") else -likes_scifi) > 1.0, (user, grid[row])
    assert grid[1, 2] > 4.0  # Carol never rated Interstellar; she should be predicted to like it


# ------------------------------------------------------------------ SGD specifics


def test_sgd_same_seed_same_model_another_seed_another(planted):
    # Any thread count gives the same model: tests/test_thread_determinism.py (a child with 2 threads).
    one = MatrixFactorization(n_factors=8, n_epochs=5, random_state=3).fit(planted)
    two = MatrixFactorization(n_factors=8, n_epochs=5, random_state=3).fit(planted)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    assert np.array_equal(one.item_bias_, two.item_bias_)
    other = MatrixFactorization(n_factors=8, n_epochs=5, random_state=4).fit(planted)
    assert not np.array_equal(one.user_factors_, other.user_factors_)


@pytest.mark.parametrize(
    "param,value",
    [
        ("n_factors", 12),
        ("n_epochs", 6),
        ("learning_rate", 0.02),
        ("regularization", 0.3),
        ("bias_regularization", 1.0),
        ("lr_decay", 0.8),
        ("init_std", 0.3),
        ("biased", False),
        ("n_blocks", 3),
        ("user_regularization", 0.5),
        ("item_regularization", 0.5),
        ("bias_learning_rate", 0.05),
    ],
)
def test_every_sgd_parameter_changes_the_model(planted, param, value):
    base = dict(n_factors=8, n_epochs=4)
    users, items = planted.user_ids.ids[:200], planted.item_ids.ids[:200]
    reference = MatrixFactorization(**base).fit(planted).predict(users, items)
    changed = MatrixFactorization(**{**base, param: value}).fit(planted).predict(users, items)
    assert not np.allclose(reference, changed)


def test_unbiased_model_has_no_biases(planted):
    model = MatrixFactorization(n_factors=8, n_epochs=3, biased=False).fit(planted)
    assert model.global_mean_ == 0.0 and not model.user_bias_.any() and not model.item_bias_.any()


def test_history_records_train_and_validation_per_epoch(planted):
    train, valid = random_split(planted, 0.2, seed=0)
    rows = []
    model = MatrixFactorization(n_factors=8, n_epochs=6).fit(train, validation=valid, callback=rows.append)
    assert [r["epoch"] for r in model.history_] == list(range(1, 7)) and rows == model.history_
    train_rmse = [r["train_rmse"] for r in model.history_]
    assert train_rmse[-1] < train_rmse[0]
    assert all(r["val_rmse"] > 0 for r in model.history_)
    assert model.history_frame().shape == (6, 4)


def test_divergence_is_reported_with_a_fix(planted):
    with pytest.raises(TrainingError, match="MatrixFactorization diverged in epoch 1.*lower the learning rate"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MatrixFactorization(n_factors=8, n_epochs=3, learning_rate=50.0).fit(planted)


def test_bpr_divergence_is_reported_though_its_auc_stays_finite(planted):
    # NaN scores count as "ranked wrong", so the AUC alone read 0.0 on a model of NaN factors.
    with pytest.raises(TrainingError, match=r"BPR diverged in epoch 1 \(train_auc nan\).*lower the learning rate"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BPR(n_factors=8, n_epochs=3, learning_rate=1e3).fit(planted)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n_factors": 0}, "n_factors must be an int >= 1, got 0"),
        ({"n_factors": 2.5}, "n_factors must be an int"),
        ({"learning_rate": -1}, "learning_rate must be a finite number > 0, got -1"),
        ({"regularization": float("nan")}, "regularization must be a finite number >= 0, got nan"),
        ({"lr_decay": 1.5}, "lr_decay must be a finite number > 0 and <= 1, got 1.5"),
        ({"n_threads": -2}, "n_threads must be an int >= 0"),
    ],
)
def test_bad_hyper_parameters_are_named(tutorial, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        MatrixFactorization(**kwargs).fit(tutorial)


def test_unknown_parameter_and_model_name():
    with pytest.raises(ParameterError, match="has no parameter 'n_factor'"):
        MatrixFactorization().set_params(n_factor=3)
    with pytest.raises(ParameterError, match="unknown model 'svd\\+\\+'"):
        make_model("svd++")


def test_similar_items_and_users_and_embeddings(planted):
    model = MatrixFactorization(n_factors=8, n_epochs=5).fit(planted)
    item = planted.item_ids.ids[3]
    similar = model.similar_items(item, n=5)
    assert len(similar) == 5 and item not in similar["similar_item"].tolist()
    assert similar["similarity"].is_monotonic_decreasing and similar["similarity"].max() <= 1.0 + 1e-6
    assert len(model.similar_users(planted.user_ids.ids[0], n=3)) == 3
    emb = model.embeddings("item")
    assert emb.shape == (planted.n_items, 8) and emb.index[3] == item
    with pytest.raises(ParameterError, match="side must be"):
        model.embeddings("both")


def test_factor_models_have_embeddings(name, planted):
    model = fitted(name, planted)
    if model.n_factors_ == 0:
        pytest.skip(f"{name} has no latent factors")
    assert model.embeddings("item").shape[0] == planted.n_items
    assert len(model.similar_items(planted.item_ids.ids[0], n=3)) == 3


def test_baselines_have_no_latent_space(tutorial):
    for model in (GlobalMean(), Biases(), Popularity()):
        with pytest.raises(ParameterError, match="no latent factors"):
            model.fit(tutorial).similar_items("Inception")


def test_biases_match_the_closed_form_on_a_tiny_case():
    # One user, two items: b_i = (r - mu - b_u) / (reg_i + 1); iterate to the fixed point by hand.
    data = from_arrays([1, 1], ["x", "y"], [5.0, 3.0])
    model = Biases(user_bias_regularization=0.0, item_bias_regularization=0.0, n_epochs=5).fit(data)
    assert model.predict([1, 1], ["x", "y"]).tolist() == pytest.approx([5.0, 3.0])


def test_popularity_ranks_by_count(planted):
    model = Popularity().fit(planted)
    counts = np.bincount(planted.item_idx, minlength=planted.n_items)
    top = model.recommend(planted.user_ids.ids[0], n=3, exclude_seen=False)["item"].tolist()
    assert top == planted.item_ids.to_ids(np.argsort(-counts, kind="stable")[:3]).tolist()


def test_non_finite_scores_raise_instead_of_shortening_top_n(planted):
    model = fitted("sgd", planted)
    model.item_factors_[3] = np.nan
    model.item_bias_[5] = -np.inf
    user = planted.user_ids.ids[0]
    with pytest.raises(TrainingError, match="MatrixFactorization produced non-finite scores.*refit"):
        model.recommend(user, n=len(model.item_map_))
    with pytest.raises(TrainingError, match="non-finite"):
        model.recommend(new_user_ratings={planted.item_ids.ids[0]: 4.0}, n=5)


def test_recommend_scores_say_what_they_are(name, planted):
    model = fitted(name, planted)
    users = list(planted.user_ids.ids[:3])
    recs = model.recommend(users + ["ghost"], n=5, unknown="fallback")
    model_rows, fallback_rows = recs[recs["source"] == "model"], recs[recs["source"] == "popularity"]
    assert (model_rows["score_kind"] == model.score_kind).all()
    assert (fallback_rows["score_kind"] == "popularity").all() and len(fallback_rows) == 5
    counts = dict(zip(model.item_map_.ids, model.item_counts_))
    assert fallback_rows["score"].tolist() == [float(counts[i]) for i in fallback_rows["item"]]
    if model.score_kind == "rating":  # the score is what predict says: a rating on the scale
        predicted = model.predict(model_rows["user"], model_rows["item"])
        np.testing.assert_allclose(model_rows["score"], predicted, atol=1e-4)
        assert model_rows["score"].between(1.0, 5.0).all()


def test_predict_frame_takes_predicts_unknown_policy(tutorial):
    """The README's predict_frame contract: unknown="fallback" flags the row, unknown="error" raises (issue 12 #3)."""
    model = make_model("baseline").fit(tutorial)
    frame = model.predict_frame(["Alice", "ghost"], ["Titanic", "Titanic"], unknown="fallback")
    assert frame["fallback"].tolist() == [False, True]
    assert frame["prediction"].tolist() == pytest.approx(
        model.predict(["Alice", "ghost"], ["Titanic", "Titanic"]).tolist()
    )
    with pytest.raises(UnknownIdError, match="ghost"):
        model.predict_frame(["Alice", "ghost"], ["Titanic", "Titanic"], unknown="error")
    with pytest.raises(ParameterError, match="unknown"):
        model.predict_frame(["Alice"], ["Titanic"], unknown="maybe")


def test_a_rating_model_on_data_without_ratings_says_to_use_an_implicit_one():
    from mfrec.data import from_arrays
    from mfrec.models import ImplicitALS

    rng = np.random.default_rng(0)
    pairs = np.unique(rng.integers(0, 600, 300))  # distinct (user, item) cells of a 30 x 20 grid
    plays = from_arrays(pairs // 20, pairs % 20)  # no ratings: every row counts 1
    with pytest.warns(UserWarning, match=r"every rating in the training data is 1 .*use an implicit-feedback model"):
        MatrixFactorization(n_factors=4, n_epochs=2).fit(plays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImplicitALS(n_factors=4, n_epochs=2).fit(plays)
        Popularity().fit(plays)
