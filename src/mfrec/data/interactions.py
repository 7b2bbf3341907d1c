"""The interactions container every model fits on, and the one place input is validated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mfrec.data.columns import FirstLine, encode_ids, ratings_column, refuse, timestamps_column, where
from mfrec.data.idmap import IdMap, plain
from mfrec.data.scales import infer_rating_scale, scale_name
from mfrec.exceptions import DataError, DuplicateRatingsWarning, ParameterError, StrayRatingsWarning, warn_user
from mfrec.kernels.sparse import count_duplicates, csr_by_user, fill_rows, merge_duplicates, regroup, row_pointers

DuplicatePolicy = Literal["last", "mean", "sum", "error"]
DUPLICATE_POLICIES = ("last", "mean", "sum", "error")


@dataclass(frozen=True, eq=False, repr=False)
class Interactions:
    """A log of (user, item, rating) triples stored sparsely, with id maps.

    Rows are int32 indices into ``user_ids`` / ``item_ids``; ratings are float32.
    Build one with :func:`mfrec.data.from_frame`, :func:`mfrec.data.from_arrays`
    or :func:`mfrec.data.load`, which validate their input; constructing it
    directly skips validation.

    Examples
    --------
    >>> from mfrec.data import from_arrays
    >>> data = from_arrays(["ann", "ann", "bob"], ["x", "y", "x"], [5, 3, 4])
    >>> data.n_users, data.n_items, len(data)
    (2, 2, 3)
    """

    user_idx: np.ndarray
    item_idx: np.ndarray
    ratings: np.ndarray
    user_ids: IdMap
    item_ids: IdMap
    timestamps: np.ndarray | None = None
    rating_scale: tuple[float, float] = (1.0, 5.0)
    item_info: pd.DataFrame | None = None
    user_info: pd.DataFrame | None = None
    name: str = ""
    n_duplicates: int = 0
    #: How ``rating_scale`` was set: "declared", "inferred: 1-5" (a common scale) or "inferred: 0..max".
    scale_source: str = "declared"
    #: The columns read (user, item, rating or None, timestamp or None), as the input spells them.
    read_columns: tuple[str | None, ...] = ()
    #: The duplicate policy applied ("last" for ratings, "sum" for interaction counts by default).
    duplicates: str = "last"
    #: The last id of the service's ratings log these interactions include (``with_log``), else None.
    ratings_log_id: int | None = None
    #: Values derived from these interactions, the user CSR first (:meth:`derived`).
    _csr_cache: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return int(self.ratings.shape[0])

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Interactions({label}users={self.n_users:,}, items={self.n_items:,}, "
            f"ratings={len(self):,}, scale={self.rating_scale})"
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def density(self) -> float:
        cells = self.n_users * self.n_items
        return len(self) / cells if cells else 0.0

    @property
    def is_implicit(self) -> bool:
        """Whether this records interactions, not ratings: read without a rating column, one value, or counts."""
        no_rating_column = len(self.read_columns) >= 3 and self.read_columns[2] is None
        counts = self.scale_source.startswith("inferred: interaction counts")
        return no_rating_column or counts or bool(len(self.ratings) and np.ptp(self.ratings) == 0)

    def user_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, item indices, ratings)`` grouped by user; cached."""
        return self.derived("user", lambda: csr_by_user(self.user_idx, self.item_idx, self.ratings, self.n_users))

    def derived(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per ``key`` for these interactions (frozen: what is derived from them stays true).

        Fits that share one training set (``auto``'s trials) share what each would otherwise derive again. The
        store is shared with copies made by ``dataclasses.replace`` (the user CSR holds for them too), so a key
        must name whatever else besides the rows the value depends on (the timestamps, the scale).
        """
        if key not in self._csr_cache:
            self._csr_cache[key] = compute()
        return self._csr_cache[key]

    def rows_are_csr(self) -> bool:
        """Whether the rows are grouped by user, so that :meth:`user_csr` is the rows themselves (no copy)."""
        csr = self._csr_cache.get("user")
        columns = (self.item_idx, self.ratings)
        return csr is not None and all(a.ctypes.data == b.ctypes.data for a, b in zip(csr[1:], columns))

    def to_csr(self) -> sp.csr_matrix:
        """The users x items rating matrix as scipy CSR (float32)."""
        indptr, indices, data = self.user_csr()
        return sp.csr_matrix((data, indices, indptr), shape=(self.n_users, self.n_items))

    def to_dense(self, max_cells: int = 10_000_000) -> np.ndarray:
        """A dense matrix with NaN for unknown cells; refuses matrices over ``max_cells``."""
        cells = self.n_users * self.n_items
        if cells > max_cells:
            raise ParameterError(f"dense matrix would have {cells:,} cells (> max_cells={max_cells:,})")
        dense = np.full((self.n_users, self.n_items), np.nan, dtype=np.float32)
        dense[self.user_idx, self.item_idx] = self.ratings
        return dense

    def to_frame(self) -> pd.DataFrame:
        """The interactions with original ids: columns user, item, rating (, timestamp)."""
        frame = pd.DataFrame(
            {
                "user": self.user_ids.to_ids(self.user_idx),
                "item": self.item_ids.to_ids(self.item_idx),
                "rating": self.ratings,
            }
        )
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps
        return frame

    def subset(self, rows: np.ndarray, name: str | None = None) -> Interactions:
        """The interactions at ``rows`` (bool mask or positions), with id maps shrunk to the ids present."""
        rows = np.asarray(rows)
        users, items = self.user_idx[rows], self.item_idx[rows]
        user_keep = np.flatnonzero(np.bincount(users, minlength=self.n_users))
        item_keep = np.flatnonzero(np.bincount(items, minlength=self.n_items))
        user_remap = np.full(self.n_users, -1, dtype=np.int32)
        user_remap[user_keep] = np.arange(user_keep.size, dtype=np.int32)
        item_remap = np.full(self.n_items, -1, dtype=np.int32)
        item_remap[item_keep] = np.arange(item_keep.size, dtype=np.int32)
        user_idx, item_idx, ratings = user_remap[users], item_remap[items], self.ratings[rows]
        cache = {}
        if self.rows_are_csr():  # rows grouped by user stay grouped: the subset's CSR is its rows, no copy
            cache["user"] = (row_pointers(user_idx, user_keep.size), item_idx, ratings)
        return replace(
            self,
            user_idx=user_idx,
            item_idx=item_idx,
            ratings=ratings,
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            user_ids=self.user_ids.subset(user_keep),
            item_ids=self.item_ids.subset(item_keep),
            name=self.name if name is None else name,
            n_duplicates=0,
            _csr_cache=cache,
        )

    def item_titles(self, item_ids: Any) -> list[str] | None:
        """Titles of ``item_ids`` from ``item_info['title']``, or None when there is no such column."""
        if self.item_info is None or "title" not in self.item_info.columns:
            return None
        titles = self.item_info["title"].reindex(pd.Index(np.asarray(item_ids)))
        return [str(t) if isinstance(t, str) else "" for t in titles]


# --------------------------------------------------------------------------- validation


def check_rating_scale(rating_scale: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise ParameterError(f"rating_scale must be a pair (low, high), got {rating_scale!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ParameterError(f"rating_scale must satisfy low < high, got {rating_scale!r}")
    return low, high


def from_arrays(
    users: Any,
    items: Any,
    ratings: Any = None,
    timestamps: Any = None,
    *,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    columns: tuple[str, str, str, str] = ("user", "item", "rating", "timestamp"),
    item_info: pd.DataFrame | None = None,
    user_info: pd.DataFrame | None = None,
    name: str = "",
    first_line: FirstLine = None,
) -> Interactions:
    """Validate aligned arrays and build :class:`Interactions`.

    Parameters
    ----------
    users, items : array-like of int or str
        Original ids, one per interaction.
    ratings : array-like of float, optional
        The ratings; ``None`` means every interaction counts 1.0 (implicit data).
    timestamps : array-like of int or datetime, optional
        Seconds since the epoch (or dates), used by temporal splits.
    rating_scale : (low, high), optional
        Declared scale; ratings outside it are an error. Inferred if omitted: the first of
        :data:`COMMON_SCALES` that holds every rating (1-5 for a log without a 1-star rating), else 0..max.
    duplicates : {"last", "mean", "sum", "error"}, optional
        What to do with repeated (user, item) pairs: keep the last row, average them, add them up, or
        raise. The default is "last" with ratings and "sum" without (each row is one interaction: the
        counts are kept). The number merged is kept in ``n_duplicates`` and warned about.
    columns : names used in error messages for users, items, ratings, timestamps.
    first_line : the file line of the first row, or every row's line, when the arrays are a file's rows: messages
        then name lines (``read_csv`` passes 2 below a header, else 1, or the lines when it dropped blank ones)
        instead of 0-based row positions.

    Examples
    --------
    >>> data = from_arrays([1, 1, 2], [10, 20, 10], [4.0, 2.0, 5.0], rating_scale=(1, 5))
    >>> data.rating_scale
    (1.0, 5.0)
    """
    user_col, item_col, rating_col, time_col = columns
    if duplicates is None:
        duplicates = "sum" if ratings is None else "last"
    if duplicates not in DUPLICATE_POLICIES:
        raise ParameterError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    n = len(users)
    if n == 0:
        raise DataError("no interactions: the input has 0 rows")
    for col, values in ((item_col, items), (rating_col, ratings), (time_col, timestamps)):
        if values is not None and len(values) != n:
            raise DataError(f"column {col!r} has {len(values)} values but column {user_col!r} has {n}")

    rating_values = np.ones(n, dtype=np.float32) if ratings is None else ratings_column(ratings, rating_col, first_line)
    scale = rating_scale_of(rating_values, rating_scale, rating_col, first_line)
    stray = (rating_values < scale[0]) | (rating_values > scale[1])  # only an inferred scale leaves any
    if stray.any():
        row = int(np.flatnonzero(stray)[0])
        warn_user(
            f"left out {int(stray.sum())} of {n} ratings outside the {scale_name(scale)} scale the others are on "
            f"(first at {where(first_line, row)}: {rating_values[row]:g}); declare the scale "
            "(rating_scale=, --rating-scale) to refuse such data instead",
            StrayRatingsWarning,
        )
        keep = ~stray
        users, items, rating_values = np.asarray(users)[keep], np.asarray(items)[keep], rating_values[keep]
        timestamps = None if timestamps is None else np.asarray(timestamps)[keep]
    source = "declared" if rating_scale is not None else f"inferred: {scale_name(scale)}"
    time_values = None if timestamps is None else timestamps_column(timestamps, time_col, first_line)
    user_idx, user_map = encode_ids(users, user_col, first_line)
    item_idx, item_map = encode_ids(items, item_col, first_line)
    arrays = {"user": user_idx, "item": item_idx, "rating": rating_values, "timestamp": time_values}
    del user_idx, item_idx, rating_values, time_values
    data = assemble(
        arrays,
        user_map,
        item_map,
        scale,
        duplicates=duplicates,
        columns=columns,
        item_info=item_info,
        user_info=user_info,
        name=name,
        first_line=first_line,
        scale_source=source,
        read_columns=(
            user_col,
            item_col,
            None if ratings is None else rating_col,
            None if timestamps is None else time_col,
        ),
    )
    if data.n_duplicates and duplicates == "sum" and rating_scale is None:  # counts: the scale of the sums
        scale = (0.0, max(1.0, float(data.ratings.max())))
        data = replace(data, rating_scale=scale, scale_source=f"inferred: interaction counts 0..{scale[1]:g}")
    return data


def rating_scale_of(
    rating_values: np.ndarray, rating_scale: Any, rating_col: str = "rating", first_line: FirstLine = None
) -> tuple[float, float]:
    """The declared scale checked against float32 ``rating_values``, or the scale inferred from them."""
    if rating_scale is None:
        return infer_rating_scale(rating_values)
    scale = check_rating_scale(rating_scale)
    outside = (rating_values < scale[0]) | (rating_values > scale[1])
    what = f"values outside the rating scale [{scale[0]:g}, {scale[1]:g}]"
    refuse(outside, rating_col, what, first_line, rating_values, show=lambda value: f"{value:g}")
    return scale


def assemble(
    arrays: dict[str, np.ndarray | None],
    user_map: IdMap,
    item_map: IdMap,
    scale: tuple[float, float],
    *,
    duplicates: DuplicatePolicy = "last",
    columns: tuple[str, str, str, str] = ("user", "item", "rating", "timestamp"),
    group_by_user: bool = False,
    keep_csr: bool = True,
    first_line: FirstLine = None,
    **info: Any,
) -> Interactions:
    """Interactions from encoded, validated arrays: merge duplicate pairs, build the user CSR.

    ``arrays`` holds ``user``/``item`` (int32 rows), ``rating`` (float32) and ``timestamp``
    (int64 or None) in input order; they are popped from the dict so the caller keeps no
    reference and each intermediate is freed as soon as it is replaced. With
    ``group_by_user`` the result's rows are grouped by user (input order inside a user):
    the COO arrays then *are* the CSR, one copy of the ratings instead of two. ``keep_csr=False``
    frees the CSR built for the duplicate check (``user_csr()`` rebuilds it when asked).
    """
    user_col, item_col = columns[0], columns[1]
    user_idx, item_idx, rating_values = arrays.pop("user"), arrays.pop("item"), arrays.pop("rating")
    time_values = arrays.pop("timestamp", None)
    # The CSR is needed by every model anyway; checking it for repeats costs no extra memory.
    # Only when there are duplicates do we pay for the row-tracking merge.
    csr = csr_by_user(user_idx, item_idx, rating_values, len(user_map))
    dropped = count_duplicates(csr[0], csr[1], len(item_map))
    if dropped:
        csr = None
        merged = rating_values.copy() if duplicates in ("mean", "sum") else np.empty(0, np.float32)
        keep, dropped, first_a, first_b = merge_duplicates(
            user_idx, item_idx, rating_values, merged, len(user_map), len(item_map), duplicates == "sum"
        )
        pair = (plain(user_map.to_ids([user_idx[first_a]])[0]), plain(item_map.to_ids([item_idx[first_a]])[0]))
        if duplicates == "error":
            raise DataError(
                f"{dropped} duplicate ({user_col}, {item_col}) pairs; the first is {pair!r} at "
                f"{where(first_line, first_a, first_b)}; pass duplicates='last', 'mean' or 'sum' to merge them "
                "(CLI: --duplicates last)"
            )
        warn_user(
            f"merged {dropped} duplicate ({user_col}, {item_col}) pairs with policy {duplicates!r} "
            f"(first: {pair!r} at {where(first_line, first_a, first_b)})",
            DuplicateRatingsWarning,
        )
        rating_values = (merged if duplicates in ("mean", "sum") else rating_values)[keep]
        user_idx, item_idx = user_idx[keep], item_idx[keep]
        time_values = None if time_values is None else time_values[keep]

    if group_by_user:
        if csr is None:
            csr = csr_by_user(user_idx, item_idx, rating_values, len(user_map))
        del item_idx, rating_values
        if time_values is not None:
            time_values = regroup(user_idx, csr[0], time_values)
        fill_rows(csr[0], user_idx)  # in place: the user of each grouped row
        item_idx, rating_values = csr[1], csr[2]
    elif not keep_csr:
        csr = None
    return Interactions(
        user_idx=np.ascontiguousarray(user_idx, dtype=np.int32),
        item_idx=np.ascontiguousarray(item_idx, dtype=np.int32),
        ratings=np.ascontiguousarray(rating_values, dtype=np.float32),
        user_ids=user_map,
        item_ids=item_map,
        timestamps=time_values,
        rating_scale=scale,
        n_duplicates=int(dropped),
        duplicates=duplicates,
        _csr_cache={} if csr is None else {"user": csr},
        **info,
    )
