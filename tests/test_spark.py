"""mfrec on Spark: a real local[2] session, small data. Without pyspark or Java: skipped with the reason, or
failed under ``CI=true`` (``.ci/run`` installs a JRE when there is none)."""

import numpy as np
import pandas as pd
import pytest
from ci_support import missing_dependency
from conftest import require_ml100k

from mfrec.spark.session import java_home, missing

REASON = missing()
if REASON is not None:
    missing_dependency(f"{REASON} (pyspark finds Java via JAVA_HOME or PATH)")
pytestmark = [
    # pyspark 4's own blanket warnings about pandas 3 (see mfrec.spark.session.quiet_pandas_warning), nothing of ours.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def test_missing_java_is_reported_with_what_to_do(monkeypatch):
    from mfrec.exceptions import ParameterError
    from mfrec.spark.session import require_spark

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    assert java_home() is None
    with pytest.raises(ParameterError, match="Java 17"):
        require_spark()


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    from mfrec.data import synthetic

    frame = synthetic(60, 40, 1200, seed=0).to_frame()[["user", "item", "rating"]]
    return frame.assign(user="u" + frame["user"].astype(str))  # string users, integer items


@pytest.fixture(scope="module")
def spark():
    from mfrec.spark import session

    spark = session("local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def fitted(spark, ratings):
    from mfrec.spark.training import fit

    return fit(spark.createDataFrame(ratings), n_factors=4, n_epochs=5)


def test_exported_model_loads_in_plain_mfrec_and_predicts_what_spark_computed(spark, fitted, ratings, tmp_path):
    from mfrec.models import ALS
    from mfrec.models.persistence import load_model

    fitted.model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, ALS) and loaded.n_factors_ == 4
    assert set(loaded.user_map_.ids) == set(ratings["user"]) and loaded.item_map_.ids.dtype.kind == "i"
    pairs = pd.concat(
        [ratings[["user", "item"]].iloc[::7], pd.DataFrame({"user": ["u1", "nobody"], "item": [99999, 1]})]
    )  # unknown item, unknown user
    by_spark = fitted.predict(spark.createDataFrame(pairs)).toPandas()["prediction"].to_numpy()
    np.testing.assert_allclose(loaded.predict(pairs["user"], pairs["item"]), by_spark, atol=1e-5)
    rmse = np.sqrt(np.mean((loaded.predict(ratings["user"], ratings["item"]) - ratings["rating"]) ** 2))
    assert rmse < 0.9 * ratings["rating"].std()  # it learned something beyond the mean


def test_biases_are_the_damped_means_spark_aggregated(spark, ratings):
    from mfrec.spark.training import fit

    model = fit(
        spark.createDataFrame(ratings), n_factors=2, n_epochs=1, rounds=1, bias_passes=1, bias_regularization=3.0
    ).model
    mu = ratings["rating"].mean()
    b_i = (ratings["rating"] - mu).groupby(ratings["item"]).agg(lambda r: r.sum() / (3.0 + len(r)))
    rest = ratings["rating"] - mu - ratings["item"].map(b_i)
    b_u = rest.groupby(ratings["user"]).agg(lambda r: r.sum() / (3.0 + len(r)))
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.item_bias_[model.item_map_.lookup(b_i.index)], b_i, atol=1e-5)
    np.testing.assert_allclose(model.user_bias_[model.user_map_.lookup(b_u.index)], b_u, atol=1e-5)


def test_implicit_model_scores_are_mllib_dot_products(spark, ratings, tmp_path):
    from mfrec.models import ImplicitALS
    from mfrec.models.persistence import load_model
    from mfrec.spark.training import fit

    result = fit(
        spark.createDataFrame(ratings[["user", "item"]]), "implicit-als", rating_col=None, n_factors=3, n_epochs=3
    )
    result.model.save(tmp_path / "implicit")
    loaded = load_model(tmp_path / "implicit")
    assert isinstance(loaded, ImplicitALS) and loaded.confidence == "binary"
    pairs = ratings[["user", "item"]].iloc[::5]
    by_spark = result.predict(spark.createDataFrame(pairs)).toPandas()["prediction"].to_numpy()
    np.testing.assert_allclose(loaded.predict(pairs["user"], pairs["item"]), by_spark, atol=1e-5)
    assert loaded.recommend("u1", 3)["item"].isin(ratings.loc[ratings["user"] == "u1", "item"]).sum() == 0


def test_repeated_pairs_keep_the_latest_rating(spark):
    from mfrec.spark.training import fit

    frame = pd.DataFrame(
        {"user": [1, 1, 2, 2, 3], "item": [1, 1, 1, 2, 2], "rating": [5.0, 1.0, 3.0, 4.0, 2.0], "time": [2, 1, 0, 0, 0]}
    )
    model = fit(spark.createDataFrame(frame), timestamp_col="time", n_factors=1, n_epochs=1, rounds=1).model
    assert model.seen_ratings_[: model.seen_indptr_[1]].tolist() == [5.0]
    assert model.global_mean_ == pytest.approx(np.mean([5.0, 3.0, 4.0, 2.0]))


def test_bad_input_names_the_problem(spark, ratings):
    from mfrec.exceptions import DataError, ParameterError
    from mfrec.spark.training import fit

    with pytest.raises(DataError, match="'stars'"):
        fit(spark.createDataFrame(ratings), rating_col="stars")
    with pytest.raises(ParameterError, match="sgd"):
        fit(spark.createDataFrame(ratings), "sgd")
    broken = ratings.head(20).astype({"rating": float})
    broken.loc[broken.index[3], "rating"] = np.nan
    with pytest.raises(DataError, match="1 missing or non-numeric"):
        fit(spark.createDataFrame(broken), n_factors=1, n_epochs=1)


