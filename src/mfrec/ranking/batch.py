"""Top-N for every user, a block of users at a time: streamed to Parquet here, or run inside Spark tasks.

Both engines use :func:`recommendation_batches`, so ``mfrec recommend --all`` on one machine
and ``--engine spark`` write the same rows, and those rows are what
:meth:`Recommender.recommend` answers for the same users (``user, item, score, rank``).
Nothing of size users x items exists: ``recommend`` scores a block in slices through
:mod:`mfrec.ranking`, and each block becomes one Parquet row group, so memory is the model
plus one block whatever the number of users.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> from mfrec.data import synthetic
>>> from mfrec.models import Biases
>>> model = Biases().fit(synthetic(50, 40, 800, seed=0))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "recs.parquet"
>>> recommend_all(model, path, n=3, chunk_users=7)["rows"]
150
>>> pd.read_parquet(path).columns.tolist()
['user', 'item', 'score', 'rank']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mfrec._validation import check_int
from mfrec.exceptions import ParameterError
from mfrec.ranking.scorer import Scorer

#: Users per block (one Parquet row group): 50k users x top-10 is 500k rows (~8 MB).
CHUNK_USERS = 50_000
#: The columns of a batch of recommendations, in order.
COLUMNS = ("user", "item", "score", "rank")


def id_type(ids: np.ndarray) -> pa.DataType:
    """The Arrow type of an id column: int64 for integer ids, else string."""
    return pa.int64() if ids.dtype.kind in "iu" else pa.string()


def schema(model: Scorer) -> pa.Schema:
    """Arrow schema of ``model``'s recommendations: ``user, item`` as its ids, ``score`` float32, ``rank`` int32."""
    return pa.schema(
        [
            ("user", id_type(model.user_map_.ids)),
            ("item", id_type(model.item_map_.ids)),
            ("score", pa.float32()),
            ("rank", pa.int32()),
        ]
    )


def recommendation_batches(
    model: Scorer,
    users: Any = None,
    n: int = 10,
    *,
    exclude_seen: bool = True,
    items: Any = None,
    exclude_items: Any = None,
    batch_size: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """``model.recommend`` for ``users`` (default: every user it knows), ``batch_size`` users per DataFrame.

    Each frame has the columns ``user, item, score, rank`` with the dtypes of :func:`schema`.
    Unknown users are refused before the first batch.
    """
    model._require_fitted()
    check_int("n", n, 1)
    check_int("batch_size", batch_size, 1)
    if users is None:
        ids = model.user_map_.ids
    else:
        ids = model.user_map_.to_ids(model.user_map_.lookup(users, what="user"))
    for start in range(0, len(ids), batch_size):
        recs = model.recommend(
            ids[start : start + batch_size], n, exclude_seen=exclude_seen, items=items, exclude_items=exclude_items
        )
        frame = recs.loc[:, list(COLUMNS)].reset_index(drop=True)
        yield frame.astype({"score": np.float32, "rank": np.int32})


def recommend_all(
    model: Scorer,
    output: str | Path,
    *,
    n: int = 10,
    users: Any = None,
    exclude_seen: bool = True,
    items: Any = None,
    exclude_items: Any = None,
    chunk_users: int = CHUNK_USERS,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the top-``n`` of every user (or of ``users``) to the Parquet file ``output``.

    ``items`` / ``exclude_items`` are an allow- and a deny-list as in :meth:`Recommender.recommend`.
    The file is written beside ``output`` and renamed into place at the end, so a reader never
    sees half a file. ``progress(k)`` is called after each block with the number of users done.
    Returns ``{"users", "rows", "row_groups", "output"}``.
    """
    import pyarrow.parquet as pq

    model._require_fitted()
    chunk_users = check_int("chunk_users", chunk_users, 1)
    output = Path(output)
    if output.is_dir():
        raise ParameterError(f"{output} is a folder; give a file name such as recs.parquet")
    n_users = len(model.user_map_) if users is None else int(np.size(users))  # batches check the ids themselves
    batches = recommendation_batches(
        model, users, n, exclude_seen=exclude_seen, items=items, exclude_items=exclude_items, batch_size=chunk_users
    )
    arrow_schema = schema(model)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    rows = groups = done = 0
    try:
        with pq.ParquetWriter(partial, arrow_schema) as writer:
            for frame in batches:
                writer.write_table(pa.Table.from_pandas(frame, schema=arrow_schema, preserve_index=False))
                rows += len(frame)
                groups += 1
                if progress:
                    block = min(chunk_users, n_users - done)
                    done += block
                    progress(block)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return {"users": n_users, "rows": int(rows), "row_groups": groups, "output": str(output)}


def write_recommendations(
    model: Scorer,
    path: str | os.PathLike,
    n: int = 10,
    *,
    users: Any = None,
    exclude_seen: bool = True,
    batch_size: int = 10_000,
) -> int:
    """:func:`recommend_all` returning just the number of rows written.

    Examples
    --------
    >>> write_recommendations(model, "recs.parquet", n=10)  # doctest: +SKIP
    9430
    """
    return recommend_all(model, path, n=n, users=users, exclude_seen=exclude_seen, chunk_users=batch_size)["rows"]
