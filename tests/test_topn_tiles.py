"""Top-N by tiles (issue 16, batch recommend for every user): the same lists as scoring every item at once.

The reference is :func:`mfrec.ranking.topn._top_n_scored`, the full-matrix path (``rank_scores`` of a
block of users x all items, then ``top_k``) that ``top_n_rows`` took for every model before, and
still takes for models with their own scorer.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mfrec import ranking
from mfrec.data import from_arrays, synthetic
from mfrec.exceptions import TrainingError
from mfrec.models import MatrixFactorization, make_model
from mfrec.ranking import tiles as tiled
from mfrec.ranking import topn

K = 5


def reference(model, rows, k, exclude_seen=True, allowed=None):
    n_items = len(model.item_map_)
    k = min(k, n_items)
    out = [
        np.full((len(rows), k), -1, np.int32),
        np.full((len(rows), k), np.nan, np.float32),
        np.zeros(len(rows), np.int32),
    ]
    allowed = np.ones(n_items, bool) if allowed is None else allowed
    topn._top_n_scored(model, np.asarray(rows, np.int32), k, exclude_seen, allowed, *out)
    return out


def assert_same(got, want):
    items, scores, counts = got
    np.testing.assert_array_equal(counts, want[2])
    np.testing.assert_array_equal(items, want[0])
    valid = np.arange(items.shape[1])[None, :] < counts[:, None]
    # GEMM edge kernels on tiny tiles may round the last bit differently; default tiles are bit for bit.
    np.testing.assert_allclose(scores[valid], want[1][valid], rtol=1e-5, atol=1e-6)
    assert np.isnan(scores[~valid]).all() and (items[~valid] == -1).all()


@pytest.fixture(scope="module")
def data():
    return synthetic(90, 70, 2_400, seed=3)


FITTED: dict = {}


def fitted(name, data, rank_by=None):
    key = (name, rank_by)
    if key not in FITTED:
        params = {"n_factors": 8, "n_epochs": 3} if name not in ("baseline", "popularity") else {}
        if rank_by is not None:
            params["rank_by"] = rank_by
        FITTED[key] = make_model(name, **params).fit(data)
    return FITTED[key]


@pytest.fixture(params=["default", "tiny"])
def tiles(request, monkeypatch):
    """Default tiles, and 2 users x 3 items with pruning from the first user: the tiling must not matter."""
    if request.param == "tiny":
        monkeypatch.setattr(tiled, "TILE_USERS", 2)
        monkeypatch.setattr(tiled, "TILE_ITEMS", 3)
        monkeypatch.setattr(tiled, "PRUNE_MIN_USERS", 1)
    return request.param


MODELS = [
    ("sgd", "pick-like"),
    ("sgd", "rating"),
    ("svdpp", "rating"),
    ("als", "pick-like"),
    ("als", "rating"),
    ("baseline", "pick-like"),
    ("bpr", None),
    ("implicit-als", None),
    ("popularity", None),
]


@pytest.mark.parametrize(("name", "rank_by"), MODELS)
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_tiled_lists_equal_full_matrix_lists(data, tiles, name, rank_by, exclude_seen):
    model = fitted(name, data, rank_by)
    rows = np.arange(len(model.user_map_), dtype=np.int32)[::-1].copy()  # any order of users
    got = ranking.top_n_rows(model, rows, K, exclude_seen=exclude_seen)
    assert_same(got, reference(model, rows, K, exclude_seen))
    assert tiled.factor_scorer(model) == (name != "popularity")


@pytest.mark.parametrize(("name", "rank_by"), [("sgd", "pick-like"), ("sgd", "rating"), ("bpr", None)])
def test_allow_and_deny_lists_and_k_above_the_candidates(data, tiles, name, rank_by):
    model = fitted(name, data, rank_by)
    ids = model.item_map_.ids
    rows = np.arange(len(model.user_map_), dtype=np.int32)
    allow = ranking.candidate_mask(model, items=ids[:4])  # 4 candidates, fewer for users who saw some
    got = ranking.top_n_rows(model, rows, 10, allowed=allow)
    assert_same(got, reference(model, rows, 10, allowed=allow))
    assert got[0].shape == (len(rows), 10) and got[2].max() <= 4 and np.isin(got[0][got[0] >= 0], np.arange(4)).all()
    deny = ranking.candidate_mask(model, exclude_items=ids[::2])
    got = ranking.top_n_rows(model, rows, K, allowed=deny)
    assert_same(got, reference(model, rows, K, allowed=deny))
    assert (got[0] % 2 == 1).all()


def test_through_recommend_and_model_dtypes(data, tiles):
    """recommend answers from the tiled path; float64 biases and a float64 mean round as numpy rounds them."""
    model = make_model("sgd", n_factors=8, n_epochs=3).fit(data)
    rows = np.arange(len(model.user_map_), dtype=np.int32)
    model.item_bias_ = model.item_bias_.astype(np.float64)
    model.global_mean_ = np.float64(model.global_mean_)
    assert_same(ranking.top_n_rows(model, rows, K), reference(model, rows, K))
    frame = model.recommend(model.user_map_.ids[:3], K)
    want = reference(model, rows[:3], K)
    np.testing.assert_array_equal(model.item_map_.lookup(frame["item"]), want[0].ravel())


def test_ties_go_to_the_lower_item_index(data, tiles):
    """All-equal scores (zero factors and biases): every list is the user's first unseen items."""
    model = make_model("sgd", n_factors=4, n_epochs=1).fit(data)
    for name in (
        "user_factors_",
        "item_factors_",
        "user_bias_",
        "item_bias_",
        "pick_user_factors_",
        "pick_item_factors_",
    ):
        setattr(model, name, np.zeros_like(getattr(model, name)))
    rows = np.arange(len(model.user_map_), dtype=np.int32)
    got = ranking.top_n_rows(model, rows, K)
    assert_same(got, reference(model, rows, K))
    for row in (0, 17, 60):
        seen = set(model.seen_indices_[model.seen_indptr_[row] : model.seen_indptr_[row + 1]].tolist())
        assert got[0][row].tolist() == [i for i in range(len(model.item_map_)) if i not in seen][:K]


