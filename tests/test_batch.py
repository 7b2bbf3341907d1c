"""Top-N for every user streamed to Parquet on one machine (mfrec.batch, ``mfrec recommend --all``)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mfrec.batch import recommendation_batches, write_recommendations
from mfrec.data import synthetic
from mfrec.exceptions import ParameterError, UnknownIdError
from mfrec.models import ALS


@pytest.fixture(scope="module")
def model():
    return ALS(n_factors=4, n_epochs=3, n_threads=1).fit(synthetic(50, 30, 600, seed=0))


def test_written_file_holds_every_users_recommend_rows(model, tmp_path):
    path = tmp_path / "recs.parquet"
    rows = write_recommendations(model, path, n=3, batch_size=7)  # several row groups
    written = pd.read_parquet(path)
    expected = model.recommend(model.user_map_.ids, 3)
    assert rows == len(written) == len(expected) == 3 * len(model.user_map_)
    assert pq.ParquetFile(path).num_row_groups == -(-len(model.user_map_) // 7)
    np.testing.assert_array_equal(written["user"], expected["user"])
    np.testing.assert_array_equal(written["item"], expected["item"])
    np.testing.assert_array_equal(written["score"], expected["score"].astype(np.float32))
    assert written.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int32"]


def test_chosen_users_and_unknown_user(model, tmp_path):
    frames = list(recommendation_batches(model, [3, 1], n=2))
    assert frames[0]["user"].tolist() == [3, 3, 1, 1]
    with pytest.raises(UnknownIdError, match="999"):
        write_recommendations(model, tmp_path / "recs.parquet", users=[1, 999])
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_folder_as_output_is_refused(model, tmp_path):
    with pytest.raises(ParameterError, match="folder"):
        write_recommendations(model, tmp_path)


def test_cli_recommend_all_writes_parquet_on_one_machine(model, tmp_path):
    from typer.testing import CliRunner

    from mfrec.cli import app

    model.save(tmp_path / "model")
    out = tmp_path / "recs.parquet"
    result = CliRunner().invoke(app, ["recommend", str(tmp_path / "model"), "--all", "-n", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    assert len(written) == 2 * len(model.user_map_)
    np.testing.assert_array_equal(written["item"], model.recommend(model.user_map_.ids, 2)["item"])
    missing = CliRunner().invoke(app, ["recommend", str(tmp_path / "model"), "--all"])
    assert missing.exit_code == 2 and "--output" in missing.output