def test_recommend_all_through_spark_equals_single_machine_recommend(spark, fitted, tmp_path):
    from mfrec.exceptions import UnknownIdError
    from mfrec.spark import recommend_all

    model = fitted.model
    model.save(tmp_path / "model")
    out = tmp_path / "recs.parquet"
    recommend_all(spark, tmp_path / "model", n=4, output=out, partitions=3)
    written = pd.read_parquet(out).sort_values(["user", "rank"]).reset_index(drop=True)
    expected = model.recommend(model.user_map_.ids, 4).sort_values(["user", "rank"]).reset_index(drop=True)
    assert len(written) == 4 * len(model.user_map_)
    np.testing.assert_array_equal(written["item"], expected["item"])
    np.testing.assert_array_equal(written["score"], expected["score"].astype(np.float32))
    some = recommend_all(spark, model, n=2, users=["u3", "u7"]).toPandas()
    assert sorted(some["user"].unique()) == ["u3", "u7"] and len(some) == 4
    with pytest.raises(UnknownIdError, match="nobody"):
        recommend_all(spark, model, users=["u3", "nobody"])


def test_predict_over_a_spark_frame_uses_the_model(spark, fitted, ratings, tmp_path):
    from mfrec.spark import predict

    frame = pd.concat([ratings.head(30), pd.DataFrame({"user": ["nobody"], "item": [1], "rating": [3.0]})])
    scored = predict(spark, fitted.model, spark.createDataFrame(frame), output=tmp_path / "scored.parquet")
    result = pd.read_parquet(tmp_path / "scored.parquet").sort_values(["user", "item"]).reset_index(drop=True)
    assert list(scored.columns) == ["user", "item", "rating", "prediction"]
    np.testing.assert_allclose(result["prediction"], fitted.model.predict(result["user"], result["item"]), atol=1e-6)


def test_tune_scores_each_candidate_as_a_spark_task_like_the_local_search(spark, ratings):
    from mfrec.data import from_frame, random_split
    from mfrec.evaluation.selection import score_candidate
    from mfrec.spark import tune

    train, test = random_split(from_frame(ratings), 0.2, seed=0)
    candidates = [{"user_bias_regularization": 1.0}, {"user_bias_regularization": 20.0}]
    result = tune(spark, "baseline", [(train, test)], candidates=candidates)
    assert [row["params"] for row in result.candidates] == candidates
    local = [score_candidate("baseline", params, [(train, test)])[0]["rmse"] for params in candidates]
    assert [row["score"] for row in result.candidates] == pytest.approx(local)
    assert result.best_score == pytest.approx(min(local))


def test_cli_trains_on_spark_and_recommends_all_through_spark(spark, ratings, tmp_path):
    from typer.testing import CliRunner

    from mfrec.cli import app
    from mfrec.models.persistence import load_model

    ratings.to_parquet(tmp_path / "ratings.parquet")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "ratings.parquet"),
            "--engine",
            "spark",
            "--master",
            "local[2]",
            "-m",
            "als",
            "-k",
            "3",
            "--epochs",
            "3",
            "-p",
            "rounds=1",
            "-o",
            str(tmp_path / "model"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "model")
    assert model.n_factors_ == 3 and len(model.user_map_) == ratings["user"].nunique()
    for plain in (
        ["recommend", str(tmp_path / "model"), "-u", "u1", "--json"],
        ["similar", str(tmp_path / "model"), "-i", str(ratings["item"].iloc[0])],
    ):
        assert runner.invoke(app, plain).exit_code == 0  # the ordinary commands read the exported model
    result = runner.invoke(
        app,
        [
            "recommend",
            str(tmp_path / "model"),
            "--all",
            "--engine",
            "spark",
            "-n",
            "2",
            "-o",
            str(tmp_path / "recs.parquet"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "recs.parquet")) == 2 * len(model.user_map_)
    refused = runner.invoke(
        app,
        ["train", str(tmp_path / "ratings.parquet"), "--engine", "spark", "-m", "sgd", "-o", str(tmp_path / "other")],
    )
    assert refused.exit_code == 2 and "als and implicit-als" in refused.output


def test_missing_pyspark_is_reported_with_what_to_install(monkeypatch):
    import sys

    from mfrec.exceptions import ParameterError
    from mfrec.spark.session import require_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    assert "pip install 'mfrec[spark]'" in missing()
    with pytest.raises(ParameterError, match="pyspark"):
        require_spark()


def test_spark_trained_and_local_lists_agree_in_quality_on_ml100k_u1(spark):
    """The Spark path fits the same pick x like ranker as ``fit``: its top-10 is as good as the local model's."""
    from mfrec.data import load
    from mfrec.evaluation import score
    from mfrec.models import ALS
    from mfrec.ranking import uses_ranker
    from mfrec.spark.training import fit

    folder = require_ml100k()  # skips outside CI, fails under CI=true
    train = load(folder / "u1.base", rating_scale=(1, 5))
    test = load(folder / "u1.test", rating_scale=(1, 5))
    on_spark = fit(spark.createDataFrame(train.to_frame()[["user", "item", "rating"]]), n_factors=16, n_epochs=10).model
    local = ALS(n_factors=16, n_epochs=10, regularization=0.12).fit(train)
    spark_scores, local_scores = score(on_spark, train, test), score(local, train, test)
    print(f"u1 NDCG@10: spark {spark_scores['ndcg@10']:.3f}, local {local_scores['ndcg@10']:.3f}")
    print(f"u1 RMSE: spark {spark_scores['rmse']:.3f}, local {local_scores['rmse']:.3f}")
    assert uses_ranker(on_spark) and on_spark.get_params()["rank_by"] == "pick-like"
    assert abs(spark_scores["ndcg@10"] - local_scores["ndcg@10"]) < 0.05
