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
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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
ParamPairs = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", metavar="NAME=VALUE", help="Any hyper-parameter as NAME=VALUE (repeat for several)."),
]

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