def test_a_user_who_saw_every_item_gets_an_empty_list(tiles):
    users = [0] * 6 + [1, 1, 2, 2, 3]
    items = list(range(6)) + [0, 1, 2, 3, 4]
    ratings = [5.0, 4.0, 3.0, 2.0, 1.0, 4.0, 4.0, 3.0, 5.0, 2.0, 3.0]
    for name in ("sgd", "bpr"):
        model = make_model(name, n_factors=2, n_epochs=2).fit(from_arrays(users, items, ratings))
        rows = np.arange(4, dtype=np.int32)
        got = ranking.top_n_rows(model, rows, 10)
        assert_same(got, reference(model, rows, 10))
        assert got[2].tolist() == [0, 4, 4, 5]


class Shifted(MatrixFactorization):
    """A model with its own scorer: the full-matrix path serves it."""

    def _score_items(self, user_rows):
        return super()._score_items(user_rows) - self.item_counts_.astype(np.float32)[None, :]


def test_models_with_their_own_scorer_keep_it(data, tiles):
    model = Shifted(n_factors=4, n_epochs=2, rank_by="rating").fit(data)
    rows = np.arange(len(model.user_map_), dtype=np.int32)
    assert not tiled.factor_scorer(model)
    assert_same(ranking.top_n_rows(model, rows, K), reference(model, rows, K))
    # A scorer set on the instance (as benchmarks/bench_ranking.py does) is honoured too.
    plain = make_model("sgd", n_factors=4, n_epochs=2, rank_by="rating").fit(data)
    n_items = len(plain.item_map_)
    plain.score_items = lambda user_rows: -np.tile(np.arange(n_items, dtype=np.float32), (len(user_rows), 1))
    assert not tiled.factor_scorer(plain)
    assert ranking.top_n_rows(plain, np.array([5], np.int32), 2, exclude_seen=False)[0].tolist() == [[0, 1]]


BROKEN = {
    "nan user factor": ("user_factors_", np.nan),
    "inf item factor": ("item_factors_", np.inf),
    "nan pick factor": ("pick_item_factors_", np.nan),
    "nan item bias": ("item_bias_", np.nan),
    "overflowing dot": ("both", 1e20),  # finite factors whose dot products are +inf
}


@pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning", "ignore:overflow encountered:RuntimeWarning"
)
@pytest.mark.parametrize(
    ("rank_by", "case"),
    [(r, c) for r in ("pick-like", "rating") for c in BROKEN if r == "pick-like" or "pick" not in c],
)
def test_a_diverged_model_raises_as_before(data, tiles, rank_by, case):
    model = make_model("sgd", n_factors=4, n_epochs=1, rank_by=rank_by).fit(data)
    array, value = BROKEN[case]
    if array == "both":
        model.user_factors_ = model.user_factors_.copy()
        model.user_factors_[3] = value
        model.item_factors_ = np.full_like(model.item_factors_, value)
    else:
        broken = getattr(model, array).copy()
        broken[3] = value
        setattr(model, array, broken)
    rows = np.arange(len(model.user_map_), dtype=np.int32)
    try:
        want = reference(model, rows, K)
    except TrainingError:
        with pytest.raises(TrainingError, match="MatrixFactorization produced non-finite scores.*diverged"):
            ranking.top_n_rows(model, rows, K)
        return
    # Only these score finitely: an infinite predicted rating is a "like" of 1 under pick x like.
    assert rank_by == "pick-like" and case == "overflowing dot"
    assert_same(ranking.top_n_rows(model, rows, K), want)


def test_memory_is_bounded_by_the_tiles_not_users_x_items(monkeypatch):
    """400 users x 300 items: the full-matrix path held 2 x 480 KB score blocks; tiles of 16 x 32 stay tiny."""
    model = make_model("sgd", n_factors=4, n_epochs=1).fit(synthetic(400, 300, 6_000, seed=1))
    monkeypatch.setattr(tiled, "TILE_USERS", 16)
    monkeypatch.setattr(tiled, "TILE_ITEMS", 32)
    rows = np.arange(400, dtype=np.int32)
    ranking.top_n_rows(model, rows[:40], K)  # compile outside the measurement
    tracemalloc.start()
    try:
        ranking.top_n_rows(model, rows, K)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400 * 300 * 4 // 4, peak


def test_candidate_ratings_round_as_the_gemm_does():
    """The pruned path forms a candidate's rating in numba: one FMA chain in factor order, which is how
    OpenBLAS's sgemm kernels form each element, so its values equal ``P @ Q.T`` bit for bit."""
    from mfrec.kernels.topk import blas_dots

    rng = np.random.default_rng(0)
    P = rng.standard_normal((64, 64)).astype(np.float32)
    Q = rng.standard_normal((1024, 64)).astype(np.float32)
    full = P @ Q.T
    items = np.arange(0, 1024, 7, dtype=np.int64)
    out = np.empty(items.size, np.float32)
    for u in (0, 31, 63):
        blas_dots(P[u], Q, items, items.size, out)
        np.testing.assert_array_equal(out, full[u, items])
