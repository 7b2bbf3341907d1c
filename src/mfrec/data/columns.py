"""Raw columns into validated arrays: ids encoded to int32 rows, ratings and timestamps checked.

Every refusal is a :class:`~mfrec.exceptions.DataError` naming the column, where the first bad
value is (a 0-based row, or a file's line when the reader says where row 0 is) and the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.idmap import IdMap, plain
from mfrec.exceptions import DataError


def first_row(mask: np.ndarray) -> int:
    """The position of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0])


def where(first_line: int | None, *rows: int) -> str:
    """Where rows are, for messages: "row 49" (a 0-based position), or "line 51" when row 0 is line ``first_line``."""
    if first_line is None:
        return f"row{'s' * (len(rows) > 1)} " + " and ".join(str(r) for r in rows)
    return f"line{'s' * (len(rows) > 1)} " + " and ".join(str(r + first_line) for r in rows)


def refuse(
    bad: np.ndarray, column: str, what: str, first_line: int | None, values: Any = None, show: Any = str
) -> None:
    """Raise a DataError if any of ``bad``: how many values are ``what``, where the first is and what it is."""
    if bad.any():
        row = first_row(bad)
        value = f": {show(values[row])}" if values is not None else ""
        raise DataError(f"column {column!r} has {int(bad.sum())} {what} (first at {where(first_line, row)}{value})")


def encode_ids(values: Any, column: str, first_line: int | None = None) -> tuple[np.ndarray, IdMap]:
    """int32 rows for the ids ``values`` and the :class:`IdMap` back (sorted ids); missing ids are refused.

    >>> rows, ids = encode_ids(["b", "a", "b"], "user")
    >>> rows.tolist(), ids.ids.tolist()
    ([1, 0, 1], ['a', 'b'])
    """
    array = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"column {column!r} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "f":
        refuse(~np.isfinite(array), column, "missing ids", first_line, array)
        if np.all(array == np.round(array)):
            array = array.astype(np.int64)
    elif array.dtype.kind == "b":
        raise DataError(f"column {column!r} holds booleans; ids must be integers or strings")
    if array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if high - low <= 4 * array.size + 1024:
            # Dense integer ids (the usual case): a lookup table is O(n) and needs no int64 codes.
            present = np.zeros(high - low + 1, dtype=bool)
            present[array - low] = True
            uniques = np.flatnonzero(present)
            table = np.full(present.size, -1, dtype=np.int32)
            table[uniques] = np.arange(uniques.size, dtype=np.int32)
            return table[array - low], IdMap(uniques.astype(np.int64) + low)
    codes, uniques = pd.factorize(array, sort=True, use_na_sentinel=True)
    refuse(codes < 0, column, "missing ids", first_line)
    uniques = np.asarray(uniques)
    if uniques.dtype.kind == "O" and all(isinstance(u, (int, np.integer)) for u in uniques[:1000]):
        try:
            uniques = uniques.astype(np.int64)
        except (TypeError, ValueError):
            pass
    return codes.astype(np.int32, copy=False), IdMap(uniques)


def ratings_column(values: Any, column: str, first_line: int | None = None) -> np.ndarray:
    """float32 ratings from ``values``; non-numeric and non-finite values are refused."""
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"column {column!r} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        as_objects = pd.Series(array, dtype=object)
        numeric = pd.to_numeric(as_objects, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numeric) & as_objects.notna().to_numpy()
        refuse(bad, column, "non-numeric values", first_line, array, show=lambda value: repr(plain(value)))
        array = numeric
    if array.dtype.kind == "f":
        refuse(~np.isfinite(array), column, "non-finite values", first_line, array)
    return array.astype(np.float32, copy=False)


def timestamps_column(values: Any, column: str, first_line: int | None = None) -> np.ndarray:
    """int64 seconds from numbers or dates in ``values``; anything else is refused."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if series.dtype.kind == "M":
        return (series.astype("datetime64[s]").astype(np.int64)).to_numpy()
    if series.dtype.kind in "iu":
        return series.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=np.float64).astype(np.int64)
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if parsed.isna().any():
        row = first_row(parsed.isna().to_numpy())
        raise DataError(
            f"column {column!r} has a value that is neither a number nor a date at {where(first_line, row)}: "
            f"{series.iloc[row]!r}"
        )
    return (parsed.astype("datetime64[s, UTC]").astype(np.int64)).to_numpy()
