"""Cold start: fold-in, the popularity fallback, attributes, partial_fit, explanations, the cold-start curve."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mfrec.cli.app import app
from mfrec.data import from_arrays, synthetic
from mfrec.data.attributes import AttributeEncoder
from mfrec.evaluation.coldstart import cold_start_curve
from mfrec.exceptions import DataError, ParameterError, UnknownIdError
from mfrec.models import ALS, NMF, Biases, ImplicitALS, MatrixFactorization
from mfrec.models.coldstart import UnknownItemsWarning
from mfrec.models.explain import MEAN_PRIOR_RATINGS, explain_rows, usual_rating
from mfrec.models.persistence import load_model
from mfrec.models.topn import BECAUSE_OVERALL, BECAUSE_POPULAR, BECAUSE_WELL_RATED


@pytest.fixture(scope="module")
def sgd(planted):
    return MatrixFactorization(n_factors=8, n_epochs=20).fit(planted)


def test_fold_in_is_the_regularised_least_squares_solution(sgd, planted):
    items = planted.item_ids.ids[:6]
    ratings = np.array([5, 4, 1, 2, 5, 3], float)
    user = sgd.fold_in(dict(zip(items, ratings)))
    rows = sgd.item_map_.lookup(items)
    G = np.hstack([sgd.item_factors_[rows], np.ones((6, 1))]).astype(np.float64)
    lam, lam_bias = sgd._fold_in_regularization()
    # The training rule: per-rating weight times 6 plus the per-row constants (pseudo-ratings) the fit used.
    const, const_bias = sgd.constant_regularization, float(sgd.bias_regularization_[0])
    penalty = np.diag([lam * 6 + const] * 8 + [lam_bias * 6 + const_bias])
    expected = np.linalg.solve(G.T @ G + penalty, G.T @ (ratings - sgd.global_mean_ - sgd.item_bias_[rows]))
    np.testing.assert_allclose(user.factors, expected[:8], atol=1e-5)
    assert user.bias == pytest.approx(expected[8], abs=1e-5) and user.source == "fold-in"
    predicted = sgd.predict_new_user(user, items[:1])
    manual = sgd.global_mean_ + user.bias + sgd.item_bias_[rows[0]] + sgd.item_factors_[rows[0]] @ user.factors
    assert predicted[0] == pytest.approx(np.clip(manual, 1, 5), abs=1e-5)


def test_a_folded_user_reads_as_one_short_line_of_facts(sgd):
    """The REPL showed the whole factor vector (and the item rows and values) of what fold_in returns."""
    items = list(sgd.item_map_.ids[:3])
    with pytest.warns(UnknownItemsWarning):
        user = sgd.fold_in({items[0]: 5, items[1]: 4, items[2]: 3, "never-seen": 5})
    text = repr(user)
    assert "\n" not in text and len(text) < 200 and "array" not in text
    facts = f"source='fold-in', from 3 items (mean 4), k=8, bias={user.bias:+.3f}, 1 unknown item ignored"
    assert text == f"FoldedUser({facts})"
    assert user.factors.shape == (8,) and user.item_rows.size == 3 and user.ignored_items == ("never-seen",)
    assert repr(sgd.fold_in([])) == "FoldedUser(source='popularity', from 0 items, k=8, bias=+0.000)"


def test_fold_in_recovers_a_training_user(planted):
    """Folding a trained user back in from their own ratings lands near the trained row (ALS: same solve)."""
    model = ALS(n_factors=6, n_epochs=10, solver="cholesky").fit(planted)
    row = 7
    lo, hi = model.seen_indptr_[row], model.seen_indptr_[row + 1]
    ratings = dict(zip(model.item_map_.to_ids(model.seen_indices_[lo:hi]), model.seen_ratings_[lo:hi]))
    folded = model.fold_in(ratings)
    trained = np.append(model.user_factors_[row], model.user_bias_[row])
    again = np.append(folded.factors, folded.bias)
    assert np.linalg.norm(again - trained) < 0.25 * np.linalg.norm(trained)


def test_new_user_recommendations_exclude_what_they_rated_and_say_so(sgd, planted):
    items = list(planted.item_ids.ids[:5])
    recs = sgd.recommend(new_user_ratings={i: 5.0 for i in items}, n=10)
    assert len(recs) == 10 and not set(recs["item"]) & set(items)
    assert (recs["source"] == "fold-in").all() and (recs["user"] == "new-user").all()
    # Items the model never saw are left out, named in a warning and in the result: never silently.
    with pytest.warns(UnknownItemsWarning, match="never-seen"):
        folded = sgd.fold_in({items[0]: 4.0, "never-seen": 5.0})
    assert folded.ignored == 1 and folded.ignored_items == ("never-seen",) and folded.source == "fold-in"
    with pytest.warns(UnknownItemsWarning, match="99999"):
        assert sgd.fold_in({99999: 5.0}).ignored_items == (99999,)
    with pytest.raises(DataError, match="finite"):
        sgd.fold_in({items[0]: float("nan")})


def test_fold_in_ratings_must_be_on_the_model_scale(sgd, planted):
    item = planted.item_ids.ids[0]
    with pytest.raises(DataError, match=r"rating 9 for item .* outside the model's rating scale \[1, 5\]"):
        sgd.fold_in({item: 9.0})
    with pytest.raises(DataError, match="outside"):
        sgd.recommend(new_user_ratings={item: 0.0})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda i: {"user": ["u", "u"], "item": [i, i], "rating": [5, 4]}, r"'user' maps to list; pass columns as a"),
        (lambda i: {i: "five"}, r"rating 'five' for item 7 \(position 0\) is not a number"),
        (lambda i: [(i, 4.0), (i, "x")], r"rating 'x' for item 7 \(position 1\) is not a number"),
        (lambda i: pd.DataFrame({"item": [i], "rating": ["x"]}), r"rating 'x' for item 7 "),
        (lambda i: pd.Series({i: "x"}), r"rating 'x' for item 7 "),
        (lambda i: [(i, 4.0), (i,)], r"rating at position 1 must be an \(item, rating\) pair"),
        (lambda i: [[i, 4.0, 9.0]], r"position 0 must be an \(item, rating\) pair, got \[7, 4.0, 9.0\]"),
        (lambda i: 5, r"must be a dict .* got int 5"),
        (lambda i: "Alien", r"got str 'Alien'"),
        (lambda i: {i: float("nan")}, r"rating nan \(position 0\) is not a finite number"),
        (lambda i: {i: True}, r"rating True for item 7 \(position 0\) is a boolean, not a rating"),
        (lambda i: pd.Series({i: False}), r"rating False for item 7 .* is a boolean"),
        (lambda i: np.array([[i, 4.0, 9.0]]), r"as an array need shape \(n, 2\): \(item, rating\) rows, got \(1, 3\)"),
        (lambda i: [i], r"MatrixFactorization predicts ratings: give each item's rating, e.g. \{7: 4\}"),
        (lambda i: pd.DataFrame({"item": [i]}), r"predicts ratings: give each item's rating"),
    ],
)
def test_malformed_new_user_ratings_are_data_errors_naming_the_value(sgd, planted, make, message):
    item = 7
    assert item in planted.item_ids.ids  # a known item: only the argument's shape is wrong
    with pytest.raises(DataError, match=message):
        sgd.fold_in(make(item))


def test_pairs_as_an_array_and_items_alone_for_an_implicit_model(sgd, planted):
    items = [int(i) for i in planted.item_ids.ids[:3]]
    pairs = np.array([[items[0], 5.0], [items[1], 2.0], [items[2], 4.0]])
    as_dict = sgd.fold_in(dict(zip(items, [5.0, 2.0, 4.0])))
    np.testing.assert_array_equal(sgd.fold_in(pairs).factors, as_dict.factors)
    implicit = ImplicitALS(n_factors=4, n_epochs=2).fit(planted)
    picked = implicit.fold_in(items)  # "interacted with": every item a weight of 1
    np.testing.assert_array_equal(picked.factors, implicit.fold_in(dict.fromkeys(items, 1.0)).factors)


def test_unknown_user_policy(sgd, planted):
    known = planted.user_ids.ids[0]
    with pytest.raises(UnknownIdError, match="ghost"):
        sgd.recommend([known, "ghost"])
    recs = sgd.recommend([known, "ghost"], n=3, unknown="fallback")
    assert recs["user"].tolist() == [known] * 3 + ["ghost"] * 3
    assert recs["source"].tolist() == ["model"] * 3 + ["popularity"] * 3
    most_popular = planted.item_ids.to_ids(np.argsort(-np.bincount(planted.item_idx), kind="stable")[:3])
    assert set(recs[recs.user == "ghost"]["item"]) == set(most_popular)
    assert sgd.recommend(new_user_ratings={}, n=2)["source"].eq("popularity").all()
    with pytest.raises(UnknownIdError):
        sgd.predict(["ghost"], [planted.item_ids.ids[0]], unknown="error")
    with pytest.raises(ParameterError, match="unknown"):
        sgd.recommend([known], unknown="guess")


def test_implicit_fold_in_matches_the_implicit_solve(planted):
    model = ImplicitALS(n_factors=6, n_epochs=4).fit(planted)
    items = planted.item_ids.ids[:4]
    folded = model.fold_in(list(items))
    Y = model.item_factors_.astype(np.float64)
    rows = model.item_map_.lookup(items)
    w = model.alpha
    A = Y.T @ Y + w * Y[rows].T @ Y[rows] + model.regularization * np.eye(6)
    np.testing.assert_allclose(folded.factors, np.linalg.solve(A, (1 + w) * Y[rows].sum(axis=0)), atol=1e-4)


def test_attribute_encoder_round_trips_and_handles_unknowns():
    table = pd.DataFrame(
        {"age": [20, 30, np.nan], "job": ["a", "b", "a"], "genres": ["x|y", "y", None], "zip": ["1", "2", "3"]},
        index=[1, 2, 3],
    )
    encoder = AttributeEncoder.fit(table, max_categories=2)
    assert encoder.feature_names == ["age", "job=a", "job=b", "genres=x", "genres=y", "intercept"]
    again = AttributeEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    row = again.transform({"age": 25, "job": "c", "genres": "y|z"})
    assert row.tolist() == [[0.0, 0.0, 0.0, 0.0, 1.0, 1.0]]  # 25 is the mean; 'c' and 'z' unseen
    with pytest.raises(DataError, match="no usable attribute"):
        AttributeEncoder.fit(pd.DataFrame({"zip": ["1", "2", "3"]}), max_categories=2)


def test_attributes_give_new_users_and_items_a_place(tmp_path):
    """Users who like items by group; their group is an attribute, so a new user is placed by it alone."""
    rng = np.random.default_rng(0)
    users, items, ratings = [], [], []
    for u in range(200):
        for i in rng.choice(60, 20, replace=False):
            users.append(u)
            items.append(int(i))
            ratings.append(5.0 if (i < 30) == (u % 2 == 0) else 1.0)
    data = from_arrays(users, items, ratings, rating_scale=(1, 5))
    model = MatrixFactorization(n_factors=4, n_epochs=40).fit(data)
    groups = pd.DataFrame({"group": ["even" if u % 2 == 0 else "odd" for u in range(200)]}, index=range(200))
    kinds = pd.DataFrame({"kind": ["low" if i < 30 else "high" for i in range(60)]}, index=range(60))
    model.fit_attributes(groups, kinds, regularization=1.0)
    even = model.recommend(user_attributes={"group": "even"}, n=5)
    assert (even["item"] < 30).all() and (even["source"] == "attributes").all()
    odd = model.fold_in([], attributes={"group": "odd"})
    assert model.predict_new_user(odd, [45])[0] > 4.0 > model.predict_new_user(odd, [5])[0] + 2
    model.add_items(pd.DataFrame({"kind": ["low"]}, index=[999]))
    assert model.predict_new_user(model.fold_in([], attributes={"group": "even"}), [999])[0] > 4.0
    loaded = load_model(model.save(tmp_path / "m"))
    assert loaded.recommend(user_attributes={"group": "even"}, n=5)["item"].tolist() == even["item"].tolist()
    with pytest.raises(ParameterError, match="fit_attributes"):
        MatrixFactorization(n_factors=2, n_epochs=2).fit(data).fold_in([], attributes={"group": "odd"})


NEW_USER, NEW_ITEM = 10_000_001, 10_000_002


def test_partial_fit_adds_users_and_items_and_stays_close_to_a_refit(planted):
    frame = planted.to_frame()
    old, new = frame.iloc[:-400], frame.iloc[-400:].copy()
    new.loc[new.index[:50], "user"] = NEW_USER
    new.loc[new.index[:10], "item"] = NEW_ITEM
    new = new.drop_duplicates(["user", "item"], keep="last")
    model = MatrixFactorization(n_factors=8, n_epochs=20).fit(old)
    before = model.predict(list(new.user), list(new.item))
    model.partial_fit(new)
    assert NEW_USER in model.user_map_ and NEW_ITEM in model.item_map_
    assert model.user_factors_.shape[0] == len(model.user_map_) and len(model.seen_ratings_) == len(model.seen_indices_)
    after = model.predict(list(new.user), list(new.item))
    errors = [np.sqrt(np.mean((p - new.rating.to_numpy()) ** 2)) for p in (before, after)]
    assert errors[1] < errors[0]  # it learned from them
    assert NEW_ITEM not in model.recommend(NEW_USER, n=50)["item"].tolist()  # rated: seen
    refit = MatrixFactorization(n_factors=8, n_epochs=20).fit(pd.concat([old, new]))
    test_pairs = frame.iloc[:2000]
    gap = np.abs(
        model.predict(list(test_pairs.user), list(test_pairs.item))
        - refit.predict(list(test_pairs.user), list(test_pairs.item))
    ).mean()
    assert gap < 0.3


@pytest.mark.parametrize(
    "model",
    [
        NMF(n_factors=4, n_epochs=10),
        MatrixFactorization(n_factors=4, n_epochs=5),
        ImplicitALS(n_factors=4, n_epochs=3, threshold=4.0),
    ],
)
def test_low_rated_items_are_never_reasons(model, planted):
    model.fit(planted)
    for u in range(5):
        user = planted.user_ids.ids[u]
        ratings = planted.ratings[planted.user_idx == u]
        floor = 4.0 if isinstance(model, ImplicitALS) else usual_rating(model, ratings)
        for item in model.recommend(user, n=3)["item"]:
            reasons = model.explain(user, item, n=50)  # every positive contribution
            assert (reasons["rating"] >= floor).all(), reasons


def test_explanations_are_liked_similar_items(sgd, planted):
    user = planted.user_ids.ids[3]
    recs = sgd.recommend(user, n=5, explain=True)
    assert "because" in recs.columns
    reasons = sgd.explain(user, recs["item"].iloc[0], n=3)
    assert list(reasons.columns[:4]) == ["because_item", "rating", "similarity", "contribution"]
    user_mean = usual_rating(sgd, planted.ratings[planted.user_idx == 3])
    assert (reasons["rating"] > user_mean).all() and (reasons["similarity"] > 0).all()
    assert reasons["contribution"].is_monotonic_decreasing
    row = sgd.item_map_.lookup([recs["item"].iloc[0]])[0]
    for _, reason in reasons.iterrows():
        other = sgd.item_map_.lookup([reason.because_item])[0]
        q = sgd.item_factors_
        cosine = q[row] @ q[other] / np.linalg.norm(q[row]) / np.linalg.norm(q[other])
        assert reason.contribution == pytest.approx(cosine * (reason.rating - user_mean), rel=1e-4)
    first_reasons = recs["because"].iloc[0].split("; ")
    assert first_reasons == [str(i) for i in reasons["because_item"]]
    with pytest.raises(ParameterError, match="no latent factors"):
        Biases().fit(planted).explain(user, recs["item"].iloc[0])


def test_a_one_rating_user_is_explained_by_that_rating(sgd):
    """Centred on the user's own mean, a single 5 read as "indifferent" and every ``because`` came out empty."""
    liked = sgd.item_map_.ids[0]
    recs = sgd.recommend(new_user_ratings={liked: 5.0}, n=10, explain=True)
    q = sgd.item_factors_
    similar = q[sgd.item_map_.lookup(recs["item"])] @ q[0] > 0
    assert similar.any()
    assert (recs["because"][similar] == str(liked)).all()
    assert recs["because"][~similar].isin([BECAUSE_WELL_RATED, BECAUSE_OVERALL]).all()


