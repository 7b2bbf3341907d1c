"""Mapping between the caller's ids (strings or integers) and contiguous int32 rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from mfrec.exceptions import UnknownIdError

# Stands in for a query that cannot be an integer id (e.g. "abc" against integer ids).
_NO_MATCH = np.iinfo(np.int64).min


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages show ``5``, not ``np.int64(5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _as_1d(values: Any) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy()
    if np.isscalar(values) or values is None:
        return np.asarray([values])
    if isinstance(values, np.ndarray):
        return values.ravel()
    return np.asarray(list(values) if not isinstance(values, (list, tuple)) else values).ravel()


class IdMap:
    """Original ids <-> rows ``0..n-1``, in the order given.

    Integer ids stay integers; anything else is kept as strings. Lookups accept
    strings for integer maps (``"196"`` finds user ``196``) so that ids typed on a
    command line or read from JSON still match.

    Examples
    --------
    >>> m = IdMap(np.array(["alice", "bob"]))
    >>> m.lookup(["bob", "alice"]).tolist()
    [1, 0]
    >>> m.to_ids([0]).tolist()
    ['alice']
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
        if self._is_integer and values.dtype.kind not in "iu":
            if values.dtype.kind == "f":
                whole = np.isfinite(values) & (values == np.round(values))
                return np.where(whole, np.nan_to_num(values).astype(np.int64), _NO_MATCH)
            converted = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            ok = converted.notna().to_numpy()
            out = np.full(values.shape, _NO_MATCH, dtype=np.int64)
            out[ok] = converted[ok].astype(np.int64).to_numpy()
            return out
        if not self._is_integer:
            return values.astype(str).astype(object)
        return values

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
            raise UnknownIdError(f"{what} {bad!r} is not known to the model (it has no ratings in the training data)")
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
