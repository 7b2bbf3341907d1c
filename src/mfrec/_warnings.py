"""Warnings that point at the user's line, not at the mfrec function that noticed the problem."""

from __future__ import annotations

import sys
import warnings


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside mfrec.

    A fixed ``stacklevel`` is right for one call path only: ``load(path)`` reaches the duplicate check through the
    reader and ``from_frame``, ``from_arrays(...)`` directly, and the warning pointed at mfrec's own lines.
    (Python 3.12's ``skip_file_prefixes`` does this; 3.11 is supported.)
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "mfrec":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level - 1 if frame is None else level)