def test_a_good_rating_beside_a_better_one_is_still_a_reason(sgd):
    """Centred on the user's own mean, a 4 beside a 5 read as disliked and only the 5 could explain anything."""
    rows = np.array([0, 1], np.int32)
    q = sgd.item_factors_
    target = np.flatnonzero((q @ q[0] > 0) & (q @ q[1] > 0))
    target = target[~np.isin(target, rows)][:1]
    [reasons] = explain_rows(sgd, target, rows, np.array([5.0, 4.0]), 3)
    assert sorted(r for r, _, _ in reasons) == [0, 1]
    usual = (9.0 + MEAN_PRIOR_RATINGS * sgd.global_mean_) / (2 + MEAN_PRIOR_RATINGS)
    weights = {r: contribution / similarity for r, similarity, contribution in reasons}
    assert weights[0] == pytest.approx(5.0 - usual, rel=1e-5) and weights[1] == pytest.approx(4.0 - usual, rel=1e-5)
    [low] = explain_rows(sgd, target, rows, np.array([5.0, 1.0]), 3)  # below the usual: never a reason
    assert [r for r, _, _ in low] == [0]


def test_an_item_no_liked_item_resembles_gets_a_stated_reason_not_an_empty_one(sgd):
    """An allow-list can leave only items unlike anything the user liked: the reason is then said in words."""
    liked, disliked = sgd.item_map_.ids[:2]
    q = sgd.item_factors_
    unlike = q @ q[0] < 0
    unlike[:2] = False
    rated_well = np.flatnonzero(unlike & (sgd.item_bias_ > 0))
    rated_badly = np.flatnonzero(unlike & (sgd.item_bias_ <= 0))
    assert rated_well.size and rated_badly.size
    candidates = sgd.item_map_.to_ids(np.array([rated_well[0], rated_badly[0]]))
    recs = sgd.recommend(new_user_ratings={liked: 5.0, disliked: 1.0}, items=list(candidates), n=2, explain=True)
    because = dict(zip(recs["item"], recs["because"]))
    assert because == {candidates[0]: BECAUSE_WELL_RATED, candidates[1]: BECAUSE_OVERALL}


