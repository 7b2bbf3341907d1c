"""What every command shares: data and model options, error handling, output."""

from __future__ import annotations

import functools
import json
import re
import sys
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mfrec.exceptions import MfrecError, ParameterError
from mfrec.models import MODELS, make_model
from mfrec.models.base import Recommender
from mfrec.models.params import parse_assignments

stdout = Console(highlight=False, soft_wrap=True)  # plain lines stay whole when piped (tables still fit)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# ---------------------------------------------------------------- shared options

FLAG = " "  # a flag's metavar: typer prints its type, <bool>, in --help as if the flag took a value
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or chatter.", metavar=FLAG)]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.", metavar=FLAG)]
Sep = Annotated[str | None, typer.Option(help="Column separator of a text file (detected if omitted).")]
UserCol = Annotated[str, typer.Option(help="Name of the user column.")]
ItemCol = Annotated[str, typer.Option(help="Name of the item column.")]
TimestampCol = Annotated[
    str | None,
    typer.Option(
        help="Name of the timestamp column (default: found by name: timestamp, time, date, datetime, *_at, ...); "
        "unix seconds or dates."
    ),
]
RatingCol = Annotated[
    str,
    typer.Option(
        help="Name of the rating column; 'none' for a file of (user, item) pairs "
        "(implicit feedback, every row counts 1)."
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(help="Text encoding of a CSV/TSV file, e.g. latin-1 (default: UTF-8, else latin-1 with a warning)."),
]
RatingScale = Annotated[str | None, typer.Option(help="Declared rating scale 'LOW,HIGH', e.g. '1,5'.")]
Threshold = Annotated[
    float | None,
    typer.Option(
        help="A test rating >= this is relevant (default: set by the data: every interaction on implicit data, "
        "else 0.75 of the way up the rating scale, 4 on 1-5, 7.75 on 1-10)."
    ),
]
Duplicates = Annotated[
    str | None,
    typer.Option(help="Repeated (user, item) pairs: last | mean | sum | error (default: last, sum without ratings)."),
]
ModelName = Annotated[str, typer.Option("--model", "-m", help=f"One of: {', '.join(MODELS)}.")]
Factors = Annotated[int | None, typer.Option("--factors", "-k", help="Latent factors (n_factors).")]
Epochs = Annotated[int | None, typer.Option("--epochs", help="Training epochs (n_epochs).")]
LearningRate = Annotated[float | None, typer.Option("--lr", help="Learning rate.")]
Reg = Annotated[float | None, typer.Option("--reg", help="Regularisation weight.")]
Threads = Annotated[int | None, typer.Option("--threads", help="Threads (default: all cores).")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
ParamFile = Annotated[str | None, typer.Option("--params", help="JSON file of hyper-parameters.")]
ParamPairs = Annotated[list[str] | None, typer.Option("--param", "-p", help="Any hyper-parameter as NAME=VALUE.")]

_FLAG_TO_PARAM = {
    "--factors": "n_factors",
    "--epochs": "n_epochs",
    "--lr": "learning_rate",
    "--reg": "regularization",
    "--threads": "n_threads",
    "--seed": "random_state",
}


def model_flags(factors: Any, epochs: Any, lr: Any, reg: Any, threads: Any, seed: Any) -> dict[str, Any]:
    """The shared model flags by their command-line spelling (None = not given)."""
    return {"--factors": factors, "--epochs": epochs, "--lr": lr, "--reg": reg, "--threads": threads, "--seed": seed}


def columns_line(columns: dict[str, str | None], duplicates: dict[str, Any] | None = None) -> str:
    """Which file columns were read as what, e.g. "columns: user=userId, item=movieId, rating=rating"."""
    used = ", ".join(f"{role}={name}" for role, name in columns.items() if name)
    if duplicates and duplicates.get("merged"):
        used += f"; {duplicates['merged']:,} repeated pairs merged by {duplicates['policy']!r}"
    return f"columns: {used}"


def read_note(data: Any) -> str:
    """What was read, for stderr: the counts, the rating scale and where it came from, the columns used."""
    names = dict(zip(("user", "item", "rating", "timestamp"), data.read_columns, strict=False))
    merged = {"merged": data.n_duplicates, "policy": data.duplicates}
    return f"{data}; rating scale {data.scale_source}\n{columns_line(names, merged)}"


def item_rating(text: str) -> tuple[str, float]:
    """``--rated ITEM=RATING`` as (item, rating)."""
    item, sep, value = text.rpartition("=")
    try:
        if not sep or not item:
            raise ValueError
        return item, float(value)
    except ValueError:
        raise ParameterError(f"--rated takes ITEM=RATING, e.g. 50=4.5; got {text!r}") from None


def read_options(
    sep: str | None,
    user_col: str,
    item_col: str,
    rating_col: str,
    rating_scale: str | None,
    duplicates: str | None,
    encoding: str | None = None,
    timestamp_col: str | None = None,
) -> dict[str, Any]:
    no_rating = rating_col.strip().lower() in ("none", "")
    options: dict[str, Any] = {
        "user_col": user_col,
        "item_col": item_col,
        "rating_col": None if no_rating else rating_col,
        "duplicates": duplicates,
    }
    if timestamp_col:
        options["timestamp_col"] = timestamp_col
    if encoding:
        options["encoding"] = encoding
    if sep:
        options["sep"] = sep.encode().decode("unicode_escape")  # lets '\t' be typed as such
    if rating_scale:
        try:
            low, high = (float(v) for v in rating_scale.split(","))
        except ValueError:
            raise ParameterError(f"--rating-scale must look like '1,5', got {rating_scale!r}") from None
        options["rating_scale"] = (low, high)
    return options


def read_param_file(param_file: str | None) -> dict[str, Any]:
    """The parameters of a --params JSON file (``mfrec tune``'s output or a plain object); {} without one."""
    if not param_file:
        return {}
    try:
        loaded = json.loads(Path(param_file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ParameterError(f"cannot read --params {param_file}: {exc}") from None
    return dict(loaded.get("params", loaded))


def model_params(
    name: str, flags: dict[str, Any], param_file: str | None, pairs: list[str] | None, *, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Hyper-parameters from --params FILE, then NAME=VALUE pairs, then the named flags (last wins); ``also``: other
    names the command takes for ``--model``, for the message."""
    if name not in MODELS:
        others = "".join(f" or {other!r}" for other in also)
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(MODELS)}{others}")
    params = read_param_file(param_file)
    params.update(parse_assignments(MODELS[name], pairs or []))  # typed by the model's param_spec
    accepted = set(MODELS[name].param_names())
    for flag, value in flags.items():
        if value is None:
            continue
        param = _FLAG_TO_PARAM[flag]
        if param not in accepted:
            raise ParameterError(f"model {name!r} has no parameter {param} (given by {flag})")
        params[param] = value
    return params


def warm_kernels(models: list[Recommender], quiet: bool, **fit_options: Any) -> None:
    """Compile what the models' fit will call on a tiny set first (saying so on a first run), so fit times are fits."""
    from mfrec.cli.compile import compile_notice, warm_up

    with compile_notice(lambda text: None if quiet else stderr.print(text)):
        warm_up(models, **fit_options)


def build_model(name: str, params: dict[str, Any]) -> Recommender:
    return make_model(name, **params)  # set_params checks every value against the spec


# ---------------------------------------------------------------- errors and output


def handle_errors(command: Callable) -> Callable:
    """Turn mfrec's (and the OS's) errors into one line on stderr and exit code 2; Ctrl-C into 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return command(*args, **kwargs)
        except (MfrecError, OSError) as exc:
            message = (
                str(exc) if isinstance(exc, MfrecError) else f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            )
            message = _cli_spelling(message)
            stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            stderr.print("interrupted")
            raise typer.Exit(code=130) from None

    return wrapper


_FLAG_SPELLING = [
    (re.compile(r"\b(\w+)_col='<name>'"), lambda m: f"--{m.group(1)}-col NAME"),
    (re.compile(r"\brating_col=None\b"), lambda m: "--rating-col none"),
    (re.compile(r"\b(encoding|sep)='<[^']*>'"), lambda m: f"--{m.group(1)} {m.group(1).upper()}"),
    (re.compile(r"\b(encoding|sep)='([^'<]*)'"), lambda m: f"--{m.group(1)} {m.group(2)}"),
    (re.compile(r"\bsep=\.\.\."), lambda m: "--sep SEP"),
]


def _one_line_warning(message: Warning | str, category: type, *args: Any, **kwargs: Any) -> None:
    stderr.print(f"[yellow]warning:[/] {_cli_spelling(str(message))}", markup=True, soft_wrap=True)


def _cli_spelling(message: str) -> str:
    """The library names Python arguments (``user_col='<name>'``); on the command line, name the flag."""
    for pattern, flag in _FLAG_SPELLING:
        message = pattern.sub(flag, message)
    return message


def print_json(payload: Any) -> None:
    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        return str(value)

    from mfrec.evaluation.relevance import finite_or_none

    # JSON has no NaN: an undefined metric is null (json.dumps would write NaN, which parsers refuse).
    text = json.dumps(finite_or_none(payload), indent=2, default=default, allow_nan=False)
    sys.stdout.write(text + "\n")


class _Count(MofNCompleteColumn):
    """Shows "3/14" once the total is known; until then (or for a search bounded only by time) just "3", never "3/?"."""

    def render(self, task: Any) -> Text:
        if task.total is None:
            return Text(str(int(task.completed)), style="progress.download")
        return super().render(task)


@contextmanager
def progress_bar(quiet: bool, description: str, total: int | None):
    """A rich progress bar on stderr; yields ``advance(n=1, note="", total=None)`` (a no-op when quiet).

    ``total`` may be given late, by the first ``advance`` that knows it, so the bar shows "3/14", never "3/?";
    with no total at all it counts ("3").
    """
    if quiet:
        yield lambda *args, **kwargs: None
        return
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        _Count(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    ]
    with Progress(*columns, console=stderr, transient=False) as progress:
        task = progress.add_task(description, total=total, note="")

        def advance(n: int = 1, note: str = "", total: int | None = None) -> None:
            progress.update(task, advance=n, note=note, **({"total": total} if total is not None else {}))

        yield advance


def metrics_table(rows: dict[str, dict[str, Any]], k: int, title: str) -> Table:
    """Models as rows, metrics as columns: accuracy, then what the lists look like (coverage, popularity, novelty).

    Recall and MAP are left to ``--json`` and the report, so the table fits 80 columns.
    """
    columns = {
        "rmse": "RMSE",
        "mae": "MAE",
        f"ndcg@{k}": f"NDCG@{k}",
        f"precision@{k}": f"P@{k}",
        f"coverage@{k}": f"cov@{k}",
        f"popularity@{k}": f"pop@{k}",
        f"novelty@{k}": f"nov@{k}",
        "fit_seconds": "fit s",
    }
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)
    digits = {"fit_seconds": 2, "rmse": 4, "mae": 4, f"popularity@{k}": 0, f"novelty@{k}": 2}
    cells = {
        name: [f"{result[c]:.{digits.get(c, 3)}f}" if c in result else "-" for c in columns]
        for name, result in rows.items()
    }
    table.add_column("model", no_wrap=True, min_width=max(map(len, rows)))
    for position, header in enumerate(columns.values()):
        # Numbers are never cut: a column is as wide as its widest value.
        width = max([len(header), *(len(values[position]) for values in cells.values())])
        table.add_column(header, justify="right", no_wrap=True, min_width=width)
    for name, values in cells.items():
        table.add_row(name, *values)
    return table


def verdict(rows: dict[str, dict[str, Any]], model: str, k: int) -> str | None:
    """One line comparing ``model`` with the best baseline on RMSE (lower is better) and NDCG@k (higher is).

    A model that loses to a baseline is the first thing its user should hear about.

    >>> verdict({"sgd": {"rmse": 0.90, "ndcg@10": 0.30}, "baseline": {"rmse": 0.93, "ndcg@10": 0.32}}, "sgd", 10)
    'sgd: RMSE 0.0300 below baseline (better); NDCG@10 0.020 below baseline (worse)'
    """
    parts = []
    for metric, label, digits, lower in (("rmse", "RMSE", 4, True), (f"ndcg@{k}", f"NDCG@{k}", 3, False)):
        mine = rows[model].get(metric)
        others = {name: r[metric] for name, r in rows.items() if name != model and r.get(metric) is not None}
        if mine is None or not others or not np.isfinite(mine):
            continue
        best = (min if lower else max)(others, key=others.__getitem__)
        gap = mine - others[best]
        better = gap < 0 if lower else gap > 0
        side = "below" if gap < 0 else "above"
        parts.append(f"{label} {abs(gap):.{digits}f} {side} {best} ({'better' if better else 'worse'})")
    return f"{model}: " + "; ".join(parts) if parts else None


def warm_cold_table(rows: dict[str, dict[str, Any]]) -> Table:
    """Rating metrics split by who answered: the model (user and item seen in train) or the fallback."""
    table = Table(
        title="Rating metrics by who answered: warm = user and item seen in train, cold = fallback",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("model", no_wrap=True)
    for header in ("warm n", "RMSE", "MAE", "cold n", "RMSE", "MAE"):
        table.add_column(header, justify="right", no_wrap=True)
    for name, result in rows.items():
        if "ratings_warm" not in result:
            continue
        cells = []
        for group in ("warm", "cold"):
            cells.append(f"{result[f'ratings_{group}']:,}")
            cells += [f"{result[f'{m}_{group}']:.4f}" if result[f"ratings_{group}"] else "-" for m in ("rmse", "mae")]
        table.add_row(name, *cells)
    return table


_WRAPPED = ("title", "because", "because_title")  # free text: wraps inside its column, never across the table


def frame_table(frame: Any, title: str | None = None) -> Table:
    """A DataFrame as a table that fits the terminal (80 columns and up): numbers stay on one line, text wraps.

    Numbers and short ids keep their full width; free text (title, because, long string ids) shares
    what is left and wraps within its own column, so a row never spills into the next line's columns.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)
    for column in frame.columns:
        numeric = frame[column].dtype.kind in "iuf"
        longest = int(frame[column].astype(str).str.len().max()) if len(frame) else 0
        wrapped = column in _WRAPPED or (not numeric and longest > 16)  # long string ids wrap too
        table.add_column(
            str(column),
            justify="right" if numeric else "left",
            no_wrap=not wrapped,
            ratio=(2 if column == "because" else 1) if wrapped else None,
            overflow="fold",
        )
    for row in frame.itertuples(index=False):
        # One reason per line: "A; B; C" wrapped mid-title is hard to read.
        table.add_row(
            *(
                _cell(value).replace("; ", "\n") if column == "because" else _cell(value)
                for column, value in zip(frame.columns, row)
            )
        )
    return table


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def reading_order(frame: Any) -> Any:
    """Who, which rank, what (id and title), how sure, then the why: the order a reader scans a list in."""
    first = [c for c in ("user", "rank", "item", "title", "score", "score_kind", "source", "because") if c in frame]
    return frame[first + [c for c in frame.columns if c not in first]]


def _print_version(value: bool) -> None:
    if value:
        from mfrec import __version__

        stdout.print(f"mfrec {__version__}")
        raise typer.Exit()


def global_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version.", metavar=FLAG)
    ] = False,
) -> None:
    """Options of ``mfrec`` itself (before the command): ``--version``."""
