"""Retraining with the service's ratings log: ``mfrec train DATA --ratings-log ratings.sqlite``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from mfrec.data import from_frame
from mfrec.data.idmap import canonical_integers
from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError
from mfrec.service.store import read_log


def _one_type(trained: pd.Series, logged: pd.Series, integer: bool) -> tuple[pd.Series, pd.Series]:
    """Training and logged ids of one side with one type between them.

    The log holds text. With integer training ids, a log whose every id is an integer's one
    spelling stays integer; otherwise both become text, each integer as its decimal spelling
    (``196`` -> ``"196"``, which :class:`~mfrec.data.IdMap` still finds from ``196``): one id
    never exists twice under two types.
    """
    text = logged.astype(str)
    if not integer:
        return trained.astype(str), text
    numbers = canonical_integers(text.to_numpy(dtype=object))
    if numbers is not None:
        return trained, pd.Series(numbers, index=logged.index)
    return trained.map(lambda v: str(int(v))), text


def with_log(data: Interactions, log_path: str | Path, *, duplicates: str = "last") -> Interactions:
    """``data`` plus every rating in the log at ``log_path``, logged ratings after the file's on repeats.

    The result's ``ratings_log_id`` is the last log id read: a model fitted on it saves that id,
    and the service folds in exactly the ratings logged after it (those that arrived during the
    retrain included).

    Examples
    --------
    >>> merged = with_log(train, "ratings.sqlite")  # doctest: +SKIP
    """
    if not Path(log_path).is_file():
        raise DataError(f"ratings log {log_path} does not exist; pass the --db file of mfrec serve")
    log = read_log(log_path, with_ids=True)
    last_id = int(log["id"].max()) if len(log) else 0
    frame = data.to_frame()[["user", "item", "rating"]]
    if len(log):
        log = log[["user", "item", "rating"]].copy()
        frame["user"], log["user"] = _one_type(frame["user"], log["user"], data.user_ids.is_integer)
        frame["item"], log["item"] = _one_type(frame["item"], log["item"], data.item_ids.is_integer)
        frame = pd.concat([frame, log], ignore_index=True)
        for side in ("user", "item"):
            if frame[side].dtype == object:
                frame[side] = frame[side].to_numpy(dtype=object).astype(str)
    merged = from_frame(
        frame,
        with_timestamps=False,
        rating_scale=data.rating_scale,
        duplicates=duplicates,
        name=data.name,
        item_info=data.item_info,
        user_info=data.user_info,
    )
    return replace(merged, ratings_log_id=last_id)