def test_the_popularity_fallback_and_a_model_without_factors_explain_themselves(sgd, planted):
    fallback = sgd.recommend("nobody", n=3, unknown="fallback", explain=True)
    assert (fallback["because"] == BECAUSE_POPULAR).all()
    biases = Biases().fit(planted)
    recs = biases.recommend(planted.user_ids.ids[3], n=5, explain=True)
    rows = biases.item_map_.lookup(recs["item"])
    expected = np.where(biases.item_bias_[rows] > 0, BECAUSE_WELL_RATED, BECAUSE_OVERALL)
    assert recs["because"].tolist() == expected.tolist()


def test_cold_start_curve_shape_and_sanity():
    data = synthetic(500, 120, 20_000, seed=1)
    attributes = pd.DataFrame({"segment": ["a" if u % 2 else "b" for u in data.user_ids.ids]}, index=data.user_ids.ids)
    curve = cold_start_curve(
        data,
        lambda: MatrixFactorization(n_factors=8, n_epochs=15),
        n_users=40,
        revealed=(0, 5, 20),
        user_attributes=attributes,
    )
    assert {(r["method"], r["revealed"]) for r in curve} == {
        (m, n) for m in ("fold-in", "side-info", "popularity", "retrain") for n in (0, 5, 20)
    }
    at = {(r["method"], r["revealed"]): r for r in curve}
    assert at[("fold-in", 20)]["rmse"] < at[("fold-in", 0)]["rmse"]
    assert at[("fold-in", 20)]["rmse"] < at[("popularity", 20)]["rmse"]
    assert all(r["users"] == 40 for r in curve)
    with pytest.raises(DataError, match="cannot hold out"):
        cold_start_curve(data, Biases, n_users=10_000)


