"""Distributed scoring: mfrec's own model, broadcast once, inside ``mapInPandas``; results as Spark DataFrames."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from mfrec._threads import num_threads
from mfrec._validation import check_int
from mfrec.exceptions import ParameterError
from mfrec.models import Recommender
from mfrec.ranking import recommendation_batches

#: Users per Spark task when ``partitions`` is not given (a task then takes seconds, not milliseconds).
USERS_PER_TASK = 20_000


def as_model(model: Any) -> Recommender:
    """A fitted mfrec model from a model or a saved model folder."""
    if isinstance(model, Recommender):
        model._require_fitted()
        return model
    if isinstance(model, (str, os.PathLike)):
        from mfrec.models.persistence import load_model

        return load_model(model)
    raise ParameterError(f"model must be a fitted mfrec model or a saved model folder, got {type(model).__name__}")


def _spark_type(ids: np.ndarray) -> str:
    return "bigint" if ids.dtype.kind in "iu" else "string"


def _written(spark: Any, frame: Any, output: str | os.PathLike | None, mode: str) -> Any:
    if output is None:
        return frame
    frame.write.mode(mode).parquet(str(output))
    return spark.read.parquet(str(output))


def recommend_all(
    spark: Any,
    model: Any,
    n: int = 10,
    *,
    users: Any = None,
    exclude_seen: bool = True,
    output: str | os.PathLike | None = None,
    mode: str = "overwrite",
    partitions: int | None = None,
) -> Any:
    """Top-``n`` items for every user (or the ids in ``users``) as a Spark DataFrame ``user, item, score, rank``.

    The model is broadcast once; each task turns its slice of user rows into ids and
    runs :func:`mfrec.ranking.batch.recommendation_batches` (``model.recommend``: mfrec's
    numba top-k, one thread per task, Spark running tasks side by side), so the rows
    are exactly what single-machine ``recommend`` returns. ``model`` is a fitted
    model or a saved folder. With ``output`` the result is written there as Parquet
    (Spark's writer ``mode``) and read back.

    Examples
    --------
    >>> recs = recommend_all(spark, "model/", n=10, output="recs.parquet")  # doctest: +SKIP
    """
    model = as_model(model)
    check_int("n", n, 1)
    if users is None:
        rows = None
        count = len(model.user_map_)
    else:
        # Checked on the driver, so an unknown id fails fast and names itself.
        rows = model.user_map_.lookup(users, what="user").astype(np.int64)
        count = len(rows)
    if partitions is None:
        partitions = max(spark.sparkContext.defaultParallelism, -(-count // USERS_PER_TASK))
    check_int("partitions", partitions, 1)
    if rows is None:  # every user: row numbers made on the executors, nothing shipped from the driver
        frame = spark.range(0, count, numPartitions=partitions).withColumnRenamed("id", "row")
    else:
        frame = spark.createDataFrame(pd.DataFrame({"row": rows})).repartition(partitions)
    shared = spark.sparkContext.broadcast(model)
    schema = f"user {_spark_type(model.user_map_.ids)}, item {_spark_type(model.item_map_.ids)}, score float, rank int"

    def score(batches: Any) -> Any:
        local = shared.value
        with num_threads(1):
            for batch in batches:
                ids = local.user_map_.to_ids(batch["row"].to_numpy())
                yield from recommendation_batches(local, ids, n, exclude_seen=exclude_seen)

    return _written(spark, frame.mapInPandas(score, schema), output, mode)


def predict(
    spark: Any,
    model: Any,
    data: Any,
    *,
    user_col: str = "user",
    item_col: str = "item",
    output: str | os.PathLike | None = None,
    mode: str = "overwrite",
) -> Any:
    """``data`` (a Spark DataFrame with ``user_col`` and ``item_col``) with a ``prediction`` column added.

    Predictions are ``model.predict`` (mfrec's numba pair scorer: clipped ratings for
    rating models; an unknown user or item falls back to the known biases). With
    ``output`` the result is also written there as Parquet and read back.

    Examples
    --------
    >>> scored = predict(spark, "model/", spark.read.parquet("test.parquet"))  # doctest: +SKIP
    """
    from pyspark.sql.types import FloatType, StructField, StructType

    model = as_model(model)
    for column in (user_col, item_col):
        if column not in data.columns:
            raise ParameterError(f"the Spark DataFrame has no column {column!r}; its columns are {data.columns}")
    if "prediction" in data.columns:
        raise ParameterError("the Spark DataFrame already has a 'prediction' column; drop or rename it first")
    shared = spark.sparkContext.broadcast(model)
    schema = StructType([*data.schema.fields, StructField("prediction", FloatType())])

    def score(batches: Any) -> Any:
        local = shared.value
        with num_threads(1):
            for batch in batches:
                batch["prediction"] = local.predict(batch[user_col].to_numpy(), batch[item_col].to_numpy())
                yield batch

    return _written(spark, data.mapInPandas(score, schema), output, mode)
