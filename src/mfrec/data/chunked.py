"""Reading ratings files larger than memory: Parquet row groups or CSV blocks, two passes, int32/float32 only.

The in-memory readers hold the raw columns (often int64 ids and timestamps) next to
the encoded ones. Here the file is read twice in chunks of ``chunk_rows``:

1. the distinct user and item ids (and the row count of a CSV);
2. each chunk is encoded straight into preallocated ``int32`` rows and ``float32``
   ratings, so the raw columns never exist in full.

At 100M ratings that is 1.2 GB for the triples instead of ~3 GB. The result is the
same :class:`~mfrec.data.Interactions` as :func:`mfrec.data.load` gives (sorted id
maps, same rows, same duplicate policy). With ``order="user"`` the rows come
grouped by user (file order inside a user), so the arrays double as the CSR every
model trains from and no second copy is kept: what ``mfrec train`` uses.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "r.parquet"
>>> pd.DataFrame({"user": [2, 1, 2], "item": [5, 5, 7], "rating": [4.0, 3.0, 5.0]}).to_parquet(path)
>>> data = read_chunked(path, chunk_rows=2, order="user")
>>> data.user_ids.ids.tolist(), data.user_idx.tolist(), data.ratings.tolist()
([1, 2], [0, 1, 1], [3.0, 4.0, 5.0])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mfrec.data.columns import canonical_int64, resolve_columns, warn_spellings
from mfrec.data.idmap import IdMap, plain
from mfrec.data.interactions import (
    DUPLICATE_POLICIES,
    DuplicatePolicy,
    Interactions,
    assemble,
    check_rating_scale,
    rating_scale_of,
)
from mfrec.data.scales import scale_name
from mfrec.data.sniffing import odd_numbers
from mfrec.exceptions import DataError, ParameterError

#: Rows per chunk: 1M rows of (int32, int32, float32, int64) is ~20 MB of Arrow buffers.
CHUNK_ROWS = 1 << 20
#: load() switches to this reader for files at least this large (bytes) or Parquet files with this many rows.
Order = Literal["file", "user"]


class _Source:
    """A ratings file as a sequence of column chunks (numpy arrays), read again on every call."""

    def __init__(self, path: Path, columns: list[str], chunk_rows: int, csv: dict[str, Any] | None):
        self.path, self.columns, self.chunk_rows, self.csv = path, columns, chunk_rows, csv

    def n_rows(self) -> int | None:
        if self.csv is not None:
            return None
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path).metadata.num_rows

    def chunks(self, columns: list[str]) -> Iterator[dict[str, Any]]:
        """Dicts column -> pyarrow Array, ``chunk_rows`` rows at a time (CSV: about that many)."""
        import pyarrow as pa

        if self.csv is None:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.path, memory_map=True).iter_batches(self.chunk_rows, columns=columns):
                yield {c: batch.column(c) for c in columns}
            return
        from pyarrow import csv

        options = self.csv
        reader = csv.open_csv(
            self.path,
            read_options=csv.ReadOptions(
                block_size=max(1 << 12, self.chunk_rows * 32),
                column_names=options["names"],
                skip_rows=1 if options["header"] and options["names"] else 0,
                encoding=options["encoding"],
            ),
            parse_options=csv.ParseOptions(delimiter=options["sep"]),
            # Ids read as text when some field is spelled like a non-canonical number ("007"): see _Distinct.
            convert_options=csv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.string() for c in options.get("text_ids", ()) if c in columns},
            ),
        )
        position = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:  # a column's type was fixed by the first block
                raise DataError(
                    f"{self.path.name}: cannot read past row {position}: {exc}; the first {self.chunk_rows:,} rows "
                    "decide each column's type, so give a column one kind of value throughout"
                ) from None
            position += batch.num_rows
            yield {c: batch.column(c) for c in columns}


def _csv_options(path: Path, sep: str | None, header: bool | None, encoding: str, names: list[str]) -> dict[str, Any]:
    from mfrec.data.sniffing import sniff_layout

    sep, header, fields = sniff_layout(path, encoding, sep, header, set(names), errors="replace")
    if header:
        return {"sep": sep, "header": True, "names": None, "encoding": encoding, "available": fields}
    names = (names + [f"extra_{i}" for i in range(len(fields))])[: len(fields)]
    return {"sep": sep, "header": False, "names": names, "encoding": encoding, "available": names}


# --------------------------------------------------------------------------- ids


class _Distinct:
    """The distinct values of one id column, merged from chunk uniques without holding the column."""

    def __init__(self, column: str):
        self.column = column
        self.parts: list[np.ndarray] = []
        self.merged: np.ndarray | None = None
        self.pending = 0
        self.kind = ""

    def add(self, values: Any, offset: int) -> None:
        import pyarrow.compute as pc

        if values.null_count:
            row = offset + int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(
                f"column {self.column!r} has {values.null_count} missing ids in a chunk (first at row {row})"
            )
        uniques = _id_values(pc.unique(values), self.column)
        if self.kind and uniques.dtype.kind != self.kind and {self.kind, uniques.dtype.kind} != {"i", "f"}:
            raise DataError(f"column {self.column!r} mixes numbers and strings (near row {offset}); use one kind of id")
        self.kind = "f" if "f" in (self.kind, uniques.dtype.kind) else uniques.dtype.kind
        self.parts.append(uniques)
        self.pending += uniques.size
        if self.pending > 2 * max(CHUNK_ROWS, 0 if self.merged is None else self.merged.size):
            self._merge()

    def _merge(self) -> None:
        parts = self.parts if self.merged is None else [self.merged, *self.parts]
        if self.kind == "f":
            parts = [p.astype(np.float64) for p in parts]
        self.merged = pd.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        self.parts, self.pending = [], 0

    def id_map(self) -> tuple[IdMap, _Encoder]:
        """The sorted ids (as :func:`~mfrec.data.from_arrays` orders them) and an encoder to rows."""
        self._merge()
        uniques = np.sort(self.merged)
        if uniques.dtype.kind == "f" and np.all(uniques == np.round(uniques)):
            uniques = uniques.astype(np.int64)
        if uniques.dtype.kind == "O" and uniques.size:  # text ids: integers only when each is spelled as one
            as_integers = canonical_int64(uniques)
            if as_integers is None:
                warn_spellings(uniques, self.column)
            else:
                uniques = np.sort(as_integers)
        self.merged = None
        return IdMap(uniques), _Encoder(uniques)


def _id_values(values: Any, column: str) -> np.ndarray:
    import pyarrow as pa

    kind = values.type
    if pa.types.is_boolean(kind):
        raise DataError(f"column {column!r} holds booleans; ids must be integers or strings")
    if pa.types.is_integer(kind):
        return values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if pa.types.is_floating(kind):
        array = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        if not np.isfinite(array).all():
            raise DataError(f"column {column!r} has non-finite ids; ids must be integers or strings")
        return array
    return np.asarray(values.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)


class _Encoder:
    """Original ids -> int32 rows of a sorted id array: a lookup table for dense integers, else a hash index."""

    def __init__(self, uniques: np.ndarray):
        self.table = None
        self.low = 0
        if uniques.dtype.kind == "i" and uniques.size and int(uniques[-1]) - int(uniques[0]) <= 4 * uniques.size + 1024:
            self.low = int(uniques[0])
            self.table = np.full(int(uniques[-1]) - self.low + 1, -1, dtype=np.int32)
            self.table[uniques - self.low] = np.arange(uniques.size, dtype=np.int32)
        else:
            self.index = pd.Index(uniques)
        self.integer = uniques.dtype.kind == "i"

    def __call__(self, values: np.ndarray, out: np.ndarray) -> None:
        if self.integer and values.dtype.kind in "fO":  # whole floats, or text ids that are all integers
            values = values.astype(np.int64)
        if self.table is not None:
            out[:] = self.table[values - self.low]
        else:
            out[:] = self.index.get_indexer(values)


# --------------------------------------------------------------------------- values


def _ratings_chunk(values: Any, column: str, offset: int) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        array = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = "missing (empty) values" if np.isnan(array[row]) else f"infinite values ({array[row]})"
            raise DataError(f"column {column!r} has {what} (first at row {offset + row})")
        return array.astype(np.float32)
    as_objects = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
    numeric = pd.to_numeric(as_objects, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numeric)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"column {column!r} has non-numeric values (first at row {offset + row}: {plain(as_objects.iloc[row])!r})"
        )
    return numeric.astype(np.float32)


def _timestamps_chunk(values: Any, column: str, offset: int) -> np.ndarray:
    import pyarrow as pa

    kind = values.type
    if values.null_count:
        row = offset + int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"column {column!r} has a missing value at row {row}")
    if pa.types.is_integer(kind):
        return values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if pa.types.is_floating(kind):
        return values.to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return values.cast(pa.timestamp("s")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    series = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=np.float64).astype(np.int64)
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"column {column!r} has a value that is neither a number nor a date at row {offset + row}: "
            f"{series.iloc[row]!r}"
        )
    return (parsed.astype("datetime64[s, UTC]").astype(np.int64)).to_numpy()


# --------------------------------------------------------------------------- the reader


def read_chunked(
    path: str | Path,
    *,
    order: Order = "file",
    chunk_rows: int = CHUNK_ROWS,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
    with_timestamps: bool = True,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | None = None,
    sep: str | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
    name: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    **info: Any,
) -> Interactions:
    """Interactions from a Parquet or CSV file of any size, in chunks of ``chunk_rows`` rows.

    Same arguments and result as :func:`mfrec.data.load` on a file (``order="file"``);
    ``order="user"`` groups the rows by user (file order within a user), which halves
    the memory of training: the rows are then the CSR models train from. Peak memory
    is the final arrays (12 bytes a rating, +8 with timestamps) plus one chunk, plus
    while grouping by user one more 8 bytes a rating. ``on_stage(name)`` is called as each
    step ends ("distinct ids", "encode", "assemble"): benchmarks time and measure them.
    """
    from mfrec.data.readers import read_csv

    if order not in ("file", "user"):
        raise ParameterError(f"order must be 'file' or 'user', got {order!r}")
    if not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ParameterError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    if duplicates is not None and duplicates not in DUPLICATE_POLICIES:
        raise ParameterError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    wanted_names = [user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"]
    if parquet:
        import pyarrow.parquet as pq

        csv, available = None, pq.read_schema(path).names
    else:
        csv = _csv_options(path, sep, header, encoding, wanted_names)
        if len(csv["sep"]) > 1:  # pyarrow reads one-character separators only; such files are MovieLens-sized
            return read_csv(
                path,
                sep=csv["sep"],
                header=header,
                user_col=user_col,
                item_col=item_col,
                rating_col=rating_col,
                timestamp_col=timestamp_col,
                with_timestamps=with_timestamps,
                encoding=encoding,
                rating_scale=rating_scale,
                duplicates=duplicates,
                name=name or path.stem,
                **info,
            )
        available = csv["available"]
    user_col, item_col, rating_col, timestamp_col = resolve_columns(
        available, user_col, item_col, rating_col, timestamp_col, with_timestamps
    )
    wanted = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col, "timestamp_col": timestamp_col}
    for arg, column in wanted.items():
        if column is not None and column not in available:
            raise DataError(
                f"missing column {column!r} in {path.name}; got {list(map(str, available))}; "
                f"pass {arg}='<name>' to use another column"
            )
    columns = [c for c in wanted.values() if c is not None]
    if csv is not None and odd_numbers(path, csv["sep"], encoding):
        csv["text_ids"] = (user_col, item_col)
    source = _Source(path, columns, int(chunk_rows), csv)

    # Pass 1: the distinct ids (and the row count a CSV does not state).
    users, items = _Distinct(user_col), _Distinct(item_col)
    n_rows = 0
    for chunk in source.chunks([user_col, item_col]):
        users.add(chunk[user_col], n_rows)
        items.add(chunk[item_col], n_rows)
        n_rows += len(chunk[user_col])
    if n_rows == 0:
        raise DataError(f"no interactions: {path.name} has 0 rows")
    user_map, encode_user = users.id_map()
    item_map, encode_item = items.id_map()
    del users, items
    stage = on_stage or (lambda name: None)
    stage("distinct ids")

    # Pass 2: encode each chunk into its slice of the preallocated arrays.
    arrays: dict[str, Any] = {
        "user": np.empty(n_rows, np.int32),
        "item": np.empty(n_rows, np.int32),
        "rating": np.ones(n_rows, np.float32) if rating_col is None else np.empty(n_rows, np.float32),
        "timestamp": None if timestamp_col is None else np.empty(n_rows, np.int64),
    }
    position = 0
    for chunk in source.chunks(columns):
        rows = slice(position, position + len(chunk[user_col]))
        encode_user(_id_values(chunk[user_col], user_col), arrays["user"][rows])
        encode_item(_id_values(chunk[item_col], item_col), arrays["item"][rows])
        if rating_col is not None:
            arrays["rating"][rows] = _ratings_chunk(chunk[rating_col], rating_col, position)
        if timestamp_col is not None:
            arrays["timestamp"][rows] = _timestamps_chunk(chunk[timestamp_col], timestamp_col, position)
        position = rows.stop
    if position != n_rows:
        raise DataError(f"{path.name} changed while it was read ({n_rows:,} rows, then {position:,})")
    if rating_scale is not None:
        check_rating_scale(rating_scale)
    scale = rating_scale_of(arrays["rating"], rating_scale, rating_col or "rating")
    stage("encode")
    data = assemble(
        arrays,
        user_map,
        item_map,
        scale,
        duplicates=duplicates or ("sum" if rating_col is None else "last"),
        scale_source="declared" if rating_scale is not None else f"inferred: {scale_name(scale)}",
        read_columns=(user_col, item_col, rating_col, timestamp_col),
        group_by_user=order == "user",
        keep_csr=False,
        columns=(user_col, item_col, rating_col or "rating", timestamp_col or "timestamp"),
        name=name or path.stem,
        **info,
    )
    stage("assemble")
    return data
