"""Batch recommend for all users (mfrec.ranking.batch, ``recommend --all``): streamed Parquet equals per-user lists."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mfrec.cli.app import app
from mfrec.data import from_arrays, synthetic
from mfrec.exceptions import ParameterError, UnknownIdError
from mfrec.models import ALS, ImplicitALS, MatrixFactorization
from mfrec.ranking import recommend_all, recommendation_batches, write_recommendations

runner = CliRunner()


@pytest.fixture(scope="module")
def model():
    return MatrixFactorization(n_factors=8, n_epochs=5, n_threads=1).fit(synthetic(120, 60, 2_400, seed=2))


def per_user(model, users, n, **kwargs):
    frame = model.recommend(users, n, **kwargs)[["user", "item", "score", "rank"]]
    return frame.astype({"score": np.float32, "rank": np.int32})


def test_streamed_parquet_equals_per_user_recommend(model, tmp_path):
    path = tmp_path / "recs.parquet"
    done = recommend_all(model, path, n=7, chunk_users=25)  # 5 row groups
    assert done == {"users": 120, "rows": 840, "row_groups": 5, "output": str(path)}
    assert pq.ParquetFile(path).metadata.num_row_groups == 5
    got = pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, per_user(model, model.user_map_.ids, 7))
    assert not list(tmp_path.glob(".recs.parquet.partial*"))


def test_subset_lists_seen_items_and_string_ids(tmp_path):
    data = from_arrays(["a", "a", "b", "c", "c"], ["x", "y", "x", "z", "y"], [5, 1, 4, 2, 5])
    model = ImplicitALS(n_factors=2, n_epochs=3).fit(data)
    path = tmp_path / "r.parquet"
    recommend_all(model, path, n=5, users=["c", "a"], exclude_items=["z"], chunk_users=1)
    got = pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, per_user(model, ["c", "a"], 5, exclude_items=["z"]))
    assert got["user"].tolist() == ["c"] and got["item"].tolist() == ["x"]  # "a" has seen every allowed item
    recommend_all(model, path, n=2, exclude_seen=False)
    assert len(pd.read_parquet(path)) == 6
    with pytest.raises(UnknownIdError, match="'nobody'"):
        recommend_all(model, path, users=["nobody"])


def test_cli_recommend_all_writes_parquet(model, tmp_path):
    model.save(tmp_path / "m")
    out = tmp_path / "all.parquet"
    result = runner.invoke(app, ["recommend", str(tmp_path / "m"), "--all", "-o", str(out), "-n", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert '"rows": 480' in result.stdout and '"engine": "local"' in result.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out), per_user(model, model.user_map_.ids, 4), atol=1e-6)
    missing = runner.invoke(app, ["recommend", str(tmp_path / "m"), "--all"])
    assert missing.exit_code == 2 and "--output" in missing.stderr


# The entry points the Spark engine shares (recommendation_batches, write_recommendations).


@pytest.fixture(scope="module")
def als_model():
    return ALS(n_factors=4, n_epochs=3, n_threads=1).fit(synthetic(50, 30, 600, seed=0))


def test_written_file_holds_every_users_recommend_rows(als_model, tmp_path):
    path = tmp_path / "recs.parquet"
    rows = write_recommendations(als_model, path, n=3, batch_size=7)  # several row groups
    written = pd.read_parquet(path)
    expected = als_model.recommend(als_model.user_map_.ids, 3)
    assert rows == len(written) == len(expected) == 3 * len(als_model.user_map_)
    assert pq.ParquetFile(path).num_row_groups == -(-len(als_model.user_map_) // 7)
    np.testing.assert_array_equal(written["user"], expected["user"])
    np.testing.assert_array_equal(written["item"], expected["item"])
    np.testing.assert_array_equal(written["score"], expected["score"].astype(np.float32))
    assert written.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int32"]


def test_chosen_users_and_unknown_user(als_model, tmp_path):
    frames = list(recommendation_batches(als_model, [3, 1], n=2))
    assert frames[0]["user"].tolist() == [3, 3, 1, 1]
    with pytest.raises(UnknownIdError, match="999"):
        write_recommendations(als_model, tmp_path / "recs.parquet", users=[1, 999])
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_folder_as_output_is_refused(als_model, tmp_path):
    with pytest.raises(ParameterError, match="folder"):
        write_recommendations(als_model, tmp_path)


def test_cli_recommend_all_writes_parquet_on_one_machine(als_model, tmp_path):
    from typer.testing import CliRunner

    from mfrec.cli import app

    als_model.save(tmp_path / "model")
    out = tmp_path / "recs.parquet"
    result = CliRunner().invoke(app, ["recommend", str(tmp_path / "model"), "--all", "-n", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    assert len(written) == 2 * len(als_model.user_map_)
    np.testing.assert_array_equal(written["item"], als_model.recommend(als_model.user_map_.ids, 2)["item"])
    missing = CliRunner().invoke(app, ["recommend", str(tmp_path / "model"), "--all"])
    assert missing.exit_code == 2 and "--output" in missing.output
