"""A fitted model's per-epoch history (a list of dicts) as one array per column, and back, for saving."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def history_arrays(history: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per-epoch history as one array per column (NaN where an epoch lacks the column)."""
    columns: dict[str, None] = {}
    for row in history:
        columns.update(dict.fromkeys(row))
    out = {}
    for column in columns:
        values = [row.get(column) for row in history]
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            out[column] = np.asarray(values, dtype=np.int64)
        else:
            out[column] = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return out


def history_rows(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The per-epoch rows back from :func:`history_arrays`' columns (a NaN cell: the epoch lacked the column)."""
    n = len(next(iter(columns.values()))) if columns else 0
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for column, values in columns.items():
        for row, value in zip(rows, values.tolist()):
            if not (isinstance(value, float) and math.isnan(value)):
                row[column] = value
    return rows
