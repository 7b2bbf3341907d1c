"""A test's missing system dependency: a skip with the reason locally, a failure under ``CI=true`` (issue 30 #4).

A CI runner without Java or Chromium used to skip the Spark and browser tests and pass; ``.ci/run`` now installs
them when absent, and a runner that still lacks one fails and says what to install.
"""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_dependency(reason: str) -> None:
    """Skip the calling module with ``reason``; under ``CI=true`` fail it instead (never returns)."""
    if under_ci():
        pytest.fail(f"CI=true and a test dependency is missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
