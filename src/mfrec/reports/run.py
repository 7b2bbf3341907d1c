"""Runs and reports: what an evaluation leaves on disk, and one self-contained HTML page about it.

A *run folder* holds ``run.json`` (dataset summary, protocol, metrics per model with
their spread, per-epoch histories), ``model/`` (the main model, saved as usual) and the
data: a path to the original file when there is one, else ``ratings.parquet`` (and
``items.parquet`` for titles and genres). ``mfrec report RUN`` turns it into an HTML
file with every chart embedded, so it can be mailed or opened offline. ``mfrec report
MODEL_DIR`` does the same for a saved model folder alone (:mod:`mfrec.reports.model`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from mfrec.data.interactions import Interactions
from mfrec.data.sources import load
from mfrec.data.summary import summarize
from mfrec.exceptions import DataError
from mfrec.models.base import Recommender
from mfrec.models.persistence import jsonable, load_model
from mfrec.reports.html import facts_table, figure_sections, html_page
from mfrec.reports.model import build_model_report

RUN_FILE = "run.json"


def write_run(
    folder: str | Path,
    data: Interactions,
    results: dict[str, dict[str, Any]],
    model: Recommender,
    *,
    protocol: str,
    k: int = 10,
    data_path: str | Path | None = None,
    histories: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """Write a run folder for ``mfrec report``; ``model`` is the main model, ``results`` include the baselines."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model")
    if data_path is None:
        data.to_frame().to_parquet(folder / "ratings.parquet", index=False)
        if data.item_info is not None:
            data.item_info.to_parquet(folder / "items.parquet")
    run = {
        "dataset": summarize(data),
        "data_path": None if data_path is None else str(Path(data_path).resolve()),
        "protocol": protocol,
        "k": k,
        "main_model": next(iter(results)),
        "results": {name: {key: value for key, value in r.items() if key != "per_fold"} for name, r in results.items()},
        "histories": histories or {next(iter(results)): model.history_},
    }
    (folder / RUN_FILE).write_text(json.dumps(jsonable(run), indent=2))
    return folder


def run_file(folder: str | Path) -> Path:
    """The ``run.json`` of a run folder; DataError naming the folder when it is not one."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise DataError(
            f"{folder} is not a run folder (no {RUN_FILE}) nor a saved model (no model.json); make one with "
            "mfrec demo, mfrec evaluate --run-dir or mfrec train -o"
        )
    return path


def attach_cold_start(folder: str | Path, curve: list[dict[str, Any]], *, model: str, k: int = 10) -> Path:
    """Add a cold-start curve (``mfrec.evaluation.cold_start_curve``) to an existing run folder's report.

    The curve is kept beside the run's evaluation rather than replacing it: a run
    is made by ``mfrec demo`` or ``evaluate --run-dir``, then
    ``evaluate --protocol cold-start --run-dir`` adds this section to it::

        mfrec evaluate ratings.csv --run-dir run/
        mfrec evaluate ratings.csv --protocol cold-start --run-dir run/
        mfrec report run/
    """
    path = run_file(folder)
    run = json.loads(path.read_text())
    run["cold_start"] = {"model": model, "k": k, "curve": curve}
    path.write_text(json.dumps(jsonable(run), indent=2))
    return Path(folder)


def read_run(folder: str | Path) -> tuple[dict[str, Any], Interactions, Recommender]:
    """``run.json``, the data and the main model of a run folder."""
    folder = Path(folder)
    run = json.loads(run_file(folder).read_text())
    if run.get("data_path"):
        data = load(run["data_path"])
    else:
        frame = pd.read_parquet(folder / "ratings.parquet")
        items = pd.read_parquet(folder / "items.parquet") if (folder / "items.parquet").is_file() else None
        data = load(frame, item_info=items, name=run["dataset"].get("name", ""))
    return run, data, load_model(folder / "model")


def _table(rows: dict[str, dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", *columns])
    body = []
    for name, result in rows.items():
        cells = []
        for column in columns:
            value, spread = result.get(column), result.get("std", {}).get(column)
            text = "—" if value is None else f"{value:.4f}" + (f" ± {spread:.4f}" if spread else "")
            cells.append(f"<td>{text}</td>")
        body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cold_start_table(cold: dict[str, Any]) -> str:
    """The cold-start curve as a table: one row per method, one column per number of revealed ratings."""
    curve, k = cold["curve"], cold["k"]
    revealed = sorted({row["revealed"] for row in curve})
    methods = list(dict.fromkeys(row["method"] for row in curve))
    at = {(row["method"], row["revealed"]): row for row in curve}
    head = "".join(f"<th>{n}</th>" for n in revealed)
    body = []
    for metric in ("rmse", f"ndcg@{k}"):
        for method in methods:
            cells = "".join(
                f"<td>{at[(method, n)][metric]:.4f}</td>" if (method, n) in at else "<td>—</td>" for n in revealed
            )
            body.append(f"<tr><th>{html.escape(method)}</th><td>{html.escape(metric.upper())}</td>{cells}</tr>")
    return (
        f'<section id="cold-start-table"><p>{html.escape(cold["model"])}, {curve[0]["users"]} users unseen in '
        f"training; columns are the ratings revealed per user.</p><table><thead><tr><th>method</th><th>metric</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _spread_note(results: dict[str, dict[str, Any]]) -> str:
    """What the table's numbers are: a mean &plusmn; sd only when there were several splits to spread over."""
    splits = max((int(result.get("folds", 1)) for result in results.values()), default=1)
    if splits > 1:
        return f"Mean &plusmn; standard deviation over {splits} splits."
    return "One train/test split, so no spread to show: each figure is that split's."


