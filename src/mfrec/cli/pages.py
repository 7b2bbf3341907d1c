"""``mfrec report`` and ``mfrec demo``: the commands that end in pictures and an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mfrec.cli.common import Quiet, handle_errors, stderr, stdout


@handle_errors
def report(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run folder (from mfrec demo or evaluate --run-dir) or a saved model folder (from mfrec train -o)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path("report.html"),
    images: Annotated[Path | None, typer.Option(help="Also write each chart as a PNG in this folder.")] = None,
    quiet: Quiet = False,
) -> None:
    """One self-contained HTML page: dataset summary, evaluation table, curves, spectrum, embedding map.

    Given a saved model folder instead of a run: the model's parameters, learning curve, factors and
    the popularity of what it recommends.
    """
    from mfrec.reports.run import write_report

    if not quiet:
        stderr.print(f"rendering the report on {run_dir} ...")
    stdout.print(str(write_report(run_dir, output, images)))


@handle_errors
def demo(
    data: Annotated[
        str | None, typer.Option("--data", help="ml-100k folder (else $MFREC_DATA, cache, download, synthetic).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the model and plots.")] = Path(
        "mfrec-demo"
    ),
    quiet: Quiet = False,
) -> None:
    """Train on MovieLens 100k (or a synthetic movie set), compare with baselines, recommend, plot."""
    from mfrec.cli.demo import run_demo

    run_demo(data, output, console=stdout, quiet=quiet)
