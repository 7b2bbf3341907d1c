"""Mapping between the caller's ids (strings or integers) and contiguous int32 rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from mfrec.exceptions import UnknownIdError

# Stands in for a query that cannot be an integer id (e.g. "abc" or "1.5" against integer ids).
_NO_MATCH = np.iinfo(np.int64).min
# Stands in for a non-string query against string ids: an object no index holds.
_NO_MATCH_OBJECT = object()
# The one spelling of an integer: no sign but "-", no leading zeros, no spaces, no ".0" (and it fits int64,
# checked by ``canonical_integers``: 19 digits may or may not).
_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,18}")
_INT64_LOW, _INT64_HIGH = -(2**63), 2**63 - 1


def canonical_integers(values: np.ndarray) -> np.ndarray | None:
    """``values`` (strings) as int64 when every one is an integer's one spelling within int64, else None.

    >>> canonical_integers(np.array(["7", "-12", "9223372036854775807"], dtype=object)).tolist()
    [7, -12, 9223372036854775807]
    >>> canonical_integers(np.array(["007", "7"], dtype=object)) is None
    True
    """
    series = pd.Series(values, dtype=object)
    if not series.map(lambda v: isinstance(v, str)).all() or not series.str.fullmatch(_DECIMAL.pattern).all():
        return None
    numbers = [int(v) for v in values]
    if numbers and (min(numbers) < _INT64_LOW or max(numbers) > _INT64_HIGH):
        return None
    return np.array(numbers, dtype=np.int64)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages show ``5``, not ``np.int64(5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _whole_floats(values: np.ndarray) -> np.ndarray:
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0**62)
    return np.where(whole, np.where(whole, values, 0).astype(np.int64), _NO_MATCH)


def _decimal_strings(values: np.ndarray) -> np.ndarray:
    text = pd.Series(values, dtype=object)
    spelled = text.str.fullmatch(_DECIMAL.pattern).to_numpy(dtype=bool, copy=True)
    long = spelled & (text.str.len().to_numpy(dtype=np.float64) >= 19)  # 19 digits: only some fit int64
    spelled[long] = [_INT64_LOW <= int(v) <= _INT64_HIGH for v in values[long]]
    out = np.full(values.shape, _NO_MATCH, dtype=np.int64)
    out[spelled] = [int(v) for v in values[spelled]] if long.any() else values[spelled].astype(np.int64)
    return out


def _integer_or_no_match(value: Any) -> int:
    """One query value against integer ids: the integer it exactly is, else ``_NO_MATCH``."""
    if isinstance(value, (bool, np.bool_)):
        return _NO_MATCH
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(_whole_floats(np.array([value], dtype=np.float64))[0])
    if isinstance(value, str) and _DECIMAL.fullmatch(value) and _INT64_LOW <= int(value) <= _INT64_HIGH:
        return int(value)
    return _NO_MATCH


def _text_or_no_match(value: Any) -> Any:
    """One query value against string ids: a string as is, an integer as its decimal spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return _NO_MATCH_OBJECT


def _as_1d(values: Any) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy()
    if np.isscalar(values) or values is None:
        return np.asarray([values])
    if isinstance(values, np.ndarray):
        return values.ravel()
    values = list(values)
    if len({type(v) for v in values}) > 1:
        # numpy would coerce a mixed list to one type ([True, 2] -> [1, 2], [1, "a"] -> ["1", "a"]).
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    return np.asarray(values).ravel()


