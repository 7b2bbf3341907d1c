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
    assert runner.invoke(app, ["datasets", "synth", "--users", "300", "--items", "80", "--ratings", "5000",
                               "-o", str(out), "-q"]).exit_code == 0  # fmt: skip
    result = runner.invoke(app, ["train", str(out), "--factors", "4", "--epochs", "2", "-o", str(tmp_path / "m"),
                                 "--json", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ratings"] == 5000
