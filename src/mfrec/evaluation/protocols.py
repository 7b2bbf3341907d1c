"""Evaluation protocols: named ways of turning a dataset into (train, test) pairs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mfrec.data.interactions import Interactions
from mfrec.data.movielens import predefined_folds
from mfrec.data.sources import load, resolve_source
from mfrec.data.split import Split, kfold, leave_last_n, random_split, split_by_mask, temporal_mask
from mfrec.exceptions import DataError, ParameterError

PROTOCOLS = {
    "holdout": "random 80/20 hold-out (--test-fraction, --seed)",
    "temporal": "train before a global time cut-off, test after (--test-fraction of the latest ratings)",
    "leave-last": "each user's latest --n ratings held out",
    "kfold": "--folds random folds, every rating tested once",
    "ml100k-folds": "the published ml-100k folds u1..u5",
    "ml100k-ua": "the published ml-100k ua split (10 ratings per user held out)",
    "ml100k-ub": "the published ml-100k ub split",
    "cold-start": "--cold-users held out of training, 0..20 of their ratings revealed (see evaluation.coldstart)",
}


def make_splits(
    source: Any,
    protocol: str = "holdout",
    *,
    test_fraction: float = 0.2,
    n: int = 1,
    folds: int = 5,
    seed: int = 0,
    keep_timestamps: bool = True,
    **read_options: Any,
) -> tuple[Interactions | None, list[Split]]:
    """(full data or None, list of (train, test)) for ``protocol`` applied to ``source``.

    The ml100k protocols need ``source`` to be the ml-100k folder; the others
    accept anything :func:`mfrec.data.load` reads. ``keep_timestamps=False`` drops the
    timestamps once the split no longer needs them (before copying the ratings into
    train and test): 8 bytes a rating less in every copy, what ``mfrec evaluate`` does
    at 100M ratings to stay under 4 GB.
    """
    if protocol not in PROTOCOLS:
        raise ParameterError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if protocol == "cold-start":
        raise ParameterError("cold-start is a curve, not a split: use mfrec.evaluation.cold_start_curve")
    if protocol.startswith("ml100k-"):
        if isinstance(source, (str, Path)):
            source = resolve_source(source)  # "ml-100k" works as well as its path
        if not isinstance(source, Path) or not source.is_dir():
            raise DataError(f"protocol {protocol!r} needs the path of the ml-100k folder, got {source!r}")
        which = {"ml100k-folds": "u", "ml100k-ua": "ua", "ml100k-ub": "ub"}[protocol]
        return None, predefined_folds(source, which)
    # Temporal: rows grouped by user (big files), so the train rows are the CSR every model trains from;
    # the split is the same set of ratings in any row order.
    data = load(source, **({"order": "user", **read_options} if protocol == "temporal" else read_options))
    temporal = temporal_mask(data, test_fraction=test_fraction) if protocol == "temporal" else None
    if not keep_timestamps and protocol != "leave-last":
        data = replace(data, timestamps=None)  # the only reference: freed before the copies
    if temporal is not None:
        return data, [split_by_mask(data, *temporal)]
    if protocol == "holdout":
        return data, [random_split(data, test_fraction, seed=seed)]
    if protocol == "leave-last":
        return data, [leave_last_n(data, n, seed=seed)]
    return data, list(kfold(data, folds, seed=seed))
