"""Readers: DataFrame, CSV/TSV (any separator), Parquet and MovieLens folders -> Interactions."""

from __future__ import annotations

import codecs
import io
import re
import warnings
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


def _sniff_separator(first_line: str) -> str:
    for sep in _SEPARATORS:
        if sep in first_line:
            return sep
    raise DataError(f"could not tell the column separator from the first line {first_line[:80]!r}; pass sep=...")


_HEADER_WORDS = {"user", "item", "rating", "userid", "movieid", "itemid", "user_id", "item_id", "timestamp"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(fields: list[str], next_fields: list[str] | None, names: set[str]) -> bool:
    """A first line is a header when it names a column, or has text where the lines below have numbers.

    With three or more fields a non-numeric rating field is enough; with two (an implicit log:
    user, item) a field that is text above numbers (``uid,song`` over ``1,17``) or a known
    column name marks the header, so it is never read as an interaction.
    """
    lowered = {field.strip().lower() for field in fields}
    if lowered & (_HEADER_WORDS | {name.lower() for name in names}):
        return True
    if len(fields) >= 3 and not _is_number(fields[2]):
        return True
    if next_fields is None or len(next_fields) != len(fields):
        return False
    return any(not _is_number(top) and _is_number(below) for top, below in zip(fields, next_fields))


def _sniff_encoding(path: Path) -> str:
    """utf-8 (with or without a BOM) when the start of the file decodes as such, else latin-1 with a warning."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(b"PAR1"):
        raise DataError(f"{path} is a Parquet file; give it a .parquet name to read it as one")
    if b"\x00" in sample:
        raise DataError(
            f"{path} is binary (it holds NUL bytes), not delimited text; pass a CSV/TSV or a .parquet file "
            "(for UTF-16 text without a byte-order mark, pass encoding='utf-16')"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        _warn_latin1(path, sample[: exc.start].count(b"\n") + 1)
        return "latin-1"
    return "utf-8"


def _warn_latin1(path: Path, line: int) -> None:
    warnings.warn(
        f"{path}: line {line} is not UTF-8; reading the file as latin-1 "
        "(pass encoding='<name>' if it is another encoding)",
        UserWarning,
        stacklevel=4,
    )


def _undecodable_line(path: Path, encoding: str) -> int:
    """1-based number of the first line of ``path`` that ``encoding`` cannot decode (0 if none)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block, final=False)
            except UnicodeDecodeError as exc:
                return line + block[: exc.start].count(b"\n")
            line += block.count(b"\n")
    return 0


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _reading_error(path: Path, exc: Exception, encoding: str) -> DataError:
    """One line naming the file, the line and what to do, for a failure of the CSV parser."""
    if isinstance(exc, UnicodeDecodeError):
        line = _undecodable_line(path, encoding)
        return DataError(
            f"{path}: line {line or '?'} is not valid {encoding}; pass encoding='latin-1' (or the file's encoding)"
        )
    ragged = _RAGGED.search(str(exc))
    if ragged:
        expected, line, saw = ragged.groups()
        return DataError(
            f"{path}: line {line} has {saw} fields where the lines above have {expected}; "
            "fix or remove that row, or pass sep='<separator>' if the separator was misdetected"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(
        f"{path}: cannot parse it as delimited text ({first}); pass sep=... if the separator was misdetected"
    )


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
    with path.open(encoding=encoding) as handle:
        first_line = handle.readline().rstrip("\r\n")
        second_line = handle.readline().rstrip("\r\n")
    if not first_line:
        raise DataError(f"no interactions: {path} is empty")
    sep = sep or _sniff_separator(first_line)
    fields = first_line.split(sep)
    if header is None:
        names = {name for name in (user_col, item_col, rating_col, timestamp_col) if name}
        header = _looks_like_header(fields, second_line.split(sep) if second_line else None, names)
    source: Any = path
    read_sep = sep
    read_encoding: str | None = encoding
    if len(sep) > 1:
        # pandas needs its slow python engine for multi-character separators; one pass of
        # str.replace is ~20x faster on ml-1m/ml-10m.
        source = io.StringIO(path.read_text(encoding=encoding).replace(sep, "\x1f"))
        read_sep, read_encoding = "\x1f", None
    if header:
        frame = pd.read_csv(source, sep=read_sep, encoding=read_encoding)
    else:
        ncols = len(fields)
        names_in_order = [user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"][:ncols]
        names_in_order += [f"extra_{i}" for i in range(ncols - len(names_in_order))]
        frame = pd.read_csv(source, sep=read_sep, header=None, names=names_in_order, encoding=read_encoding)
        if timestamp_col is None and ncols >= 4:
            timestamp_col = "timestamp"
    if frame.empty:
        raise DataError(f"no interactions: {path} has no rows after its first line")
    kwargs.setdefault("name", path.stem)
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


def resolve_source(source: str | Path) -> Path:
    """The path ``source`` names: an existing file or folder, else a MovieLens release name such as ``"ml-100k"``.

    A name is looked up like :func:`mfrec.data.movielens.locate` does ($MFREC_DATA, the cache,
    then a download), so a dataset name works wherever a path does.

    Examples
    --------
    >>> resolve_source("ml-100k")  # doctest: +SKIP
    PosixPath('../shared/data/ml-100k')
    """
    from mfrec.data import movielens

    path = Path(source).expanduser()
    if path.exists():
        return path
    if str(source) in movielens.RELEASES:
        return movielens.locate(str(source))
    raise DataError(f"no such file or folder: {path} (nor a dataset name: {', '.join(movielens.RELEASES)})")


def _readable_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(path)
    except Exception:  # read_parquet below turns it into a one-line error naming the file
        return False
    return True


def load(source: Any, **kwargs: Any) -> Interactions:
    """Interactions from ``source``: Interactions, DataFrame, (users, items, ratings), file or MovieLens folder.

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
        if wants_chunked(path) or (order is not None and is_parquet and _readable_parquet(path)):
            if kwargs.get("encoding") is None:
                kwargs.pop("encoding", None)  # the chunked reader takes UTF-8 unless told otherwise
            return read_chunked(path, order=order or "file", **kwargs)
        if path.suffix.lower() in (".parquet", ".pq"):
            kwargs.pop("encoding", None)
            kwargs.pop("sep", None)
            return read_parquet(path, **kwargs)
        return read_csv(path, **kwargs)
    raise DataError(
        f"cannot read interactions from {type(source).__name__}; pass a DataFrame, a path or (users, items, ratings)"
    )
