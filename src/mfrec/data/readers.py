"""Readers: DataFrame, CSV/TSV (any separator), Parquet and MovieLens folders -> Interactions."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.interactions import DuplicatePolicy, Interactions, from_arrays
from mfrec.exceptions import DataError

_SEPARATORS = ("::", "\t", ",", ";", "|", " ")


def from_frame(
    frame: pd.DataFrame,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    with_timestamps: bool = True,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy = "last",
    name: str = "",
    **info: Any,
) -> Interactions:
    """Interactions from a DataFrame with configurable column names.

    ``rating_col=None`` reads implicit data (every row counts 1). A ``timestamp``
    column is picked up automatically when ``timestamp_col`` is not given;
    ``with_timestamps=False`` ignores timestamps (training needs none: saves 8 bytes a rating).

    Examples
    --------
    >>> df = pd.DataFrame({"uid": [1, 2], "movie": ["a", "b"], "stars": [4, 5]})
    >>> from_frame(df, user_col="uid", item_col="movie", rating_col="stars").n_items
    2
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if not with_timestamps:
        timestamp_col = None
    elif timestamp_col is None and "timestamp" in frame.columns:
        timestamp_col = "timestamp"
    wanted = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col, "timestamp_col": timestamp_col}
    for arg, col in wanted.items():
        if col is not None and col not in frame.columns:
            raise DataError(
                f"missing column {col!r}; got {list(map(str, frame.columns))}; pass {arg}='<name>' to use another column"
            )
    return from_arrays(
        frame[user_col],
        frame[item_col],
        None if rating_col is None else frame[rating_col],
        None if timestamp_col is None else frame[timestamp_col],
        rating_scale=rating_scale,
        duplicates=duplicates,
        columns=(user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"),
        name=name,
        **info,
    )


def _sniff_separator(first_line: str) -> str:
    for sep in _SEPARATORS:
        if sep in first_line:
            return sep
    raise DataError(f"could not tell the column separator from the first line {first_line[:80]!r}; pass sep=...")


_HEADER_WORDS = {"user", "item", "rating", "userid", "movieid", "itemid", "user_id", "item_id", "timestamp"}


def _looks_like_header(fields: list[str]) -> bool:
    """A first line is a header when its rating field is not a number (or, with two columns, a known name)."""
    if len(fields) >= 3:
        try:
            float(fields[2])
        except ValueError:
            return True
        return False
    return any(f.strip().lower() in _HEADER_WORDS for f in fields)


def read_csv(
    path: str | Path,
    *,
    sep: str | None = None,
    header: bool | None = None,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    with_timestamps: bool = True,
    encoding: str = "utf-8",
    **kwargs: Any,
) -> Interactions:
    """Interactions from a delimited text file.

    The separator (``::``, tab, comma, semicolon, pipe or space) and whether the
    first line is a header are detected unless given. A file without a header is
    read positionally as user, item, rating[, timestamp] and those names apply.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    with path.open(encoding=encoding, errors="replace") as handle:
        first_line = handle.readline().rstrip("\r\n")
    if not first_line:
        raise DataError(f"no interactions: {path} is empty")
    sep = sep or _sniff_separator(first_line)
    fields = first_line.split(sep)
    if header is None:
        header = _looks_like_header(fields)
    source: Any = path
    read_sep = sep
    if len(sep) > 1:
        # pandas needs its slow python engine for multi-character separators; one pass of
        # str.replace is ~20x faster on ml-1m/ml-10m.
        source = io.StringIO(path.read_text(encoding=encoding, errors="replace").replace(sep, "\x1f"))
        read_sep = "\x1f"
    if header:
        frame = pd.read_csv(source, sep=read_sep, encoding=None if len(sep) > 1 else encoding)
    else:
        ncols = len(fields)
        names = [user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"][:ncols]
        names += [f"extra_{i}" for i in range(ncols - len(names))]
        frame = pd.read_csv(source, sep=read_sep, header=None, names=names, encoding=None if len(sep) > 1 else encoding)
        if timestamp_col is None and ncols >= 4:
            timestamp_col = "timestamp"
    kwargs.setdefault("name", path.stem)
    return from_frame(
        frame, user_col=user_col, item_col=item_col, rating_col=rating_col, timestamp_col=timestamp_col,
        with_timestamps=with_timestamps, **kwargs,
    )  # fmt: skip


def read_parquet(
    path: str | Path,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    with_timestamps: bool = True,
    **kwargs: Any,
) -> Interactions:
    """Interactions from a Parquet file, reading only the columns needed."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    available = pq.read_schema(path).names
    if not with_timestamps:
        timestamp_col = None
    elif timestamp_col is None and "timestamp" in available:
        timestamp_col = "timestamp"
    columns = [c for c in (user_col, item_col, rating_col, timestamp_col) if c is not None]
    missing = [c for c in columns if c not in available]
    if missing:
        raise DataError(f"missing column {missing[0]!r} in {path.name}; got {available}")
    # Copy batch by batch into preallocated arrays: Arrow's memory pool keeps what it
    # frees, so reading the whole table at once left ~0.7 GB of dead weight at 20M ratings.
    parquet = pq.ParquetFile(path, memory_map=True)
    n_rows = parquet.metadata.num_rows
    arrays: dict[str, np.ndarray] = {}
    position = 0
    for batch in parquet.iter_batches(batch_size=1 << 20, columns=columns):
        for column in columns:
            values = batch.column(column).to_numpy(zero_copy_only=False)
            if column not in arrays:
                arrays[column] = np.empty(n_rows, dtype=values.dtype)
            arrays[column][position : position + len(values)] = values
        position += batch.num_rows
    kwargs.setdefault("name", path.stem)
    return from_arrays(
        arrays[user_col],
        arrays[item_col],
        None if rating_col is None else arrays[rating_col],
        None if timestamp_col is None else arrays[timestamp_col],
        columns=(user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"),
        **kwargs,
    )


def load(source: Any, **kwargs: Any) -> Interactions:
    """Interactions from whatever ``source`` is: Interactions, DataFrame, (users, items, ratings), file or MovieLens folder.

    Examples
    --------
    >>> data = load(pd.DataFrame({"user": [1], "item": [2], "rating": [3.0]}))
    >>> len(data)
    1
    """
    from mfrec.data import movielens
    from mfrec.data.chunked import read_chunked, wants_chunked

    # order="user" (rows grouped by user, for training) needs the chunked reader; other sources ignore it.
    order = kwargs.pop("order", None)
    if isinstance(source, Interactions):
        return source
    if isinstance(source, pd.DataFrame):
        return from_frame(source, **kwargs)
    if isinstance(source, tuple) and len(source) in (2, 3, 4):
        return from_arrays(*source, **kwargs)
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if path.is_dir():
            kwargs.pop("with_timestamps", None)  # MovieLens is small enough to always keep them
            # A MovieLens folder has a fixed layout: column names and separators describe files only.
            for option in ("user_col", "item_col", "rating_col", "timestamp_col", "sep"):
                kwargs.pop(option, None)
            return movielens.load_movielens(path, **kwargs)
        if not path.exists():
            raise DataError(f"no such file or folder: {path}")
        if order is not None or wants_chunked(path):  # larger than memory, or bound for training
            return read_chunked(path, order=order or "file", **kwargs)
        if path.suffix.lower() in (".parquet", ".pq"):
            return read_parquet(path, **kwargs)
        return read_csv(path, **kwargs)
    raise DataError(
        f"cannot read interactions from {type(source).__name__}; pass a DataFrame, a path or (users, items, ratings)"
    )
