"""``mfrec recommend MODEL --all -o recs.parquet``: the batch top-N of every user, streamed to Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mfrec.cli.common import print_json, progress_bar, stdout
from mfrec.exceptions import ParameterError


def recommend_all_command(model: Any, output: Path | None, n: int, users: list[str] | None, include_seen: bool,
                          json_output: bool) -> None:  # fmt: skip
    """Write the top-``n`` of every user (or of ``users``) with :func:`mfrec.batch.recommend_all`; report it."""
    from mfrec.batch import recommend_all

    if output is None:
        raise ParameterError("--all writes Parquet: give -o FILE.parquet")
    total = len(users) if users else len(model.user_map_)
    with progress_bar(json_output, "recommending", total) as advance:
        done = recommend_all(model, output, n=n, users=users or None, exclude_seen=not include_seen, progress=advance)
    if json_output:
        print_json(done)
    else:
        stdout.print(f"wrote {done['rows']:,} rows for {done['users']:,} users to {output}")
