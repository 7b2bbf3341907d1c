"""Train/test splits. Every split is seeded and returns Interactions with their own compact id maps."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError, ParameterError

Split = tuple[Interactions, Interactions]


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction!r}")


def split_by_mask(data: Interactions, test_mask: np.ndarray, label: str = "mask") -> Split:
    """(train, test): the ratings where ``test_mask`` is False, and those where it is True."""
    if test_mask.all() or not test_mask.any():
        raise DataError(f"{label} split leaves the {'train' if test_mask.all() else 'test'} set empty")
    return data.subset(~test_mask, name=f"{data.name}:train"), data.subset(test_mask, name=f"{data.name}:test")


def random_split(data: Interactions, test_fraction: float = 0.2, *, seed: int = 0) -> Split:
    """Hold out a uniformly random ``test_fraction`` of the ratings."""
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    n_test = int(round(len(data) * test_fraction))
    test = np.zeros(len(data), dtype=bool)
    test[rng.choice(len(data), n_test, replace=False)] = True
    return split_by_mask(data, test, "random")


def temporal_split(data: Interactions, *, cutoff: int | None = None, test_fraction: float | None = None) -> Split:
    """Train on ratings before a global time ``cutoff`` (seconds), test on the rest.

    With ``test_fraction`` instead, the cut-off is the time that leaves that fraction
    of the ratings after it.
    """
    return split_by_mask(data, *temporal_mask(data, cutoff=cutoff, test_fraction=test_fraction))


def temporal_mask(
    data: Interactions, *, cutoff: int | None = None, test_fraction: float | None = None
) -> tuple[np.ndarray, str]:
    """(test mask, label) of :func:`temporal_split`, for callers that free the timestamps before splitting."""
    if data.timestamps is None:
        raise DataError("temporal split needs a 'timestamp' column, and this data has none")
    if (cutoff is None) == (test_fraction is None):
        raise ParameterError("give exactly one of cutoff= or test_fraction=")
    if cutoff is None:
        _check_fraction(test_fraction)
        cutoff = int(np.quantile(data.timestamps, 1.0 - test_fraction, method="higher"))
    return data.timestamps >= cutoff, f"temporal (cutoff {cutoff})"


def leave_last_n(data: Interactions, n: int = 1, *, seed: int = 0) -> Split:
    """Hold out each user's ``n`` latest ratings (random ones when there are no timestamps).

    Users with ``n`` or fewer ratings stay entirely in train. Ties in time are broken
    by the seed.
    """
    if not isinstance(n, int) or n < 1:
        raise ParameterError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(data))
    time = data.timestamps if data.timestamps is not None else np.zeros(len(data))
    order = np.lexsort((tiebreak, time, data.user_idx))  # by user, then time, then seed
    counts = np.bincount(data.user_idx, minlength=data.n_users)
    ends = np.cumsum(counts)
    rank_from_end = ends[data.user_idx[order]] - np.arange(len(data))  # 1 = the user's latest
    test = np.zeros(len(data), dtype=bool)
    test[order] = (rank_from_end <= n) & (counts[data.user_idx[order]] > n)
    return split_by_mask(data, test, f"leave-last-{n}")


def kfold(data: Interactions, k: int = 5, *, seed: int = 0) -> Iterator[Split]:
    """``k`` (train, test) splits; every rating is tested exactly once."""
    if not isinstance(k, int) or k < 2:
        raise ParameterError(f"k must be an int >= 2, got {k!r}")
    if len(data) < k:
        raise DataError(f"cannot make {k} folds from {len(data)} ratings")
    fold_of = np.random.default_rng(seed).permutation(len(data)) % k
    for fold in range(k):
        yield split_by_mask(data, fold_of == fold, f"fold {fold}")
