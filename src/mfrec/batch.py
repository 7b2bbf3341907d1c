"""Top-N for every user, a block of users at a time: streamed to Parquet here, or run inside Spark tasks.

Both engines use :func:`recommendation_batches`, so ``mfrec recommend --all`` on one
machine and ``--engine spark`` write the same rows. Memory stays bounded by one
block of users (never a users x items matrix): :meth:`Recommender.recommend`
scores a block in slices through :mod:`mfrec.ranking`.

Examples
--------
>>> from mfrec.data import synthetic
>>> from mfrec.models import Biases
>>> model = Biases().fit(synthetic(30, 20, 300, seed=0))
>>> sum(len(b) for b in recommendation_batches(model, n=2, batch_size=8))
60
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mfrec._validation import check_int
from mfrec.exceptions import ParameterError
from mfrec.models.base import Recommender

#: The columns of a batch of recommendations, in order.
COLUMNS = ("user", "item", "score", "rank")


def id_type(ids: np.ndarray) -> pa.DataType:
    """The Arrow type of an id column: int64 for integer ids, else string."""
    return pa.int64() if ids.dtype.kind in "iu" else pa.string()


def schema(model: Recommender) -> pa.Schema:
    """Arrow schema of ``model``'s recommendations: ``user, item`` as its ids, ``score`` float32, ``rank`` int32."""
    return pa.schema([("user", id_type(model.user_map_.ids)), ("item", id_type(model.item_map_.ids)),
                      ("score", pa.float32()), ("rank", pa.int32())])  # fmt: skip


def recommendation_batches(model: Recommender, users: Any = None, n: int = 10, *, exclude_seen: bool = True,
                           batch_size: int = 10_000) -> Iterator[pd.DataFrame]:  # fmt: skip
    """``model.recommend`` for ``users`` (default: every user it knows), ``batch_size`` users per DataFrame.

    Each frame has the columns ``user, item, score, rank`` with the dtypes of
    :func:`schema`. Unknown users are refused before the first batch.
    """
    model._require_fitted()
    check_int("n", n, 1)
    check_int("batch_size", batch_size, 1)
    if users is None:
        ids = model.user_map_.ids
    else:
        ids = model.user_map_.to_ids(model.user_map_.lookup(users, what="user"))
    for start in range(0, len(ids), batch_size):
        recs = model.recommend(ids[start : start + batch_size], n, exclude_seen=exclude_seen)
        frame = recs.loc[:, list(COLUMNS)].reset_index(drop=True)
        yield frame.astype({"score": np.float32, "rank": np.int32})


def write_recommendations(model: Recommender, path: str | os.PathLike, n: int = 10, *, users: Any = None,
                          exclude_seen: bool = True, batch_size: int = 10_000) -> int:  # fmt: skip
    """Write top-``n`` for ``users`` (default: all) to the Parquet file ``path``; returns the rows written.

    One row group per batch, so memory holds one batch, whatever the number of users.
    The file appears whole or not at all (written beside, then renamed).

    Examples
    --------
    >>> write_recommendations(model, "recs.parquet", n=10)  # doctest: +SKIP
    9430
    """
    target = Path(path)
    if target.is_dir():
        raise ParameterError(f"{target} is a folder; give a file name such as recs.parquet")
    staging = target.parent / f".{target.name}.writing-{secrets.token_hex(4)}"
    rows = 0
    arrow_schema = schema(model)
    try:
        with pq.ParquetWriter(staging, arrow_schema) as writer:
            for batch in recommendation_batches(model, users, n, exclude_seen=exclude_seen, batch_size=batch_size):
                writer.write_table(pa.Table.from_pandas(batch, schema=arrow_schema, preserve_index=False))
                rows += len(batch)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return rows
