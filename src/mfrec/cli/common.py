"""What every command shares: data and model options, error handling, output."""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mfrec.exceptions import MfrecError, ParameterError
from mfrec.models import MODELS, make_model
from mfrec.models.base import Recommender

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

# ---------------------------------------------------------------- shared options

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or chatter.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Sep = Annotated[str | None, typer.Option(help="Column separator of a text file (detected if omitted).")]
UserCol = Annotated[str, typer.Option(help="Name of the user column.")]
ItemCol = Annotated[str, typer.Option(help="Name of the item column.")]
RatingCol = Annotated[str, typer.Option(help="Name of the rating column.")]
RatingScale = Annotated[str | None, typer.Option(help="Declared rating scale 'LOW,HIGH', e.g. '1,5'.")]
Duplicates = Annotated[str, typer.Option(help="Repeated (user, item) pairs: last | mean | error.")]
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
    "--factors": "n_factors", "--epochs": "n_epochs", "--lr": "learning_rate", "--reg": "regularization",
    "--threads": "n_threads", "--seed": "random_state",
}  # fmt: skip


def model_flags(factors: Any, epochs: Any, lr: Any, reg: Any, threads: Any, seed: Any) -> dict[str, Any]:
    """The shared model flags by their command-line spelling (None = not given)."""
    return {"--factors": factors, "--epochs": epochs, "--lr": lr, "--reg": reg, "--threads": threads, "--seed": seed}


def read_options(sep: str | None, user_col: str, item_col: str, rating_col: str, rating_scale: str | None,
                 duplicates: str) -> dict[str, Any]:  # fmt: skip
    options: dict[str, Any] = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col,
                               "duplicates": duplicates}  # fmt: skip
    if sep:
        options["sep"] = sep.encode().decode("unicode_escape")  # lets '\t' be typed as such
    if rating_scale:
        try:
            low, high = (float(v) for v in rating_scale.split(","))
        except ValueError:
            raise ParameterError(f"--rating-scale must look like '1,5', got {rating_scale!r}") from None
        options["rating_scale"] = (low, high)
    return options


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def model_params(name: str, flags: dict[str, Any], param_file: str | None, pairs: list[str] | None) -> dict[str, Any]:
    """Hyper-parameters from --params FILE, then NAME=VALUE pairs, then the named flags (last wins)."""
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    params: dict[str, Any] = {}
    if param_file:
        try:
            loaded = json.loads(open(param_file).read())
        except (OSError, json.JSONDecodeError) as exc:
            raise ParameterError(f"cannot read --params {param_file}: {exc}") from None
        params.update(loaded.get("params", loaded))
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ParameterError(f"--param expects NAME=VALUE, got {pair!r}")
        params[key.strip()] = _parse_value(value)
    accepted = set(MODELS[name]._param_names())
    for flag, value in flags.items():
        if value is None:
            continue
        param = _FLAG_TO_PARAM[flag]
        if param not in accepted:
            raise ParameterError(f"model {name!r} has no parameter {param} (given by {flag})")
        params[param] = value
    return params


def build_model(name: str, params: dict[str, Any]) -> Recommender:
    model = make_model(name, **params)
    model._check_params()
    return model


# ---------------------------------------------------------------- errors and output


def handle_errors(command: Callable) -> Callable:
    """Turn mfrec's (and the OS's) errors into one line on stderr and exit code 2; Ctrl-C into 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (MfrecError, OSError) as exc:
            message = str(exc) if isinstance(exc, MfrecError) else f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            message = _cli_spelling(message)
            stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            stderr.print("interrupted")
            raise typer.Exit(code=130) from None

    return wrapper


def _cli_spelling(message: str) -> str:
    """The library names Python arguments (``user_col='<name>'``); on the command line, name the flag."""
    return re.sub(r"\b(\w+)_col='<name>'", lambda m: f"--{m.group(1)}-col NAME", message)


def print_json(payload: Any) -> None:
    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        return str(value)

    sys.stdout.write(json.dumps(payload, indent=2, default=default) + "\n")


@contextmanager
def progress_bar(quiet: bool, description: str, total: int | None):
    """A rich progress bar on stderr; yields ``advance(n=1, **fields)`` (a no-op when quiet)."""
    if quiet:
        yield lambda *args, **kwargs: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[note]}")]  # fmt: skip
    with Progress(*columns, console=stderr, transient=False) as progress:
        task = progress.add_task(description, total=total, note="")

        def advance(n: int = 1, note: str = "") -> None:
            progress.update(task, advance=n, note=note)

        yield advance


def metrics_table(rows: dict[str, dict[str, Any]], k: int, title: str) -> Table:
    """Models as rows, metrics as columns: accuracy, then what the lists look like (coverage, popularity, novelty)."""
    columns = {"rmse": "RMSE", "mae": "MAE", f"ndcg@{k}": f"NDCG@{k}", f"precision@{k}": f"P@{k}",
               f"recall@{k}": f"R@{k}", f"map@{k}": f"MAP@{k}", f"coverage@{k}": f"cov@{k}",
               f"popularity@{k}": f"pop@{k}", f"novelty@{k}": f"nov@{k}", "fit_seconds": "fit s"}  # fmt: skip
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)
    table.add_column("model", no_wrap=True, min_width=max(map(len, rows)))
    for header in columns.values():
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for name, result in rows.items():
        digits = {"fit_seconds": 2, "rmse": 4, "mae": 4, f"popularity@{k}": 0, f"novelty@{k}": 2}
        table.add_row(name, *(f"{result[c]:.{digits.get(c, 3)}f}" if c in result else "-" for c in columns))
    return table


def warm_cold_table(rows: dict[str, dict[str, Any]]) -> Table:
    """Rating metrics split by who answered: the model (user and item seen in train) or the fallback."""
    table = Table(title="Rating metrics by who answered: warm = user and item seen in train, cold = fallback",
                  box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)  # fmt: skip
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
