"""The one-machine scale path: synth defaults, the bounded-memory train path, sampled ranking evaluation."""

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from mfrec.cli.app import app

runner = CliRunner()


def test_synth_sizes_users_and_items_from_ratings(tmp_path):
    out = tmp_path / "big.parquet"
    result = runner.invoke(app, ["datasets", "synth", "--ratings", "1200000", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 1_200_000
    table = pq.read_table(out, columns=["user", "item"])
    # ratings/100 users (at least 10,000) and ratings/500 items (at least 5,000), as the 20M and 100M sets.
    assert table.column("user").to_numpy().max() == 12_000
    assert table.column("item").to_numpy().max() <= 5_000


def test_train_reads_grouped_rows_and_saves(tmp_path):
    out = tmp_path / "r.parquet"
    assert (
        runner.invoke(
            app, ["datasets", "synth", "--users", "300", "--items", "80", "--ratings", "5000", "-o", str(out), "-q"]
        ).exit_code
        == 0
    )
    result = runner.invoke(
        app, ["train", str(out), "--factors", "4", "--epochs", "2", "-o", str(tmp_path / "m"), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ratings"] == 5000


def test_ranking_on_a_seeded_user_sample():
    from mfrec.data import random_split, synthetic
    from mfrec.evaluation import score
    from mfrec.models import Biases

    train, test = random_split(synthetic(400, 100, 12_000, seed=3), 0.2, seed=0)
    model = Biases().fit(train)
    everyone = score(model, train, test)
    sampled = score(model, train, test, max_users=50, seed=1)
    assert (sampled["users_evaluated"], sampled["users_eligible"]) == (50, everyone["users_evaluated"])
    assert sampled["ndcg@10"] == score(model, train, test, max_users=50, seed=1)["ndcg@10"]  # seeded
    assert sampled["ndcg@10"] != everyone["ndcg@10"] and sampled["rmse"] == everyone["rmse"]  # ratings: all of them
    whole = score(model, train, test, max_users=10_000)
    assert [whole[key] for key in ("ndcg@10", "users_evaluated")] == [
        everyone[key] for key in ("ndcg@10", "users_evaluated")
    ]


def test_cli_evaluate_states_the_sample(tmp_path):
    from mfrec.data import synthetic

    path = tmp_path / "r.csv"
    synthetic(400, 100, 12_000, seed=3).to_frame().to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(path),
            "--protocol",
            "temporal",
            "-m",
            "baseline",
            "--no-baselines",
            "--rank-users",
            "40",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ranking: 40 user-folds evaluated (a seeded sample of " in result.stdout
    payload = json.loads(
        runner.invoke(
            app, ["evaluate", str(path), "-m", "baseline", "--no-baselines", "--json", "-q", "--rank-users", "0"]
        ).stdout
    )
    assert payload["users_evaluated"] == payload["users_eligible"] > 40


def test_grid_gives_each_user_about_four_ratings_a_block():
    import numpy as np

    from mfrec.data import from_arrays
    from mfrec.models import make_model
    from mfrec.models.blocking import grid_size

    # 100M ratings (1M users x 200k items, k = 64): the L2 rule alone asks for 98 (capped at 64).
    assert grid_size(200_000, 64) == 64
    assert grid_size(200_000, 64, ratings_per_user=100) == 24
    assert grid_size(1_682, 64, ratings_per_user=85) == 8  # ML-100k: unchanged
    assert grid_size(200_000, 64, 40, ratings_per_user=100) == 40  # an explicit n_blocks wins
    # 1,000 users x 40 ratings over 40,000 items: the L2 rule asks for 20 blocks, 40 ratings a user allow 10.
    users = np.repeat(np.arange(1_000), 40)
    data = from_arrays(users, np.arange(40_000), np.random.default_rng(0).integers(1, 6, 40_000).astype(float))
    assert make_model("sgd", n_factors=64, n_epochs=1, rank_by="rating").fit(data).n_blocks_ == 10


def _synth_parquet(tmp_path):
    out = tmp_path / "r.parquet"
    args = ["datasets", "synth", "--users", "300", "--items", "80", "--ratings", "6000", "-o", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    return out


def test_a_subset_of_rows_grouped_by_user_is_its_own_csr(tmp_path):
    import numpy as np

    from mfrec.data.chunked import read_chunked
    from mfrec.kernels.sparse import csr_by_user

    data = read_chunked(_synth_parquet(tmp_path), order="user")
    part = data.subset(np.arange(len(data)) % 3 != 0)
    indptr, indices, ratings = part.user_csr()
    assert indices is part.item_idx and ratings is part.ratings  # no second copy of the ratings
    want = csr_by_user(part.user_idx, part.item_idx, part.ratings, part.n_users)
    for got, expected in zip((indptr, indices, ratings), want):
        np.testing.assert_array_equal(got, expected)


def test_temporal_split_without_timestamps_is_the_same_split(tmp_path):
    import numpy as np

    from mfrec.evaluation import make_splits

    path = _synth_parquet(tmp_path)
    (_, [(train, test)]), (full, [(train_lean, test_lean)]) = (
        make_splits(path, "temporal", keep_timestamps=keep) for keep in (True, False)
    )
    assert full.timestamps is None and train_lean.timestamps is None and test_lean.timestamps is None
    assert train.timestamps is not None

    def triples(data):
        frame = data.to_frame()
        return sorted(zip(frame["user"], frame["item"], frame["rating"]))

    assert triples(train_lean) == triples(train) and triples(test_lean) == triples(test)
    assert train_lean.user_csr()[1] is train_lean.item_idx  # grouped by user: the train rows are the CSR
    np.testing.assert_array_equal(train_lean.user_csr()[1], train.user_csr()[1])


def test_biases_fit_in_row_chunks_without_per_rating_copies(monkeypatch):
    import tracemalloc

    import numpy as np

    from mfrec.data import synthetic
    from mfrec.models import baselines, make_model

    data = synthetic(3_000, 800, 200_000, seed=1)
    whole = make_model("baseline", rank_by="rating").fit(data)
    monkeypatch.setattr(baselines, "_CHUNK_ROWS", 10_000)
    tracemalloc.start()
    try:
        chunked = make_model("baseline", rank_by="rating").fit(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(chunked.user_bias_, whole.user_bias_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(chunked.item_bias_, whole.item_bias_, rtol=0, atol=1e-6)
    # The fit before: float64 residuals of every rating, and each rating's ids copied for the RMSE (32 bytes a rating).
    assert peak < 24 * len(data), f"Biases.fit peaked at {peak / len(data):.1f} bytes a rating"
