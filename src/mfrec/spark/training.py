"""Training on Spark: biases by aggregations, factors by MLlib ALS on the residuals, exported as an mfrec model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mfrec._validation import check_float, check_int, check_seed
from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions, check_rating_scale
from mfrec.data.scales import infer_rating_scale, scale_name
from mfrec.exceptions import DataError, ParameterError
from mfrec.models import ALS, ImplicitALS, Recommender
from mfrec.models.pick import fit_ranker

MODELS = ("als", "implicit-als")


@dataclass
class SparkFit:
    """What :func:`fit` learned, on both sides: the mfrec ``model`` and the Spark objects it came from.

    ``als`` is MLlib's ``ALSModel`` over internal rows; ``users`` / ``items`` map the
    original ids to those rows and carry each row's bias (Spark DataFrames ``id, row, bias``).
    """

    model: Recommender
    als: Any
    users: Any
    items: Any
    global_mean: float

    def predict(self, data: Any, *, user_col: str = "user", item_col: str = "item") -> Any:
        """``data`` with a ``prediction`` column computed by Spark alone (joins, MLlib's ``transform``).

        The same number the exported mfrec model predicts: ``mu + b_u + b_i + p_u . q_i``,
        clipped to the rating scale for ratings; an unknown user is the average known user and an
        unknown item the average item (rating models), as in :meth:`Recommender.predict`.
        """
        from pyspark.sql import functions as F

        spark = data.sparkSession
        if self.model.predicts_ratings:  # each known row's term against the average other side, from the driver
            P, Q = self.model._factors()
            p_bar, bu_bar, q_bar, bi_bar = self.model.average_rows()
            user_terms = pd.DataFrame({"u": np.arange(len(P), dtype=np.int32), "au": bi_bar + P @ q_bar})
            item_terms = pd.DataFrame({"i": np.arange(len(Q), dtype=np.int32), "ai": bu_bar + Q @ p_bar})
            both = bu_bar + bi_bar + float(p_bar @ q_bar)
        else:
            user_terms = pd.DataFrame({"u": np.zeros(0, np.int32), "au": np.zeros(0)})
            item_terms = pd.DataFrame({"i": np.zeros(0, np.int32), "ai": np.zeros(0)})
            both = 0.0

        users = self.users.select(F.col("id").alias("__user"), F.col("row").alias("u"), F.col("bias").alias("bu"))
        items = self.items.select(F.col("id").alias("__item"), F.col("row").alias("i"), F.col("bias").alias("bi"))
        joined = (
            data.withColumn("__n", F.monotonically_increasing_id())
            .join(F.broadcast(users), F.col(user_col) == F.col("__user"), "left")
            .join(F.broadcast(items), F.col(item_col) == F.col("__item"), "left")
            .fillna(-1, subset=["u", "i"])
        )  # MLlib refuses null ids; -1 is an id it never saw
        scored = (
            self.als.setPredictionCol("__dot")
            .setColdStartStrategy("nan")
            .transform(joined)
            .join(F.broadcast(spark.createDataFrame(user_terms, "u int, au double")), "u", "left")
            .join(F.broadcast(spark.createDataFrame(item_terms, "i int, ai double")), "i", "left")
        )
        new_user, new_item = F.col("u") < 0, F.col("i") < 0
        value = (
            F.lit(self.global_mean)
            + F.coalesce("bu", F.lit(0.0))
            + F.coalesce("bi", F.lit(0.0))
            + F.coalesce(F.nanvl("__dot", F.lit(0.0)), F.lit(0.0))
            + F.when(new_user & ~new_item, F.col("ai"))
            .when(new_item & ~new_user, F.col("au"))
            .when(new_user & new_item, F.lit(both))
            .otherwise(F.lit(0.0))
        )
        if self.model.predicts_ratings:
            low, high = self.model.rating_scale_
            value = F.least(F.greatest(value, F.lit(low)), F.lit(high))
        return scored.withColumn("prediction", value.cast("float")).orderBy("__n").select(*data.columns, "prediction")


def _id_map(frame: Any, column: str, name: str) -> IdMap:
    """The distinct ids of ``column`` (called ``name`` by the user), sorted (integers stay integers)."""
    ids = frame.select(column).distinct().toPandas()[column]
    column = name
    if ids.isna().any():
        raise DataError(f"column {column!r} has missing ids; drop or fill those rows before training")
    values = ids.to_numpy()
    if values.dtype.kind == "f":
        if not np.all(values == np.round(values)):
            raise DataError(f"column {column!r} holds fractional ids such as {values[values != np.round(values)][0]}")
        values = values.astype(np.int64)
    return IdMap(np.sort(values) if values.dtype.kind in "iu" else np.sort(values.astype(str)))


def _table(spark: Any, id_map: IdMap, bias: np.ndarray | None = None) -> Any:
    """A Spark DataFrame ``id, row, bias`` of an id map (bias 0 when not given)."""
    n = len(id_map)
    return spark.createDataFrame(
        pd.DataFrame(
            {
                "id": id_map.ids,
                "row": np.arange(n, dtype=np.int32),
                "bias": np.zeros(n, np.float32) if bias is None else bias.astype(np.float32),
            }
        )
    )


def _biases(spark: Any, rows: Any, b_u: np.ndarray, b_i: np.ndarray, reg: float, passes: int) -> None:
    """Damped biases of ``rows`` (``u, i, rest`` with rest = r - mu - anything else), refined in place.

    Alternating Spark aggregations: b_i = sum(rest - b_u) / (reg + n_i), then b_u the
    same way; ``reg`` acts as that many pseudo-ratings at zero.
    """
    from pyspark.sql import functions as F

    def solve(side: str, other: str, other_bias: np.ndarray, out: np.ndarray) -> None:
        table = spark.createDataFrame(
            pd.DataFrame({other: np.arange(len(other_bias), dtype=np.int32), "b": other_bias})
        )
        sums = (
            rows.join(F.broadcast(table), other)
            .groupBy(side)
            .agg(F.sum(F.col("rest") - F.col("b")).alias("s"), F.count("*").alias("n"))
            .toPandas()
        )
        out[sums[side].to_numpy()] = (sums["s"] / (reg + sums["n"])).to_numpy(np.float32)

    for _ in range(passes):
        solve("i", "u", b_u, b_i)
        solve("u", "i", b_i, b_u)


def _factors(features: Any, n_rows: int, k: int) -> np.ndarray:
    """MLlib's (id, features) table as float32[n_rows, k] (a row MLlib never saw stays zero)."""
    table = features.toPandas()
    out = np.zeros((n_rows, k), np.float32)
    if len(table):
        out[table["id"].to_numpy()] = np.stack(table["features"].to_numpy()).astype(np.float32)
    return out


def _indexed(frame: Any, users: Any, items: Any, timestamps: bool) -> Any:
    """``u, i, r``: one row per (user, item) pair, the latest rating when timestamps say which, else the mean."""
    from pyspark.sql import functions as F

    rows = frame.join(F.broadcast(users.select(F.col("id").alias("user"), F.col("row").alias("u"))), "user").join(
        F.broadcast(items.select(F.col("id").alias("item"), F.col("row").alias("i"))), "item"
    )
    value = F.max_by("rating", "time") if timestamps else F.avg("rating")
    bad = F.sum((F.isnull("rating") | F.isnan("rating")).cast("int"))
    return rows.groupBy("u", "i").agg(value.cast("float").alias("r"), bad.alias("bad"))


def fit(
    data: Any,
    model: str = "als",
    *,
    n_factors: int = 64,
    n_epochs: int = 15,
    regularization: float | None = None,
    bias_regularization: float = 3.0,
    rounds: int = 2,
    bias_passes: int = 2,
    alpha: float = 2.0,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    random_state: int = 0,
) -> SparkFit:
    """:func:`train`, returning the Spark side too (:class:`SparkFit`): for checks and Spark-native scoring."""
    from pyspark.ml.recommendation import ALS as SparkALS
    from pyspark.sql import functions as F

    if model not in MODELS:
        raise ParameterError(f"the Spark engine trains {' and '.join(MODELS)}, not {model!r}")
    check_int("n_factors", n_factors, 1)
    check_int("n_epochs", n_epochs, 1)
    check_int("rounds", rounds, 1)
    check_int("bias_passes", bias_passes, 1)
    check_float("bias_regularization", bias_regularization, 0.0)
    check_float("alpha", alpha, 0.0)
    check_seed("random_state", random_state)
    columns = [user_col, item_col, *([rating_col] if rating_col else []), *([timestamp_col] if timestamp_col else [])]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(f"the Spark DataFrame has no column {missing[0]!r}; its columns are {data.columns}")
    started = time.perf_counter()
    spark = data.sparkSession
    # Fixed working names, so the user's column names never collide with the ones used here.
    frame = data.select(
        F.col(user_col).alias("user"),
        F.col(item_col).alias("item"),
        (F.col(rating_col).cast("double") if rating_col else F.lit(1.0)).alias("rating"),
        *([F.col(timestamp_col).alias("time")] if timestamp_col else []),
    )
    user_map, item_map = _id_map(frame, "user", user_col), _id_map(frame, "item", item_col)
    n_users, n_items = len(user_map), len(item_map)
    indexed = _indexed(frame, _table(spark, user_map), _table(spark, item_map), timestamp_col is not None).cache()
    stats = indexed.agg(
        F.count("*").alias("n"),
        F.avg("r").alias("mu"),
        F.min("r").alias("lo"),
        F.max("r").alias("hi"),
        F.sum("bad").alias("bad"),
        F.sum((F.col("r") != F.floor(F.col("r"))).cast("int")).alias("frac"),
    ).first()
    if not stats["n"]:
        raise DataError("no interactions: the Spark DataFrame has 0 rows")
    if stats["bad"]:
        raise DataError(f"column {rating_col!r} has {stats['bad']} missing or non-numeric ratings; drop or fix them")
    if rating_scale:
        scale = check_rating_scale(rating_scale)
    else:  # a common scale holding every rating, as the local readers infer it, never (min, max)
        halves = [float(stats["lo"]) + 0.5] if stats["frac"] else []
        scale = infer_rating_scale(np.array([stats["lo"], stats["hi"], *halves], np.float32))
    # MLlib's blocks are its unit of parallelism: one per core is enough, more only adds shuffle overhead.
    blocks = spark.sparkContext.defaultParallelism
    common = {
        "rank": n_factors,
        "maxIter": n_epochs,
        "userCol": "u",
        "itemCol": "i",
        "ratingCol": "target",
        "seed": random_state,
        "numUserBlocks": blocks,
        "numItemBlocks": blocks,
    }
    b_u, b_i = np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
    if model == "als":
        reg = 0.12 if regularization is None else check_float("regularization", regularization, 0.0)
        mu = float(stats["mu"])
        estimator = SparkALS(regParam=reg, **common)
        rest = indexed.select("u", "i", (F.col("r") - F.lit(mu)).alias("rest"))
        for round_ in range(rounds):
            # MLlib's ALS has no bias terms: fix the biases, fit factors to what they leave, then
            # re-fit the biases to what the factors leave. Two rounds close most of the gap to a joint fit.
            _biases(spark, rest, b_u, b_i, float(bias_regularization), bias_passes)
            users, items = _table(spark, user_map, b_u), _table(spark, item_map, b_i)
            target = (
                indexed.join(F.broadcast(users.select(F.col("row").alias("u"), F.col("bias").alias("bu"))), "u")
                .join(F.broadcast(items.select(F.col("row").alias("i"), F.col("bias").alias("bi"))), "i")
                .select("u", "i", (F.col("r") - mu - F.col("bu") - F.col("bi")).alias("target"))
            )
            als = estimator.fit(target)
            if round_ + 1 < rounds:
                dots = als.setPredictionCol("dot").transform(indexed)
                rest = dots.select("u", "i", (F.col("r") - mu - F.col("dot")).alias("rest")).cache()
        result: Recommender = ALS(
            n_factors=n_factors,
            n_epochs=n_epochs,
            regularization=reg,
            bias_regularization=float(bias_regularization),
            random_state=random_state,
        )
    else:
        reg = 1.0 if regularization is None else check_float("regularization", regularization, 0.0)
        mu = 0.0
        users, items = _table(spark, user_map), _table(spark, item_map)
        als = SparkALS(regParam=reg, implicitPrefs=True, alpha=alpha, **common).fit(
            indexed.select("u", "i", F.col("r").alias("target"))
        )
        result = ImplicitALS(
            n_factors=n_factors,
            n_epochs=n_epochs,
            regularization=reg,
            alpha=alpha,
            confidence="linear" if rating_col else "binary",
            random_state=random_state,
        )
    P, Q = _factors(als.userFactors, n_users, n_factors), _factors(als.itemFactors, n_items, n_factors)
    # The model keeps every user's rated items (to exclude them from recommendations): 12 bytes a rating.
    triples = indexed.toPandas()
    spark.catalog.clearCache()
    interactions = Interactions(
        triples["u"].to_numpy(np.int32),
        triples["i"].to_numpy(np.int32),
        triples["r"].to_numpy(np.float32),
        user_map,
        item_map,
        rating_scale=scale,
        scale_source="declared" if rating_scale else f"inferred: {scale_name(scale)}",
    )
    fitted = fitted_model(result, interactions, mu, b_u, b_i, P, Q)
    fitted.fit_seconds_ = time.perf_counter() - started
    return SparkFit(fitted, als, users, items, mu)


def fitted_model(
    model: Recommender,
    interactions: Interactions,
    global_mean: float,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
) -> Recommender:
    """Give an unfitted mfrec model the state learned elsewhere, as ``fit`` would have left it.

    The model remembers ``interactions`` the way ``fit`` does (id maps, seen items,
    popularity), so excluding seen items, popularity fallback and fold-in work, and fits its
    "will pick" ranker like ``fit`` (:func:`mfrec.models.pick.fit_ranker`, on the driver).
    """
    model._remember(interactions, seen=interactions)
    # The "will pick" part of a rating model (rank_by="pick-like") is fitted here, on the driver, from the
    # seen ratings it already holds: a Spark-trained model ranks exactly as one trained locally.
    fit_ranker(model)
    model.global_mean_ = float(global_mean)
    model.user_bias_, model.item_bias_ = user_bias.astype(np.float32), item_bias.astype(np.float32)
    model.user_factors_, model.item_factors_ = user_factors, item_factors
    return model


def train(data: Any, model: str = "als", **options: Any) -> Recommender:
    """Fit an mfrec model on a Spark DataFrame of ``user, item[, rating][, timestamp]`` rows.

    ``model="als"`` (explicit ratings): the global mean and damped biases come from
    Spark aggregations (each bias shrunk by ``bias_regularization`` pseudo-ratings,
    ``bias_passes`` alternations), MLlib's ALS fits ``n_factors`` factors to the
    residuals with ``regularization`` (its regParam, scaled per rating as in
    mfrec's ALS-WR), and ``rounds`` alternations of the two approach a joint fit.
    ``model="implicit-als"``: MLlib's ALS with ``implicitPrefs`` and ``alpha`` on the
    values (1 each when ``rating_col`` is None). A pair seen twice counts once: its
    latest rating with ``timestamp_col``, else the mean.

    Returns a fitted :class:`~mfrec.models.ALS` or :class:`~mfrec.models.ImplicitALS`
    with the original ids: ``save`` it and every mfrec command reads it.

    Examples
    --------
    >>> model = train(spark.read.parquet("ratings.parquet"), n_factors=32)  # doctest: +SKIP
    >>> model.save("model/")  # doctest: +SKIP
    """
    return fit(data, model, **options).model
