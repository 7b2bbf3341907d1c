"""Retraining with the service's ratings log: ``mfrec train DATA --ratings-log ratings.sqlite``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mfrec.data import from_frame
from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError
from mfrec.service.store import read_log


def _like(ids: pd.Series, integer: bool) -> pd.Series:
    """Logged ids (text) as integers when the training ids are integers and every logged id is one."""
    if not integer:
        return ids.astype(str)
    as_int = pd.to_numeric(ids, errors="coerce")
    if as_int.isna().any() or (as_int != as_int.round()).any():
        return ids.astype(str)
    return as_int.astype("int64")


def with_log(data: Interactions, log_path: str | Path, *, duplicates: str = "last") -> Interactions:
    """``data`` plus every rating in the log at ``log_path``, logged ratings after the file's on repeats.

    Examples
    --------
    >>> merged = with_log(train, "ratings.sqlite")  # doctest: +SKIP
    """
    if not Path(log_path).is_file():
        raise DataError(f"ratings log {log_path} does not exist; pass the --db file of mfrec serve")
    log = read_log(log_path)
    frame = data.to_frame()
    if len(log):
        log = log.assign(
            user=_like(log["user"], data.user_ids.is_integer), item=_like(log["item"], data.item_ids.is_integer)
        )[["user", "item", "rating"]]
        if log["user"].dtype != frame["user"].dtype:
            frame["user"] = frame["user"].astype(str)
            log["user"] = log["user"].astype(str)
        if log["item"].dtype != frame["item"].dtype:
            frame["item"] = frame["item"].astype(str)
            log["item"] = log["item"].astype(str)
        frame = pd.concat([frame[["user", "item", "rating"]], log], ignore_index=True)
    return from_frame(
        frame,
        with_timestamps=False,
        rating_scale=data.rating_scale,
        duplicates=duplicates,
        name=data.name,
        item_info=data.item_info,
        user_info=data.user_info,
    )
