"""The errors and warnings mfrec raises at its public boundary.

Every message names the offending column, row, parameter or value so that a
user can fix the input without reading a traceback. The CLI prints them as one
line and exits non-zero. Warnings go through :func:`warn_user`, which points them at the user's line.
"""

from __future__ import annotations

import sys
import warnings


class MfrecError(Exception):
    """Base class of every error mfrec raises on purpose."""


class DataError(MfrecError, ValueError):
    """The interactions (or side tables) given are malformed."""


class ParameterError(MfrecError, ValueError):
    """A hyper-parameter or argument has an invalid value."""


class UnknownIdError(MfrecError, ValueError):
    """A user or item id is not known to the fitted model; ``what`` says which ("user", "item") when known."""

    def __init__(self, message: str, *, what: str | None = None) -> None:
        super().__init__(message)
        self.what = what


class NotFittedError(MfrecError, ValueError):
    """A model was used before ``fit``."""


class ModelFormatError(MfrecError, ValueError):
    """A saved model is missing, corrupt or of an unsupported version."""


class TrainingError(MfrecError, RuntimeError):
    """Training diverged or produced non-finite values."""


class DatasetNotFoundError(MfrecError, FileNotFoundError):
    """A dataset could not be located locally nor downloaded."""


class DuplicateRatingsWarning(UserWarning):
    """Duplicate (user, item) pairs were merged according to the policy."""


class StrayRatingsWarning(UserWarning):
    """A few ratings lay outside the common scale the rest are on; they were left out (declare the scale to refuse)."""


class IdSpellingWarning(UserWarning):
    """Distinct id texts that one number would merge ("007" and "7") were kept apart, as written."""


class UnknownIdsWarning(UserWarning):
    """Most test users or items are unknown to the model scored on them (was it trained on other data?)."""


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
