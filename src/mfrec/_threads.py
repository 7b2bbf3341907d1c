"""Scoped control of numba's thread count."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba

from mfrec.exceptions import ParameterError


def resolve_threads(n_threads: int | None) -> int:
    """Return the thread count to use: ``None`` or 0 means every core numba sees."""
    available = numba.config.NUMBA_NUM_THREADS
    if n_threads is None or n_threads == 0:
        return available
    if not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 0:
        raise ParameterError(f"n_threads must be a non-negative int or None, got {n_threads!r}")
    return min(n_threads, available)


@contextlib.contextmanager
def num_threads(n_threads: int | None) -> Iterator[int]:
    """Run the body with ``n_threads`` numba threads, restoring the old count even on error."""
    previous = numba.get_num_threads()
    wanted = resolve_threads(n_threads)
    numba.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        numba.set_num_threads(previous)
