"""Batch top-N for every user, streamed to Parquet one chunk of users at a time.

Nothing of size users x items exists: each chunk of ``chunk_users`` users is scored
in blocks by :func:`mfrec.ranking.top_n_rows` (64 MB of scores at a time), reduced
to its top ``n`` and written as one Parquet row group. Memory is the model plus
one chunk, whatever the number of users. The rows are those of
:meth:`Recommender.recommend` for the same users (``user, item, score, rank``;
``score`` is the predicted rating clipped to the scale for rating models).

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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mfrec._validation import check_int
from mfrec.ranking import candidate_mask, top_n_rows

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

#: Users per Parquet row group: 50k users x top-10 is 500k rows (~8 MB).
CHUNK_USERS = 50_000


def _id_type(ids: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.int64() if ids.dtype.kind in "iu" else pa.string()


def recommend_all(
    model: Recommender,
    output: str | Path,
    *,
    n: int = 10,
    users: Any = None,
    exclude_seen: bool = True,
    items: Any = None,
    exclude_items: Any = None,
    chunk_users: int = CHUNK_USERS,
    n_threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the top-``n`` of every user (or of ``users``) to the Parquet file ``output``.

    ``items`` / ``exclude_items`` are an allow- and a deny-list as in
    :meth:`Recommender.recommend`. The file is written beside ``output`` and renamed
    into place at the end, so a reader never sees half a file. ``progress(k)`` is
    called after each chunk with the number of users done. Returns ``{"users",
    "rows", "row_groups", "output"}``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    model._require_fitted()
    n = check_int("n", n, 1)
    chunk_users = check_int("chunk_users", chunk_users, 1)
    user_rows = (
        np.arange(len(model.user_map_), dtype=np.int32) if users is None else model.user_map_.lookup(users, what="user")
    )
    allowed = candidate_mask(model, items, exclude_items)
    user_ids, item_ids = model.user_map_.ids, model.item_map_.ids
    clip = model.score_kind == "rating"
    schema = pa.schema(
        [("user", _id_type(user_ids)), ("item", _id_type(item_ids)), ("score", pa.float32()), ("rank", pa.int32())]
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    rows = groups = 0
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for start in range(0, len(user_rows), chunk_users):
                chunk = user_rows[start : start + chunk_users]
                top, scores, counts = top_n_rows(model, chunk, n, exclude_seen=exclude_seen, allowed=allowed,
                                                 n_threads=n_threads)  # fmt: skip
                keep = np.arange(top.shape[1])[None, :] < counts[:, None]
                shown = np.clip(scores[keep], *model.rating_scale_) if clip else scores[keep]
                ranks = np.broadcast_to(np.arange(1, top.shape[1] + 1, dtype=np.int32), top.shape)[keep]
                table = pa.table(
                    {
                        "user": pa.array(np.repeat(user_ids[chunk], counts), type=schema.field("user").type),
                        "item": pa.array(item_ids[top[keep]], type=schema.field("item").type),
                        "score": pa.array(shown.astype(np.float32, copy=False)),
                        "rank": pa.array(ranks),
                    },
                    schema=schema,
                )
                writer.write_table(table)
                rows += table.num_rows
                groups += 1
                if progress:
                    progress(len(chunk))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return {"users": len(user_rows), "rows": int(rows), "row_groups": groups, "output": str(output)}
