"""Finding pyspark and Java, and starting a Spark session with settings that suit mfrec's jobs."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import Any

from mfrec.exceptions import ParameterError


def java_home() -> str | None:
    """Where Java is: ``JAVA_HOME`` when set, else the ``java`` on ``PATH`` (None when neither).

    pyspark starts its JVM the same way, so this is also how the tests decide to skip.
    """
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return home
    java = shutil.which("java")
    return None if java is None else os.path.dirname(os.path.dirname(os.path.realpath(java)))


def missing() -> str | None:
    """Why the Spark engine cannot run here (pyspark or Java absent), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the Spark engine needs pyspark: pip install 'mfrec[spark]'"
    if java_home() is None:
        return "the Spark engine needs Java 17 or newer: install a JDK and put java on PATH or set JAVA_HOME"
    return None


def require_spark() -> None:
    """Raise ParameterError saying what to install when pyspark or Java is missing."""
    reason = missing()
    if reason:
        raise ParameterError(reason)


def quiet_pandas_warning() -> None:
    """Silence pyspark's blanket "does not yet fully support pandas >= 3" FutureWarning, that one only.

    mfrec hands Spark plain numeric and string columns through Arrow (tested with
    pandas 3 and pyspark 4), which is the part that warning hedges about.
    """
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def session(master: str | None = None, app_name: str = "mfrec", **config: Any) -> Any:
    """A SparkSession (the running one if there is one, else a new one on ``master``).

    ``master`` is ``local[N]`` for N cores of this machine, or a cluster's URL
    (``spark://host:7077``, ``yarn``, ``k8s://...``); None leaves it to
    ``spark-submit``. ``config`` entries are Spark settings (dots as in Spark).
    On a local master, the Python workers run this interpreter (so they import
    the same mfrec and numba) unless ``PYSPARK_PYTHON`` says otherwise.

    Examples
    --------
    >>> spark = session("local[2]", **{"spark.driver.memory": "2g"})  # doctest: +SKIP
    """
    require_spark()
    quiet_pandas_warning()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    settings: dict[str, Any] = {"spark.sql.execution.arrow.pyspark.enabled": "true"}
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # A few cores: few shuffle partitions (Spark's 200 would be mostly overhead), no web UI or progress bars.
        settings.update(
            {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
        )
    for key, value in {**settings, **config}.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()
