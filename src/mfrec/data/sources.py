"""Reading interactions from any source: :func:`load` picks the reader, :func:`resolve_source` the path.

A DataFrame, arrays, an :class:`Interactions`, a MovieLens folder or name, a small CSV or Parquet file
(:mod:`mfrec.data.readers`) or a big one, read in chunks (:mod:`mfrec.data.chunked`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mfrec.data import movielens
from mfrec.data.chunked import read_chunked
from mfrec.data.interactions import Interactions, from_arrays
from mfrec.data.readers import from_frame, read_csv, read_parquet
from mfrec.exceptions import DataError


def resolve_source(source: str | Path) -> Path:
    """The path ``source`` names: an existing file or folder, else a MovieLens release name such as ``"ml-100k"``.

    A name is looked up like :func:`mfrec.data.movielens.locate` does ($MFREC_DATA, the cache,
    then a download), so a dataset name works wherever a path does.

    Examples
    --------
    >>> resolve_source("ml-100k")  # doctest: +SKIP
    PosixPath('../shared/data/ml-100k')
    """
    path = Path(source).expanduser()
    if path.exists():
        return path
    if str(source) in movielens.RELEASES:
        return movielens.locate(str(source))
    raise DataError(f"no such file or folder: {path} (nor a dataset name: {', '.join(movielens.RELEASES)})")


#: From these sizes up, :func:`load` reads a file in chunks (:mod:`mfrec.data.chunked`), so it may exceed memory.
CHUNKED_MIN_BYTES = 256 << 20
CHUNKED_MIN_ROWS = 10_000_000


def _parquet_rows(path: Path) -> int | None:
    """Rows of a Parquet file, or None when it does not read as Parquet (:func:`read_parquet` then says why)."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:
        return None


def load(source: Any, **kwargs: Any) -> Interactions:
    """Interactions from ``source``: Interactions, DataFrame, (users, items, ratings), file or MovieLens folder.

    Examples
    --------
    >>> data = load(pd.DataFrame({"user": [1], "item": [2], "rating": [3.0]}))
    >>> len(data)
    1
    """
    # order="user" (rows grouped by user, for training) needs the chunked reader; other sources ignore it.
    order = kwargs.pop("order", None)
    if isinstance(source, Interactions):
        return source
    if isinstance(source, pd.DataFrame):
        return from_frame(source, **kwargs)
    if isinstance(source, tuple) and len(source) in (2, 3, 4):
        return from_arrays(*source, **kwargs)
    if isinstance(source, (str, Path)):
        path = resolve_source(source)
        if path.is_dir():
            kwargs.pop("with_timestamps", None)  # MovieLens is small enough to always keep them
            # A MovieLens folder has a fixed layout: column names and separators describe files only.
            for option in ("user_col", "item_col", "rating_col", "timestamp_col", "sep", "encoding", "header"):
                kwargs.pop(option, None)
            return movielens.load_movielens(path, **kwargs)
        # In chunks: a big file (larger than memory), or Parquet bound for training (order="user": the rows come
        # grouped, so they are the CSR). A small CSV keeps the reader that sniffs encodings and explains bad rows.
        is_parquet = path.suffix.lower() in (".parquet", ".pq")
        rows = _parquet_rows(path) if is_parquet else None
        big = path.stat().st_size >= CHUNKED_MIN_BYTES or (rows or 0) >= CHUNKED_MIN_ROWS
        if big or (order is not None and rows is not None):
            if kwargs.get("encoding") is None:
                kwargs.pop("encoding", None)  # the chunked reader takes UTF-8 unless told otherwise
            return read_chunked(path, order=order or "file", **kwargs)
        if is_parquet:
            kwargs.pop("encoding", None)
            kwargs.pop("sep", None)
            return read_parquet(path, **kwargs)
        return read_csv(path, **kwargs)
    raise DataError(
        f"cannot read interactions from {type(source).__name__}; pass a DataFrame, a path or (users, items, ratings)"
    )
