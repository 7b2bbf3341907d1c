"""Past one machine: train, score and tune mfrec models on Apache Spark (the optional ``spark`` extra).

Spark does the distributed work it is good at: the biases are Spark aggregations,
the factors Spark MLlib's ALS on the residuals, and the result is an ordinary mfrec
model folder, so ``mfrec evaluate``, ``recommend``, ``report`` and ``serve`` read it
unchanged. Scoring runs mfrec's own model (and numba kernels) inside
``mapInPandas``, one broadcast copy per executor. Nothing here depends on where
Spark runs: ``local[2]`` on a laptop and a cluster's master URL are the same code.

Examples
--------
>>> from mfrec.spark import session, train, recommend_all  # doctest: +SKIP
>>> spark = session("local[2]")  # doctest: +SKIP
>>> model = train(spark.read.parquet("ratings.parquet"), n_factors=32)  # doctest: +SKIP
>>> recommend_all(spark, model, n=10, output="recs.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

from mfrec.spark.scoring import predict, recommend_all
from mfrec.spark.session import require_spark, session
from mfrec.spark.training import SparkFit, fit, train
from mfrec.spark.tuning import tune

__all__ = ["SparkFit", "fit", "predict", "recommend_all", "require_spark", "session", "train", "tune"]
