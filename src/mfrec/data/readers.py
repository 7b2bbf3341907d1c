"""Readers: DataFrame, CSV/TSV (any separator) and Parquet -> Interactions (:func:`mfrec.data.load` picks one)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mfrec.data.columns import resolve_columns
from mfrec.data.interactions import DuplicatePolicy, Interactions, from_arrays
from mfrec.data.sniffing import (
    _reading_error,
    _sniff_encoding,
    _undecodable_line,
    _warn_latin1,
    odd_numbers,
    sniff_layout,
)
from mfrec.exceptions import DataError


def from_frame(
    frame: pd.DataFrame,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    with_timestamps: bool = True,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    name: str = "",
    **info: Any,
) -> Interactions:
    """Interactions from a DataFrame with configurable column names.

    ``rating_col=None`` reads implicit data (every row counts 1). With the default names, the usual
    spellings are recognised (``userId``, ``User-ID``, ``movieId``, ``ISBN``, ``Book-Rating``, ``weight``,
    ``unixReviewTime``...: :data:`~mfrec.data.columns.COLUMN_ALIASES`); the result's ``read_columns`` says
    which were read. A timestamp column is picked up automatically when ``timestamp_col`` is not given;
    ``with_timestamps=False`` ignores timestamps (training needs none: saves 8 bytes a rating).

    Examples
    --------
    >>> df = pd.DataFrame({"uid": [1, 2], "movie": ["a", "b"], "stars": [4, 5]})
    >>> from_frame(df, user_col="uid", item_col="movie", rating_col="stars").n_items
    2
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    user_col, item_col, rating_col, timestamp_col = resolve_columns(
        frame.columns, user_col, item_col, rating_col, timestamp_col, with_timestamps
    )
    wanted = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col, "timestamp_col": timestamp_col}
    for arg, col in wanted.items():
        if col is not None and col not in frame.columns:
            hint = ", or rating_col=None for implicit data without one" if arg == "rating_col" else ""
            raise DataError(
                f"missing column {col!r}; got {_shown_columns(frame.columns)}; pass {arg}='<name>' to use another "
                f"column{hint}"
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


def _shown_columns(columns: Any, most: int = 8) -> str:
    """The columns for an error message: at most ``most``, each cut to 30 characters (a binary file has wild ones)."""
    names = [name if len(name) <= 30 else name[:27] + "..." for name in map(str, columns)]
    return str(names[:most])[:-1] + (f", ... {len(names) - most} more]" if len(names) > most else "]")


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
    encoding: str | None = None,
    **kwargs: Any,
) -> Interactions:
    """Interactions from a delimited text file.

    The separator (``::``, tab, comma, semicolon, pipe or space) and whether the
    first line is a header are detected unless given. A file without a header is
    read positionally as user, item, rating[, timestamp] and those names apply;
    ``rating_col=None`` reads a two-column log (user, item) as implicit data.
    ``encoding=None`` reads UTF-8 and falls back to latin-1 with a warning when the
    file is not UTF-8. A row with the wrong number of fields or bytes the encoding
    cannot read raise :class:`DataError` naming the file and the line.

    Examples
    --------
    >>> data = read_csv("plays.csv", rating_col=None, encoding="latin-1")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    given = encoding is not None
    encoding = encoding or _sniff_encoding(path)
    try:
        return _read_delimited(
            path, sep, header, user_col, item_col, rating_col, timestamp_col, with_timestamps, encoding, kwargs
        )
    except UnicodeDecodeError as exc:
        if given:
            raise _reading_error(path, exc, encoding) from None
        _warn_latin1(path, _undecodable_line(path, encoding))
        return _read_delimited(
            path, sep, header, user_col, item_col, rating_col, timestamp_col, with_timestamps, "latin-1", kwargs
        )
    except (pd.errors.ParserError, LookupError) as exc:
        if isinstance(exc, LookupError) and not isinstance(exc, UnicodeError):
            raise DataError(f"unknown encoding {encoding!r}; pass e.g. encoding='utf-8' or 'latin-1'") from None
        raise _reading_error(path, exc, encoding) from None


def _read_delimited(
    path: Path,
    sep: str | None,
    header: bool | None,
    user_col: str,
    item_col: str,
    rating_col: str | None,
    timestamp_col: str | None,
    with_timestamps: bool,
    encoding: str,
    kwargs: dict[str, Any],
) -> Interactions:
    names = {name for name in (user_col, item_col, rating_col, timestamp_col) if name}
    sep, header, fields = sniff_layout(path, encoding, sep, header, names)
    if header:  # the usual spellings of the columns (userId, movieId, ISBN, ...) are recognised
        user_col, item_col, rating_col, found_time = resolve_columns(
            [f.strip().strip('"') for f in fields], user_col, item_col, rating_col, timestamp_col, with_timestamps
        )
        timestamp_col = timestamp_col or found_time
    source: Any = path
    read_sep = sep
    read_encoding: str | None = encoding
    if len(sep) > 1:
        # pandas needs its slow python engine for multi-character separators; one pass of
        # str.replace is ~20x faster on ml-1m/ml-10m.
        source = io.StringIO(path.read_text(encoding=encoding).replace(sep, "\x1f"))
        read_sep, read_encoding = "\x1f", None
    # A field spelled like a number but not as one ("007", "+7", "-07") makes the ids text: encode_ids then keeps
    # them apart unless every one is an integer's one spelling. Without one, pandas' integer parsing is exact.
    ids_as_text = {user_col: str, item_col: str} if odd_numbers(path, sep, encoding) else None
    # Blank lines are read as empty rows and dropped below, so that messages can name the file's lines.
    options: dict[str, Any] = {
        "sep": read_sep,
        "encoding": read_encoding,
        "dtype": ids_as_text,
        "skip_blank_lines": False,
    }
    if not header:
        ncols = len(fields)
        names_in_order = [user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"][:ncols]
        names_in_order += [f"extra_{i}" for i in range(ncols - len(names_in_order))]
        options.update(header=None, names=names_in_order)
        if timestamp_col is None and ncols >= 4:
            timestamp_col = "timestamp"
    frame = pd.read_csv(source, **options)
    first_line: int | np.ndarray = 2 if header else 1
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        first_line = np.flatnonzero(~blank) + first_line
        frame = frame[~blank].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"no interactions: {path} has no rows after its first line")
    kwargs.setdefault("name", path.stem)
    kwargs.setdefault("first_line", first_line)
    return from_frame(
        frame,
        user_col=user_col,
        item_col=item_col,
        rating_col=rating_col,
        timestamp_col=timestamp_col,
        with_timestamps=with_timestamps,
        **kwargs,
    )


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
    try:
        available = pq.read_schema(path).names
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(
            f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); a text file needs a .csv or .tsv name"
        ) from None
    user_col, item_col, rating_col, timestamp_col = resolve_columns(
        available, user_col, item_col, rating_col, timestamp_col, with_timestamps
    )
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
