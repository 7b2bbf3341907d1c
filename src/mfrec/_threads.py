"""Scoped control of numba's thread count, and the default count a process may use.

The default thread count is the smallest of: the CPUs this process may run on
(``os.sched_getaffinity``, which honours ``taskset``, cgroups' cpusets and
container limits), numba's own pool size, and the first of ``MFREC_NUM_THREADS``,
``OMP_NUM_THREADS``, ``NUMBA_NUM_THREADS`` that is set to a positive integer.

Why ``OMP_WAIT_POLICY=PASSIVE``: the SGD and BPR kernels run B parallel
sub-epochs per epoch, each ending in a barrier. GNU OpenMP's default policy lets
a thread that reaches the barrier first spin, so next to another busy process
the spinning thread steals the core the late thread needs, and 2 threads ran
3-30x slower than 1 (issue 11 #18). Passive waiting sleeps at the barrier
instead. It must be in the environment before numba starts its OpenMP pool
(the first parallel call), so it is set when this module is imported; an
explicit ``OMP_WAIT_POLICY`` from the user is left alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # after the wait policy, which libgomp reads when it loads

from mfrec.exceptions import ParameterError

#: Environment variables that cap the default thread count, first set wins.
THREAD_ENV_VARS = ("MFREC_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")


def _env_threads(environ: Mapping[str, str]) -> int | None:
    """The first positive integer among ``THREAD_ENV_VARS`` (OMP's "4,2" lists count their first entry)."""
    for name in THREAD_ENV_VARS:
        value = environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: every CPU the OS reports
        return os.cpu_count() or 1


def default_threads(
    environ: Mapping[str, str] | None = None, affinity: int | None = None, pool: int | None = None
) -> int:
    """The thread count used when a model's ``n_threads`` is ``None`` or 0.

    The arguments exist for tests; by default they are read from the process.

    >>> default_threads({"OMP_NUM_THREADS": "1"}, affinity=8, pool=8)
    1
    >>> default_threads({}, affinity=2, pool=16)
    2
    """
    environ = os.environ if environ is None else environ
    affinity = _affinity_cpus() if affinity is None else affinity
    pool = numba.config.NUMBA_NUM_THREADS if pool is None else pool
    limits = [affinity, pool]
    from_env = _env_threads(environ)
    if from_env is not None:
        limits.append(from_env)
    return max(1, min(limits))


def resolve_threads(n_threads: int | None) -> int:
    """Return the thread count to use: ``None`` or 0 means ``default_threads()``.

    An explicit count is capped at numba's pool size (numba cannot run more).
    """
    if n_threads is None or n_threads == 0:
        return default_threads()
    if not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 0:
        raise ParameterError(f"n_threads must be a non-negative int or None, got {n_threads!r}")
    return min(n_threads, numba.config.NUMBA_NUM_THREADS)


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
