"""The default thread count honours CPU affinity and the usual *_NUM_THREADS variables (issue 11 #18)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mfrec._threads import default_threads, resolve_threads
from mfrec.exceptions import ParameterError


def test_affinity_caps_the_default():
    assert default_threads({}, affinity=2, pool=16) == 2


def test_pool_caps_the_default():
    assert default_threads({}, affinity=16, pool=4) == 4


@pytest.mark.parametrize("name", ["MFREC_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"])
def test_each_env_var_caps_the_default(name):
    assert default_threads({name: "3"}, affinity=8, pool=8) == 3


def test_first_env_var_wins():
    env = {"MFREC_NUM_THREADS": "5", "OMP_NUM_THREADS": "2"}
    assert default_threads(env, affinity=8, pool=8) == 5


def test_env_var_never_raises_the_count_past_affinity():
    assert default_threads({"OMP_NUM_THREADS": "64"}, affinity=2, pool=64) == 2


def test_omp_nested_list_counts_its_first_level():
    assert default_threads({"OMP_NUM_THREADS": "3,2"}, affinity=8, pool=8) == 3


@pytest.mark.parametrize("value", ["", "0", "-1", "many"])
def test_unusable_env_values_are_ignored(value):
    assert default_threads({"OMP_NUM_THREADS": value}, affinity=6, pool=8) == 6


def test_default_reads_the_process_affinity(monkeypatch):
    for name in ("MFREC_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert resolve_threads(None) == 1
    assert resolve_threads(0) == 1


def test_explicit_count_is_kept_and_bad_counts_raise():
    assert resolve_threads(1) == 1
    with pytest.raises(ParameterError, match="n_threads"):
        resolve_threads(-1)
    with pytest.raises(ParameterError, match="n_threads"):
        resolve_threads(True)


def test_import_sets_passive_omp_wait_unless_the_user_chose():
    code = "import os, mfrec._threads; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)

    def policy() -> str:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout

    assert policy().strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert policy().strip() == "ACTIVE"
