"""``--engine spark``: ``mfrec train`` on Spark, and ``mfrec recommend --all`` on one machine or on Spark."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from mfrec.cli.common import FLAG, print_json, stderr, stdout
from mfrec.exceptions import ParameterError

Engine = Annotated[str, typer.Option(help="local (this process) | spark (pyspark and Java needed: mfrec\\[spark]).")]
Master = Annotated[
    str | None,
    typer.Option(
        help="Spark master with --engine spark: local[N], spark://host:7077, "
        "yarn ... (default local[*]; under spark-submit, its own)."
    ),
]
AllUsers = Annotated[
    bool, typer.Option("--all", help="Every user of the model, written to --output as Parquet.", metavar=FLAG)
]
ParquetOut = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="With --all: the Parquet file (a folder of part files with --engine spark)."),
]

ENGINES = ("local", "spark")
#: What ``mfrec.spark.train`` takes besides the data and the model name.
_DATA_OPTIONS = {"data", "model", "user_col", "item_col", "rating_col", "timestamp_col", "rating_scale"}


def check_engine(engine: str, model: str | None = None) -> None:
    if engine not in ENGINES:
        raise ParameterError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "spark" and model == "auto":
        raise ParameterError("--model auto runs in this process: drop --engine spark, or name als or implicit-als")


def spark_session(master: str | None) -> Any:
    """The running Spark session (spark-submit, a test), else a new one on ``master`` (default: every local core)."""
    from mfrec.spark import require_spark, session

    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    spark = session(master or "local[*]")
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def read_on_spark(spark: Any, data: str, options: dict[str, Any]) -> Any:
    """``data`` as a Spark DataFrame: Parquet (a file or a folder of parts) is read by Spark itself; anything
    else (CSV, a MovieLens folder) by mfrec's reader on this machine, then handed to Spark."""
    path = Path(data)
    if path.suffix.lower() in (".parquet", ".pq") or (path.is_dir() and any(path.glob("*.parquet"))):
        return spark.read.parquet(str(path)), options
    from mfrec.data import load

    frame = load(data, **options).to_frame()[["user", "item", "rating"]]
    return spark.createDataFrame(frame), {**options, "user_col": "user", "item_col": "item", "rating_col": "rating"}


def spark_params(flags: dict[str, Any], param_file: str | None, pairs: list[str] | None) -> dict[str, Any]:
    """--params FILE, ``-p NAME=VALUE`` and the named flags for ``--engine spark``: the names of
    :func:`mfrec.spark.training.fit` (``rounds``, ``bias_passes``, ...), each value typed like its default."""
    from mfrec.cli.common import _FLAG_TO_PARAM, read_param_file
    from mfrec.spark.training import fit

    defaults = {name: parameter.default for name, parameter in inspect.signature(fit).parameters.items()}
    params = read_param_file(param_file)
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ParameterError(f"-p expects NAME=VALUE, got {pair!r}")
        default = defaults.get(name.strip())
        kind = float if default is None else type(default)
        try:
            params[name.strip()] = text.strip().lower() in ("1", "true", "yes") if kind is bool else kind(text)
        except ValueError:
            raise ParameterError(f"-p {name.strip()} expects a {kind.__name__}, got {text!r}") from None
    params.update({_FLAG_TO_PARAM[flag]: value for flag, value in flags.items() if value is not None})
    return params


def train_on_spark(
    data: str,
    output: Path,
    model: str,
    params: dict[str, Any],
    options: dict[str, Any],
    master: str | None,
    json_output: bool,
    quiet: bool,
) -> None:
    """``mfrec train --engine spark``: fit with :func:`mfrec.spark.train` and save an ordinary model folder."""
    from mfrec.spark.training import MODELS, fit

    if model not in MODELS:
        raise ParameterError(f"--engine spark trains {' and '.join(MODELS)} (MLlib's ALS), not {model!r}")
    if "n_threads" in params:
        raise ParameterError("--threads does not apply to --engine spark: Spark's cores come from --master local[N]")
    accepted = set(inspect.signature(fit).parameters) - _DATA_OPTIONS
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ParameterError(f"--engine spark does not take {unknown}; it takes {sorted(accepted)}")
    spark = spark_session(master)
    if not quiet:
        stderr.print(f"reading {data} on Spark ({spark.sparkContext.master}) ...")
    frame, options = read_on_spark(spark, data, options)
    keep = {key: options[key] for key in ("user_col", "item_col", "rating_col", "rating_scale") if key in options}
    if not quiet:
        stderr.print(f"training {model} on Spark ...")
    fitted = fit(frame, model, **keep, **params).model
    fitted.save(output)
    summary = {
        "model": model,
        "engine": "spark",
        "master": spark.sparkContext.master,
        "params": params,
        "output": str(output),
        "users": len(fitted.user_map_),
        "items": len(fitted.item_map_),
        "fit_seconds": fitted.fit_seconds_,
    }
    if json_output:
        print_json(summary)
    elif not quiet:
        stdout.print(f"saved {model} model (trained on Spark) to {output} ({summary['fit_seconds']:.2f} s)")


def recommend_all(
    model_dir: Path,
    output: Path | None,
    n: int,
    users: list[str] | None,
    include_seen: bool,
    engine: str,
    master: str | None,
    json_output: bool,
) -> None:
    """``mfrec recommend --all``: top-``n`` for every user of the model (or the ``--user`` ones), as Parquet."""
    from mfrec.cli.common import progress_bar
    from mfrec.models.persistence import load_model

    check_engine(engine)
    if output is None:
        raise ParameterError("--all writes Parquet: give --output, e.g. -o recs.parquet")
    model = load_model(model_dir)
    if engine == "spark":
        from mfrec.spark import recommend_all as on_spark

        if users:
            raise ParameterError("--engine spark writes every user's list; drop --user, or use the local engine")
        spark = spark_session(master)
        done = {
            "users": len(model.user_map_),
            "output": str(output),
            "rows": on_spark(spark, model, n, exclude_seen=not include_seen, output=output).count(),
        }
    else:
        from mfrec.ranking import recommend_all as on_one_machine

        total = len(users) if users else len(model.user_map_)
        with progress_bar(json_output, "recommending", total) as advance:
            done = on_one_machine(
                model, output, n=n, users=users or None, exclude_seen=not include_seen, progress=advance
            )
    summary = {**done, "engine": engine}
    if json_output:
        print_json(summary)
    else:
        stdout.print(f"wrote {summary['rows']:,} recommendations for {summary['users']:,} users to {output}")