class IdMap:
    """Original ids <-> rows ``0..n-1``, in the order given.

    Integer ids stay integers; anything else is kept as strings. A query finds a
    row only when it *is* that id, never by rounding or parsing loosely:

    - against integer ids: Python and numpy integers match by value; a float only
      when it is whole (``196.0``, as ``fit`` reads whole float ids as integers); a
      string only when it is the integer's exact decimal spelling (``"196"``, so ids
      typed on a command line or read from JSON match; ``"1.5"``, ``"196.0"``,
      ``"0196"`` and ``" 196"`` do not); booleans never;
    - against string ids: strings match exactly; a Python or numpy integer matches its one decimal
      spelling (``196`` finds ``"196"``, never ``"0196"``), so a model whose ids became text (a ratings
      log with ``ann`` next to integer ids) still answers ``recommend(196)``; floats and booleans never.

    Anything else is unknown: an error, or row -1 with ``missing="negative"``.

    Examples
    --------
    >>> m = IdMap(np.array(["alice", "bob"]))
    >>> m.lookup(["bob", "alice"]).tolist()
    [1, 0]
    >>> m.to_ids([0]).tolist()
    ['alice']
    >>> IdMap(np.array([1, 2])).lookup(["2", 1, "1.5", True], missing="negative").tolist()
    [1, 0, -1, -1]
    """

    __slots__ = ("_index", "_is_integer")

    def __init__(self, ids: Iterable[Any]):
        array = _as_1d(ids)
        self._is_integer = array.dtype.kind in "iu"
        if not self._is_integer:
            array = array.astype(str).astype(object)
        self._index = pd.Index(array)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][0]
            raise ValueError(f"id map has duplicate id {dup!r}")

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, value: Any) -> bool:
        return bool(self.lookup([value], missing="negative")[0] >= 0)

    def __repr__(self) -> str:
        return f"IdMap(n={len(self)}, integer={self._is_integer})"

    @property
    def ids(self) -> np.ndarray:
        """The original ids, row ``r`` at position ``r``."""
        return self._index.to_numpy()

    @property
    def is_integer(self) -> bool:
        return self._is_integer

    def _normalise_query(self, values: np.ndarray) -> np.ndarray:
        if not self._is_integer:
            if values.dtype.kind == "U":
                return values.astype(str).astype(object)
            if values.dtype.kind in "iu":
                return values.astype(str).astype(object)
            if values.dtype.kind != "O":
                return np.full(values.shape, _NO_MATCH_OBJECT, dtype=object)
            return np.array([_text_or_no_match(v) for v in values], dtype=object)
        kind = values.dtype.kind
        if kind in "iu":
            return values
        if kind == "f":
            return _whole_floats(values)
        if kind == "U":
            return _decimal_strings(values.astype(str))
        if kind == "O":
            return np.array([_integer_or_no_match(v) for v in values], dtype=np.int64)
        return np.full(values.shape, _NO_MATCH, dtype=np.int64)  # bool, datetime, ...

    def lookup(
        self,
        values: Any,
        *,
        missing: Literal["error", "negative"] = "error",
        what: str = "id",
    ) -> np.ndarray:
        """Rows of ``values`` as int32; unknown ids raise, or give -1 with ``missing="negative"``."""
        query = self._normalise_query(_as_1d(values))
        rows = self._index.get_indexer(query)
        if missing == "error" and (rows < 0).any():
            bad = plain(_as_1d(values)[np.flatnonzero(rows < 0)[0]])
            raise UnknownIdError(
                f"{what} {bad!r} is not known to the model (it has no ratings in the training data)", what=what
            )
        return rows.astype(np.int32)

    def to_ids(self, rows: Any) -> np.ndarray:
        """Original ids of ``rows``."""
        return self._index.to_numpy()[np.asarray(rows, dtype=np.int64)]

    def to_storable(self) -> np.ndarray:
        """An array ``np.save`` can write without pickle: int64 or fixed-width unicode."""
        if self._is_integer:
            return self._index.to_numpy().astype(np.int64)
        return self._index.to_numpy().astype(str)

    def subset(self, rows: np.ndarray) -> IdMap:
        return IdMap(self._index.to_numpy()[rows])

    def extend(self, ids: Any) -> IdMap:
        """A map with the unknown ones of ``ids`` appended (in first-seen order); existing rows keep their row."""
        query = _as_1d(ids)
        new = pd.unique(query[self.lookup(query, missing="negative") < 0])
        if new.size == 0:
            return self
        if self._is_integer and new.dtype.kind in "iu":
            return IdMap(np.concatenate([self.ids.astype(np.int64), new.astype(np.int64)]))
        return IdMap(np.concatenate([self.ids.astype(str), new.astype(str)]))