def test_ml100k_cold_start_bars(ml100k_path):
    from mfrec.data import load

    curve = cold_start_curve(load(ml100k_path), MatrixFactorization, n_users=200, seed=0, revealed=(0, 10))
    at = {(r["method"], r["revealed"]): r for r in curve}
    assert at[("fold-in", 10)]["ndcg@10"] >= 0.9 * at[("retrain", 10)]["ndcg@10"]
    assert abs(at[("fold-in", 10)]["rmse"] - at[("retrain", 10)]["rmse"]) <= 0.01
    assert at[("side-info", 0)]["rmse"] < at[("popularity", 0)]["rmse"]


def test_cli_cold_start_and_new_user_recommendations(tmp_path):
    data = synthetic(300, 80, 9_000, seed=0)
    path = tmp_path / "d.csv"
    data.to_frame().to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(path),
            "--protocol",
            "cold-start",
            "--cold-users",
            "30",
            "--epochs",
            "5",
            "--json",
            "--quiet",
            "--plot",
            str(tmp_path / "curve.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    curve = json.loads(result.output)["curve"]
    assert {"method", "revealed", "rmse", "ndcg@10", "users"} <= set(curve[0])
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    trained = runner.invoke(app, ["train", str(path), "--epochs", "5", "-o", str(tmp_path / "m"), "--quiet"])
    assert trained.exit_code == 0, trained.output
    item = str(data.item_ids.ids[0])
    recs = runner.invoke(app, ["recommend", str(tmp_path / "m"), "-r", f"{item}=5", "--explain", "--json"])
    assert recs.exit_code == 0, recs.output
    rows = json.loads(recs.output)["recommendations"]
    assert rows[0]["source"] == "fold-in" and "because" in rows[0]
    bad = runner.invoke(app, ["recommend", str(tmp_path / "m"), "-r", "oops"])
    assert bad.exit_code == 2 and "ITEM=RATING" in bad.output
    fallback = runner.invoke(app, ["recommend", str(tmp_path / "m"), "-u", "nobody", "--unknown", "fallback", "--json"])
    assert json.loads(fallback.output)["recommendations"][0]["source"] == "popularity"


def test_cli_cold_start_curve_goes_into_the_run_report(tmp_path):
    path = tmp_path / "d.csv"
    synthetic(300, 80, 9_000, seed=0).to_frame().to_csv(path, index=False)
    runner = CliRunner()
    orphan = runner.invoke(
        app, ["evaluate", str(path), "--protocol", "cold-start", "--run-dir", str(tmp_path / "none"), "--quiet"]
    )
    assert orphan.exit_code == 2 and "is not a run folder" in orphan.output
    run = str(tmp_path / "run")
    made = runner.invoke(app, ["evaluate", str(path), "--epochs", "5", "--run-dir", run, "--quiet", "--no-baselines"])
    assert made.exit_code == 0, made.output
    added = runner.invoke(
        app,
        [
            "evaluate",
            str(path),
            "--protocol",
            "cold-start",
            "--cold-users",
            "30",
            "--epochs",
            "5",
            "--run-dir",
            run,
            "--quiet",
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["cold_start"]["curve"][0]["users"] == 30
    report = runner.invoke(app, ["report", run, "-o", str(tmp_path / "r.html"), "--quiet"])
    assert report.exit_code == 0 and "<h2>Cold start</h2>" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("name", ["nmf", "svd", "bayesian", "bpr", "baseline", "global-mean", "popularity"])
def test_partial_fit_is_refused_where_the_update_does_not_fit_the_objective(name, planted):
    from mfrec.models import make_model

    model = make_model(name, **({"n_epochs": 2} if name in ("nmf", "bpr") else {})).fit(planted)
    with pytest.raises(ParameterError, match="does not support partial_fit.*refit"):
        model.partial_fit(planted.to_frame().iloc[:10])


def test_implicit_updates_apply_the_threshold(planted):
    model = ImplicitALS(n_factors=4, n_epochs=3, threshold=4.0).fit(planted)
    items = list(planted.item_ids.ids[:3])
    # Below-threshold values are seen, not interactions: alone they place the user nowhere.
    assert np.allclose(model.fold_in({items[0]: 1.0, items[1]: 2.0}).factors, 0.0)
    assert not np.allclose(model.fold_in({items[0]: 5.0, items[1]: 2.0}).factors, 0.0)
    model.partial_fit(pd.DataFrame({"user": [NEW_USER] * 2, "item": items[:2], "rating": [1.0, 2.0]}))
    assert np.allclose(model.user_factors_[model.user_map_.lookup([NEW_USER])[0]], 0.0)


@pytest.mark.parametrize("biased", [True, False])
def test_nmf_fold_in_keeps_factors_non_negative_and_a_bias_only_when_biased(planted, biased):
    model = NMF(n_factors=4, n_epochs=10, biased=biased).fit(planted)
    items = list(planted.item_ids.ids[:8])
    folded = model.fold_in(dict(zip(items, [1.0, 5.0, 1.0, 5.0, 2.0, 4.0, 1.0, 5.0])))
    assert (folded.factors >= 0).all()
    predicted = model.predict_new_user(folded, items[:2])
    rows = model.item_map_.lookup(items[:2])
    expected = model.item_factors_[rows] @ folded.factors
    if biased:  # a free bias (two non-negative halves in the NNLS), below zero for a user rating under the mean
        assert folded.bias < 0.0
        expected = expected + model.global_mean_ + model.item_bias_[rows] + folded.bias
    else:
        assert folded.bias == 0.0
    np.testing.assert_allclose(predicted, np.clip(expected, 1, 5), rtol=1e-5)


def test_cold_start_ndcg_counts_unknown_liked_items_as_misses():
    """Same NDCG as the main protocol: a liked item no training user rated stays relevant (a miss)."""
    users, items, ratings = [], [], []
    for i in range(10):  # training users: 2-4 ratings each, too few to be held out; "a" the most popular
        for item, upto in (("a", 10), ("d", 9), ("b", 8), ("c", 6)):
            if i < upto:
                users.append(f"t{i}"), items.append(item), ratings.append(3.0)
    for item, rating in (("a", 5.0), ("solo", 5.0), ("b", 1.0), ("c", 1.0), ("d", 1.0), ("e", 1.0)):
        users.append("held"), items.append(item), ratings.append(rating)
    data = from_arrays(users, items, ratings)
    curve = cold_start_curve(data, Biases, n_users=1, revealed=(0,), methods=("popularity",), k=10)
    # "a" is ranked first; "solo" cannot be ranked: DCG 1 over the ideal of two hits.
    assert curve[0]["ndcg@10"] == pytest.approx(1 / (1 + 1 / np.log2(3)))


def test_cold_start_curve_says_once_that_some_revealed_items_are_unknown():
    from mfrec.data import from_arrays
    from mfrec.evaluation.coldstart import cold_start_curve
    from mfrec.models import Biases
    from mfrec.models.coldstart import UnknownItemsWarning

    rng = np.random.default_rng(0)
    users, items, ratings, times = [], [], [], []
    for user in range(60):  # 12 shared items, then one only this user rated, revealed first (by time)
        own = [1000 + user] + list(rng.choice(30, 12, replace=False))
        users += [user] * 13
        items += own
        ratings += list(rng.integers(1, 6, 13).astype(float))
        times += list(range(13))
    data = from_arrays(users, items, ratings, times)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cold_start_curve(data, Biases, n_users=10, revealed=(0, 1, 3), order="time", methods=["fold-in"])
    unknown = [w for w in caught if issubclass(w.category, UnknownItemsWarning)]
    assert len(unknown) == 1  # was one per held-out user and point of the curve (20 here)
    assert "10 item(s) the held-out users reveal are rated by no training user" in str(unknown[0].message)
