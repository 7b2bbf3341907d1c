"""Settings shared by the numba kernels: one fastmath flag set, the scratch layout and the gather tile."""

from __future__ import annotations

# LLVM fast-math flags for every kernel. No "nnan"/"ninf": pivot and curvature tests must see NaN and inf.
# "reassoc" lets a reduction vectorise; its order is then fixed by the loop's shape (vector width, unroll,
# trip count), which is the same in every process on one CPU. Kernels keep every reduction in a loop that
# stores nothing, so LLVM never versions it behind a runtime alias check (see SCRATCH_PAD).
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}

# The flags of the CG core, whose sums decide the fitted factors: FAST without "reassoc". Measured (issue 12
# #8): with "reassoc" in the parallel CG kernel, a process that compiled it and a process that loaded it from
# the numba cache summed in different orders, so the same fit gave one of two results (factors apart by up
# to 5e-6). Without it every sum in the kernel runs in source order; the one hot reduction, linalg.dot, is a
# small function of its own compiled with FAST, whose code is the same either way (measured, and tested by
# tests/test_als_kernels.py in fresh processes with a cold cache).
EXACT_SUM = {"nsz", "arcp", "contract", "afn"}

# The flags of the CG tiles (kernels/cg_tiles.py): neither "reassoc" nor "contract", so every scalar operation
# runs as written. Their vector arithmetic is kernels/simd.py's, whose order is fixed whatever the flags. Measured
# (tests/test_als_kernels.py, fresh processes): with the tiles compiled for a constant width, FAST, and even
# EXACT_SUM, let a process that compiled the CG kernel and one that loaded it from the cache give different bits.
IN_ORDER = {"nsz", "arcp", "afn"}

# Floats of padding after each small per-row vector a kernel allocates together. A loop that both writes
# vectors and sums a reduction is vectorised behind a runtime check that the vectors lie at least
# (vector width x unroll) bytes apart, and otherwise runs a scalar twin that sums in another order. Separate
# small allocations land at distances that vary between processes, so the same fit gave different bits
# from run to run (issue 12 #8). Vectors kept in one padded block are always far enough apart, and the
# kernels also keep reductions out of loops that store.
SCRATCH_PAD = 64

# Bytes of neighbour factors one thread gathers at a time, at least. A row whose neighbours fit is gathered once
# and every CG pass reads the buffer sequentially; a longer row is re-gathered (random reads of the other side)
# tile by tile on every pass, so scratch memory is bounded whatever the longest row (an item with 10M
# interactions at k = 64 needed a 2.5 GB buffer per thread before). 64 MiB is 262,144 neighbours at k = 64:
# every item of the 20M synthetic set stays on the gather-once path (at 32 MiB its three most popular,
# 2.4% of the ratings, were re-gathered from DRAM on every pass: ~2% of an ALS iteration).
GATHER_TILE_BYTES = 64 << 20

# ... and more on larger data: all threads' buffers together may take this many bytes a rating. At 100M ratings
# (1M x 200k, Zipf) 13 items had more than 262,144 raters, 6% of the ratings; re-gathering them on every pass
# made the explicit item half-step 40% slower (5.37 s against 3.85 s with every item gathered once, 7 paired
# rounds in one process). At 8 bytes a rating two threads get 400 MB each, and take 228 MB each for the
# longest item there (891k raters); a buffer is never longer than the longest row.
GATHER_BYTES_PER_RATING = 8


def gather_tile(width: int, n_ratings: int = 0, workers: int = 1) -> int:
    """Neighbours per gather tile for factor rows of ``width`` floats: a multiple of 4 (CG takes four at a time).

    Each of ``workers`` threads gets ``GATHER_TILE_BYTES``, or its share of ``GATHER_BYTES_PER_RATING`` x
    ``n_ratings`` when that is more.

    >>> gather_tile(64), gather_tile(64, n_ratings=100_000_000, workers=2)
    (262144, 1562500)
    """
    budget = max(GATHER_TILE_BYTES, GATHER_BYTES_PER_RATING * n_ratings // max(1, workers))
    return max(4, budget // (4 * max(1, width)) // 4 * 4)


# CG stops when the squared residual norm falls below this (float32 has nothing left to gain).
CG_TOLERANCE = 1e-20