def build_report(folder: str | Path, images: str | Path | None = None) -> str:
    """The HTML of the report on a run folder (or a saved model folder): summary, tables and every chart.

    With ``images``, each chart is also written there as a PNG named after its section.
    """
    from mfrec.reports import plots as plot

    if not (Path(folder) / RUN_FILE).is_file() and (Path(folder) / "model.json").is_file():
        return build_model_report(folder, images)
    run, data, model = read_run(folder)
    k = run.get("k", 10)
    results = run["results"]
    summary = run["dataset"]
    baseline = results.get("baseline", {}).get("rmse")
    item_info = data.item_info
    histories = {name: history for name, history in run["histories"].items() if history}
    ranked = any(f"val_ndcg@{k}" in row for history in histories.values() for row in history)
    charts = {
        "Learning curves": plot.learning_curves(
            histories, baseline_rmse=baseline, metric=f"ndcg@{k}" if ranked else "rmse"
        )
        if histories
        else None,
        "Model comparison": plot.metric_bars(results, ("rmse", "mae", f"ndcg@{k}")),
        "Singular-value spectrum": plot.spectrum(data, chosen_k=model.n_factors_ or None),
        "Item embeddings": plot.embedding_map(
            model,
            color_by=None if item_info is None or "genres" not in item_info else item_info["genres"],
            labels=None if item_info is None or "title" not in item_info else item_info["title"],
        )
        if model.n_factors_
        else None,
        "Recommended item popularity": plot.recommended_popularity(model, k=k),
    }
    cold = run.get("cold_start") or {}
    if cold.get("curve"):
        charts["Cold start"] = plot.cold_start_curve(cold["curve"], k=cold["k"])
    figures = figure_sections(charts, images)
    share = summary["top_items_share"]
    facts = [
        ("users", f"{summary['users']:,}"),
        ("items", f"{summary['items']:,}"),
        ("ratings", f"{summary['ratings']:,}"),
        ("density", f"{summary['density']:.3%}"),
        ("rating scale", f"{summary['rating_scale']}"),
        ("mean rating", f"{summary['rating_mean']:.3f}"),
        ("long tail", f"top 10% of items get {share['10%']:.0%} of the ratings"),
    ]
    metric_columns = [
        "rmse",
        "mae",
        f"ndcg@{k}",
        f"precision@{k}",
        f"recall@{k}",
        f"map@{k}",
        f"coverage@{k}",
        f"popularity@{k}",
        f"novelty@{k}",
    ]
    title = f"mfrec report: {html.escape(summary.get('name') or 'run')}"
    return html_page(
        title,
        f"""<section id="dataset"><h2>Dataset</h2>{facts_table(facts)}</section>
<section id="evaluation"><h2>Evaluation</h2>
<p>Protocol <code>{html.escape(run["protocol"])}</code>; ranking at {k}: candidates are the items a user has not
rated in train, relevant items are test ratings &ge; 4. {_spread_note(results)}</p>
{_table(results, metric_columns)}</section>
{figures}
{_cold_start_table(cold) if cold.get("curve") else ""}""",
    )


def write_report(folder: str | Path, output: str | Path, images: str | Path | None = None) -> Path:
    """Write the report on run or model ``folder`` to the HTML file ``output`` (and the charts to ``images``)."""
    output = Path(output)
    output.write_text(build_report(folder, images), encoding="utf-8")
    return output
