"""Checks of hyper-parameters and arguments, each failing with a message that names the value."""

from __future__ import annotations

import difflib
import numbers
from typing import Any

from mfrec.exceptions import ParameterError


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an int, got {value!r}")
    if low is not None and value < low:
        raise ParameterError(f"{name} must be an int >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ParameterError(f"{name} must be an int <= {high}, got {value!r}")
    return int(value)


def check_float(
    name: str, value: Any, low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ParameterError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ParameterError(f"{name} must be <= {high:g}, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_seed(name: str, value: Any) -> int | None:
    if value is None:
        return None
    return check_int(name, value, 0)


def unknown_parameter(owner: str, name: str, valid: list[str]) -> ParameterError:
    """The error for a parameter ``owner`` does not have, with the nearest valid name when it is a near miss.

    >>> str(unknown_parameter("ALS", "n_factor", ["n_factors", "n_epochs"]))
    "ALS has no parameter 'n_factor' (did you mean 'n_factors'?); valid: n_factors, n_epochs"
    """
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ParameterError(f"{owner} has no parameter {name!r}{hint}; valid: {', '.join(valid) or 'none'}")
