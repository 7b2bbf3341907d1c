"""Raw columns into validated arrays: ids encoded to int32 rows, ratings and timestamps checked.

Every refusal is a :class:`~mfrec.exceptions.DataError` naming the column, where the first bad
value is (a 0-based row, or a file's line when the reader says where row 0 is) and the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.idmap import IdMap, plain
from mfrec.exceptions import DataError, IdSpellingWarning, warn_user

#: The usual spellings of each column (compared without case, "-", "_" or spaces), in order of preference.
COLUMN_ALIASES = {
    "user": (
        "user", "userid", "uid", "customer", "customerid", "reviewerid", "reader", "readerid", "member", "memberid",
    ),
    "item": (
        "item", "itemid", "iid", "movieid", "isbn", "asin", "artistid", "productid", "track", "trackid", "songid",
        "bookid", "gameid",
    ),
    "rating": ("rating", "score", "stars", "bookrating", "weight", "plays", "playcount", "count"),
    "timestamp": (
        "timestamp", "time", "date", "unixreviewtime", "datetime", "ratedat", "createdat", "reviewedat", "reviewtime",
        "ratingtime", "ratingdate", "reviewdate", "ts",
    ),
}  # fmt: skip
#: Besides those, a timestamp is found under a name ending in one of these (``rated_at``, ``created-at``).
TIMESTAMP_SUFFIXES = ("_at", "-at", " at")


def _folded(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in "-_ ")


def find_column(available: Any, role: str, given: str | None) -> str | None:
    """The column of ``available`` to read as ``role``: ``given`` when it is there; for the default name
    (``role`` itself) the first usual spelling present (``userId``, ``User-ID``, ``movieId``, ``ISBN``...);
    else None (the caller reports the missing column)."""
    names = [str(c) for c in available]
    if given is not None and given in names:
        return given
    if given is not None and given != role:
        return None
    by_folded: dict[str, str] = {}
    for name in names:
        by_folded.setdefault(_folded(name), name)
    for alias in COLUMN_ALIASES[role]:
        if alias in by_folded:
            return by_folded[alias]
    if role == "timestamp":
        return next((name for name in names if name.lower().endswith(TIMESTAMP_SUFFIXES)), None)
    return None


def resolve_columns(
    available: Any, user_col: str, item_col: str, rating_col: str | None, timestamp_col: str | None, timestamps: bool
) -> tuple[str, str, str | None, str | None]:
    """The columns to read for (user, item, rating, timestamp), the usual spellings recognised.

    A name that is not found is returned as given (the caller's message names it). The timestamp is
    looked for only when ``timestamps`` and none was named; ``rating_col=None`` reads no rating.
    """
    user = find_column(available, "user", user_col) or user_col
    item = find_column(available, "item", item_col) or item_col
    rating = None if rating_col is None else (find_column(available, "rating", rating_col) or rating_col)
    if not timestamps:
        timestamp = None
    elif timestamp_col is None:
        timestamp = find_column(available, "timestamp", None)
    else:
        timestamp = timestamp_col
    taken = {user, item, rating}
    return user, item, rating, timestamp if timestamp not in taken else None


def first_row(mask: np.ndarray) -> int:
    """The position of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0])


#: Where a file's rows are: the line of row 0 (the rest follow), each row's line (a file with blank lines, which
#: the reader drops), or None (not a file: messages name 0-based rows).
FirstLine = int | np.ndarray | None


def where(first_line: FirstLine, *rows: int) -> str:
    """Where rows are, for messages: "row 49" (a 0-based position), or "line 51" when row 0 is line ``first_line``
    (or ``first_line[49]`` is 51)."""
    if first_line is None:
        return f"row{'s' * (len(rows) > 1)} " + " and ".join(str(r) for r in rows)
    if isinstance(first_line, np.ndarray):
        return f"line{'s' * (len(rows) > 1)} " + " and ".join(str(int(first_line[r])) for r in rows)
    return f"line{'s' * (len(rows) > 1)} " + " and ".join(str(r + first_line) for r in rows)


def refuse(bad: np.ndarray, column: str, what: str, first_line: FirstLine, values: Any = None, show: Any = str) -> None:
    """Raise a DataError if any of ``bad``: how many values are ``what``, where the first is and what it is."""
    if bad.any():
        row = first_row(bad)
        value = f": {show(values[row])}" if values is not None else ""
        raise DataError(f"column {column!r} has {int(bad.sum())} {what} (first at {where(first_line, row)}{value})")


def encode_ids(values: Any, column: str, first_line: FirstLine = None) -> tuple[np.ndarray, IdMap]:
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
    elif array.dtype.kind in "OU" and array.size:
        # Text ids are integers only when every one is an integer's one spelling ("7", never "007"):
        # reading "007" and "7" as numbers would merge two users. Checked on the distinct values.
        codes, uniques = pd.factorize(array, sort=False, use_na_sentinel=True)
        refuse(codes < 0, column, "missing ids", first_line)
        uniques = np.asarray(uniques)
        as_integers = canonical_int64(uniques)
        if as_integers is None:
            uniques = uniques.astype(str)
            warn_spellings(uniques, column)
        else:
            uniques = as_integers
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        return rank[codes], IdMap(uniques[order])
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
    return codes.astype(np.int32, copy=False), IdMap(np.asarray(uniques))


def canonical_int64(array: np.ndarray) -> np.ndarray | None:
    """``array`` as int64 when each value is an integer or an integer's one spelling ("7", "-3"), else None.

    >>> canonical_int64(np.array(["7", "9223372036854775807"], dtype=object)).tolist()
    [7, 9223372036854775807]
    >>> canonical_int64(np.array(["007", "7"], dtype=object)) is None
    True
    """
    try:
        numbers = array.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        return None
    if array.dtype.kind == "O":
        kinds = {type(v) for v in array[:1000].tolist()}
        if not kinds <= {str, int}:
            return None
    return numbers if np.array_equal(numbers.astype(str), array.astype(str)) else None


def warn_spellings(uniques: np.ndarray, column: str) -> None:
    """Warn when distinct text ids would be one number ("007" and "7"): they are kept apart, as given."""
    text = pd.Series(uniques.astype(str))
    numeric = text.str.strip().str.fullmatch(r"[+-]?[0-9]+(\.0*)?")
    if numeric.sum() < 2:
        return
    keys = pd.to_numeric(text[numeric].str.strip(), errors="coerce")
    clash = keys[keys.duplicated(keep=False)]
    if len(clash):
        first = clash.iloc[0]
        spellings = sorted(text[clash.index[clash == first]].tolist())
        warn_user(
            f"column {column!r}: {int(clash.duplicated().sum())} ids are other spellings of another id "
            f"(first: {', '.join(map(repr, spellings))}); they are kept as different ids, as written",
            IdSpellingWarning,
        )


def ratings_column(values: Any, column: str, first_line: FirstLine = None) -> np.ndarray:
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
        refuse(np.isnan(array), column, "missing (empty) values", first_line)
        refuse(~np.isfinite(array), column, "infinite values", first_line, array)
    return array.astype(np.float32, copy=False)


def timestamps_column(values: Any, column: str, first_line: FirstLine = None) -> np.ndarray:
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
