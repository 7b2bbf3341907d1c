"""The shared ALS kernels: one CG core with bounded gather tiles, breakdowns that are never silent,
solver="auto", and bit-identical implicit ALS across fresh processes."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mfrec.data import from_arrays
from mfrec.exceptions import TrainingError
from mfrec.kernels._config import gather_tile
from mfrec.kernels.als import als_cg_step, balanced_chunks
from mfrec.kernels.implicit_als import gram, implicit_cg_step
from mfrec.kernels.sparse import csr_by_user
from mfrec.models import ALS, ImplicitALS

SRC = Path(__file__).resolve().parent.parent / "src"


def _long_rows(rng, n_rows=3, n_cols=400, k=6):
    """A few rows that each see most of the other side: far longer than an 8-neighbour tile."""
    rows = np.repeat(np.arange(n_rows), n_cols)
    cols = np.tile(np.arange(n_cols), n_rows)
    keep = rng.random(rows.size) < 0.8
    rows, cols = rows[keep].astype(np.int32), cols[keep].astype(np.int32)
    values = rng.integers(1, 6, rows.size).astype(np.float32)
    Y = rng.normal(0, 0.3, (n_cols, k)).astype(np.float32)
    return csr_by_user(rows, cols, values, n_rows), Y


@pytest.mark.parametrize("tile", [4, 8, 64])
def test_explicit_cg_row_longer_than_the_tile_matches_the_untiled_solve(rng, tile):
    csr, Y = _long_rows(rng)
    y_bias = rng.normal(0, 0.1, Y.shape[0]).astype(np.float32)
    chunks = balanced_chunks(csr[0], 2)
    solutions, losses = [], []
    for t in (tile, 1 << 20):
        X = np.full((3, Y.shape[1]), 0.01, np.float32)
        x_bias = np.zeros(3, np.float32)
        error = np.zeros(3)
        assert als_cg_step(*csr, Y, y_bias, 3.5, X, x_bias, 0.1, 0.05, True, True, 4, chunks, error, tile=t) == 0
        solutions.append((X, x_bias))
        losses.append(error)
    np.testing.assert_array_equal(solutions[0][0], solutions[1][0])
    np.testing.assert_array_equal(solutions[0][1], solutions[1][1])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_implicit_cg_row_longer_than_the_tile_matches_the_untiled_solve(rng):
    csr, Y = _long_rows(rng)
    weights = (csr[2] / 2).astype(np.float32)
    chunks = balanced_chunks(csr[0], 2)
    solutions, losses = [], []
    for t in (4, 1 << 20):
        X = np.full((3, Y.shape[1]), 0.01, np.float32)
        loss = np.zeros(3)
        assert implicit_cg_step(csr[0], csr[1], weights, Y, gram(Y), X, 0.5, 3, chunks, loss, tile=t) == 0
        solutions.append(X)
        losses.append(loss)
    np.testing.assert_array_equal(solutions[0], solutions[1])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_gather_tile_is_bounded_and_a_multiple_of_four():
    assert gather_tile(64) == 262_144  # 64 MiB of float32 rows of 64
    assert gather_tile(65) % 4 == 0 and gather_tile(65) * 65 * 4 <= 64 << 20
    assert gather_tile(10**9) == 4


def test_gather_tile_grows_with_the_data_and_is_shared_by_the_threads():
    # 8 bytes a rating over all threads: at 100M ratings and 2 threads, 400 MB each (1,562,500 rows of 64 floats),
    # so the 891k raters of the 100M set's most popular item are gathered once, not on every CG pass.
    assert gather_tile(64, n_ratings=100_000_000, workers=2) == 1_562_500 > 891_245
    assert gather_tile(64, n_ratings=100_000_000, workers=8) == 390_624
    # Small data keep the 64 MiB floor per thread.
    assert gather_tile(64, n_ratings=10_000_000, workers=2) == gather_tile(64) == 262_144
    for workers in (1, 2, 3, 16):
        tile = gather_tile(65, n_ratings=300_000_000, workers=workers)
        assert tile % 4 == 0 and workers * tile * 65 * 4 <= max(workers * (64 << 20), 8 * 300_000_000)


def test_run_ahead_asks_for_a_few_neighbours_at_a_time_and_never_past_its_stop():
    # The cursor is the next neighbour whose factors have not been asked for; cg_rows stops it at the end of the
    # thread's chunk, so it never reads an index past the matrix.
    from mfrec.kernels.cg_tiles import RUN_AHEAD_PER_GROUP, _run_ahead

    indices = np.arange(10, dtype=np.int32)
    Y, y_bias = np.zeros((10, 16), np.float32), np.zeros(10, np.float32)
    assert _run_ahead(indices, Y, y_bias, 0, 10, True, 16) == RUN_AHEAD_PER_GROUP
    assert _run_ahead(indices, Y, y_bias, 9, 10, True, 16) == 10
    assert _run_ahead(indices, Y, y_bias, 10, 10, False, 16) == 10


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_cg_counts_rows_whose_curvature_is_not_positive(rng, implicit):
    rows = np.repeat(np.arange(4), 5).astype(np.int32)
    cols = np.tile(np.arange(5), 4).astype(np.int32)
    csr = csr_by_user(rows, cols, np.ones(20, np.float32), 4)
    Y = rng.normal(0, 0.3, (5, 3)).astype(np.float32)
    Y[2, 1] = np.nan  # a diverged neighbour: every row that sees it gets a NaN curvature
    X = np.full((4, 3), 0.1, np.float32)
    chunks = balanced_chunks(csr[0], 2)
    if implicit:
        broken = implicit_cg_step(*csr, Y, gram(Y), X, 0.5, 3, chunks, np.empty(0))
    else:
        broken = als_cg_step(
            *csr,
            Y,
            np.zeros(5, np.float32),
            3.0,
            X,
            np.zeros(4, np.float32),
            0.1,
            0.1,
            True,
            True,
            3,
            chunks,
            np.empty(0),
        )
    assert broken == 4


def test_als_cg_divergence_raises_instead_of_returning_garbage():
    # Ratings this large overflow float32 inside CG (r^T r = inf, then inf / inf): before, the factors
    # silently became NaN and every recommendation list came back short.
    users, items = np.divmod(np.random.default_rng(0).choice(60 * 40, 600, replace=False), 40)
    data = from_arrays(users, items, np.random.default_rng(1).uniform(1e36, 3e38, 600))
    with pytest.raises(TrainingError, match=r"ALS diverged: conjugate gradient .* on \d+ user rows"):
        ALS(n_factors=4, n_epochs=2, solver="cg", biased=False).fit(data)


def test_implicit_als_divergence_raises():
    data = from_arrays(*np.divmod(np.random.default_rng(0).choice(60 * 40, 600, replace=False), 40))
    with pytest.raises(TrainingError, match=r"implicit ALS diverged: .*increase regularization"):
        ImplicitALS(n_factors=4, n_epochs=2, alpha=1e38, solver="cg").fit(data)


@pytest.mark.parametrize("model_class", [ALS, ImplicitALS])
def test_auto_solver_takes_cg_from_32_factors_and_cholesky_below(planted, model_class):
    assert model_class().solver == "auto"
    assert model_class(n_factors=32, n_epochs=1).fit(planted).solver_ == "cg"
    assert model_class(n_factors=8, n_epochs=1).fit(planted).solver_ == "cholesky"
    assert model_class(n_factors=8, n_epochs=1, solver="cg").fit(planted).solver_ == "cg"


# (model, n_factors): 8 factors: numba's loops; 20 (rows padded to 32): the explicit vector code of kernels/simd.py;
# 64: the same code compiled for a constant width (kernels/cg_tiles.py::CONSTANT_WIDTH).
_CG_FITS = (("implicit", 8), ("implicit", 20), ("implicit", 64), ("explicit", 64))

_FIT_AND_HASH = textwrap.dedent(
    """
    import sys
    from mfrec.data import synthetic
    sys.path.insert(0, sys.argv[1])
    from test_als_kernels import _CG_FITS, _fit_hash
    data = synthetic(2_000, 400, 40_000, seed=3)
    for threads in (1, 2):
        for model, k in _CG_FITS:
            print(model, k, _fit_hash(model, k, threads, data))
    """
)


def _fit_hash(model, k, threads, data):
    """SHA-256 of the factors of a 3-epoch CG fit."""
    import hashlib

    model_class = ImplicitALS if model == "implicit" else ALS
    m = model_class(n_factors=k, n_epochs=3, solver="cg", n_threads=threads).fit(data)
    return hashlib.sha256(m.user_factors_.tobytes() + m.item_factors_.tobytes()).hexdigest()


def test_cg_fits_are_bit_identical_across_fresh_processes_and_cold_caches(tmp_path, planted):
    """Issue 12 #8: a fresh process compiling the kernels from scratch, one loading them from that cache,
    and this process all give the same bits, for 1 and 2 threads, with and without kernels/simd.py's vectors,
    and at the constant width the CG tiles are compiled for."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(SRC)}
    lines = []
    for _ in range(2):  # the first run compiles into the empty cache, the second loads from it
        done = subprocess.run(
            [sys.executable, "-c", _FIT_AND_HASH, str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        lines += done.stdout.splitlines()
    lines += [f"{model} {k} {_fit_hash(model, k, 1, planted)}" for model, k in _CG_FITS]
    by_fit = {}
    for line in lines:
        model, k, digest = line.split()
        by_fit.setdefault((model, k), set()).add(digest)
    assert len(lines) == 5 * len(_CG_FITS) and all(len(h) == 1 for h in by_fit.values()), lines
