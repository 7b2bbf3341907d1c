"""Rating scales: the common ones people rate on, and the one a log is on when nobody declared it."""

from __future__ import annotations

import numpy as np

__all__ = ["COMMON_SCALES", "STRAY_SHARE", "infer_rating_scale", "scale_name"]

#: At most this share of a log's ratings may lie outside the common scale the rest are on (a typo, a stray 11
#: on 1-10): the scale is still that one and those ratings are left out with a warning.
STRAY_SHARE = 0.001

#: The scales people rate on, tried in this order: (low, high, step, name). The first that holds every
#: rating is the scale (a log without a 1-star rating is still 1-5); data on none of them is 0..max.
COMMON_SCALES = (
    (0.0, 1.0, 1.0, "binary 0/1"),
    (1.0, 5.0, 1.0, "1-5"),
    (0.0, 5.0, 1.0, "0-5"),
    (0.5, 4.0, 0.5, "0.5-4 in halves"),
    (0.5, 5.0, 0.5, "0.5-5 in halves"),
    (1.0, 10.0, 1.0, "1-10"),
    (1.0, 10.0, 0.5, "1-10 in halves"),
    (0.0, 10.0, 1.0, "0-10"),
    (0.0, 10.0, 0.5, "0-10 in halves"),
)


def infer_rating_scale(values: np.ndarray) -> tuple[float, float]:
    """The first of :data:`COMMON_SCALES` that holds every value (on its steps), else (min(0, low), high).

    Never the data's (min, max): a log without a 1-star rating is still on 1-5.

    >>> infer_rating_scale(np.array([2, 3, 5], np.float32))
    (1.0, 5.0)
    >>> infer_rating_scale(np.array([1.5, 4.0], np.float32))
    (0.5, 4.0)
    >>> infer_rating_scale(np.array([3, 120], np.float32))
    (0.0, 120.0)

    A stray value or two in a large log (at most one rating in :data:`STRAY_SHARE`) does not move the scale:
    a 1-10 log of 3,000 ratings with one 11 is on 1-10, a 1-5 log of 6,000 with one 0 and one 6 on 1-5 (the
    caller leaves them out, with a warning).

    >>> infer_rating_scale(np.array([0, 6] + [1, 2, 3, 4, 5] * 1_200, np.float32))
    (1.0, 5.0)
    """
    low, high = float(values.min()), float(values.max())
    # Narrowest first, strays allowed: a 1-5 review log with one 0 and one 6 in 6,000 is on 1-5, not 0-10 (a
    # newcomer's file: the wider scale clipped predictions at 10 and judged "liked" at 7.5).
    allowed = int(values.size * STRAY_SHARE)
    for scale_low, scale_high, step, _ in COMMON_SCALES:
        inside = (values >= scale_low) & (values <= scale_high)
        if values.size - inside.sum() <= allowed and np.all(np.mod(values[inside] - scale_low, step) == 0):
            return scale_low, scale_high
    if low == high:
        return min(low, 0.0), max(high, 1.0)
    return min(low, 0.0), high


def scale_name(scale: tuple[float, float]) -> str:
    """A scale as people name it: "1-5", "0.5-5 in halves", or "0..120" when it is none of the common ones."""
    for scale_low, scale_high, _, name in COMMON_SCALES:
        if (scale_low, scale_high) == tuple(scale):
            return name
    return f"{scale[0]:g}..{scale[1]:g}"
