"""The tables the commands print: evaluation metrics, warm and cold rows, the verdict line, recommendation lists."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich import box
from rich.table import Table


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
