"""The errors mfrec raises at its public boundary.

Every message names the offending column, row, parameter or value so that a
user can fix the input without reading a traceback. The CLI prints them as one
line and exits non-zero.
"""

from __future__ import annotations


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
