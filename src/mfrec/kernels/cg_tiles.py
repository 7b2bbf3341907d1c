"""The per-neighbour loops of the CG half-step (:mod:`mfrec.kernels.cg`): gather, residual, A p and loss.

Each works on a tile of a row's neighbours, four at a time: the four dot products in one loop and one
read-modify-write of the accumulated vector per four. The loops over a factor row are explicit 512-bit vector
code when the row width is a multiple of 16 (the padded CG layout; :mod:`mfrec.kernels.simd`), numba's
auto-vectorised loops otherwise.

While CG computes on one row, these loops ask L2 for the rows of the neighbours that follow in the matrix (up
to ``RUN_AHEAD`` of them, ``RUN_AHEAD_PER_GROUP`` for every four neighbours processed), so the next rows'
gathers find their factors in cache instead of waiting on DRAM. Hints only: the arithmetic is unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mfrec.kernels._config import EXACT_SUM, FAST, IN_ORDER
from mfrec.kernels.normal_equations import neighbour_terms
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_lines_l2, prefetch_neighbour, prefetch_value_l2
from mfrec.kernels.simd import LANES, axpy4_rows, copy4_rows, dot4_rows, prefer_wide_vectors

# Measured (the explicit half-steps of benchmarks/bench_als_memory.py, 7 paired rounds in one process, 2 threads,
# k = 64): 10% faster at 100M ratings (user 2.62 -> 2.37 s, item 3.62 -> 3.26 s), 2% / 10% at 20M. 1,024 ahead
# gained nothing; 4,096 ahead at 8 a group about as much as this; 2 a group slightly less.
RUN_AHEAD = 256
RUN_AHEAD_PER_GROUP = 4

# The row width the residual and A p tiles are also compiled for as a constant: the default n_factors. With the
# width known, LLVM unrolls every loop over a row (the vector loops, the prefetches of its cache lines) and drops
# their trip-count checks and remainders, which cost more than the arithmetic of a 64-float row. Measured (explicit
# ALS, k = 64, 9 interleaved rounds in one process, CPU time, median of paired ratios): 0.90 of the CPU time per
# iteration at 1 thread and 0.91 at 2 on the 5M-rating benchmark set, 0.91 / 0.90 on synthetic 2M (the user half
# gains more than the item half). Other widths run the same code with a runtime width.
CONSTANT_WIDTH = 64


@njit(cache=True, nogil=True, fastmath=FAST)
def gather(indices, values, Y, y_bias, mu, lo, m, G, wt, ct, implicit, biased):
    """G[:m] = z_j, wt[:m] = w_j, ct[:m] = c_j for neighbours ``lo:lo+m``."""
    prefer_wide_vectors()
    k = Y.shape[1]
    for jj in range(m):
        j = lo + jj
        if jj + PREFETCH_AHEAD < m:
            prefetch_neighbour(indices, Y, y_bias, j + PREFETCH_AHEAD, biased, k)
        i = indices[j]
        y = Y[i]
        g = G[jj]
        for a in range(k):
            g[a] = y[a]
        wt[jj], ct[jj] = neighbour_terms(values[j], y_bias[i] if biased else np.float32(0.0), mu, implicit, biased)


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _run_ahead(indices, Y, y_bias, cursor, stop, biased, width):
    """Ask L2 for the factor rows (their first ``width`` columns) of neighbours ``cursor``, ``cursor + 1``, ... (a
    few, below ``stop``).

    Returns the new cursor.
    """
    for _ in range(RUN_AHEAD_PER_GROUP):
        if cursor < stop:
            row = np.intp(indices[cursor])
            prefetch_lines_l2(Y, row, width)
            if biased:
                prefetch_value_l2(y_bias, row)
            cursor += 1
    return cursor


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _dot(a, b, d):
    """a[:d] . b[:d], inlined into the (separately compiled) tile functions so it stays in registers."""
    s = np.float32(0.0)
    for i in range(d):
        s += a[i] * b[i]
    return s


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _dot4_rows(A, r0, r1, r2, r3, x, k):
    """(A[r0] . x, A[r1] . x, A[r2] . x, A[r3] . x) over [:k] in one loop: x is loaded once for the four (a third
    fewer loads than four separate dot products, and one loop instead of four short ones).

    :func:`mfrec.kernels.simd.dot4_rows` when k is a multiple of its vector (the padded CG layout), else
    numba's loop. Rows by index rather than as views: no view is made (and reference-counted) per row.
    """
    if k % LANES == 0:
        return dot4_rows(A, r0, r1, r2, r3, x, k)
    s0 = np.float32(0.0)
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    for a in range(k):
        xa = x[a]
        s0 += A[r0, a] * xa
        s1 += A[r1, a] * xa
        s2 += A[r2, a] * xa
        s3 += A[r3, a] * xa
    return s0, s1, s2, s3


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _axpy4_rows(out, A, r0, r1, r2, r3, c0, c1, c2, c3, k):
    """out[:k] += (c0 A[r0] + c1 A[r1]) + (c2 A[r2] + c3 A[r3]); :func:`mfrec.kernels.simd.axpy4_rows` when k is
    a multiple of its vector."""
    if k % LANES == 0:
        axpy4_rows(out, A, r0, r1, r2, r3, c0, c1, c2, c3, k)
        return
    for a in range(k):
        out[a] += (c0 * A[r0, a] + c1 * A[r1, a]) + (c2 * A[r2, a] + c3 * A[r3, a])


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _copy4_rows(G, g0, A, r0, r1, r2, r3, k):
    """G[g0 + j, :k] = A[r_j, :k] for the four rows; :func:`mfrec.kernels.simd.copy4_rows` when k is a multiple
    of its vector."""
    if k % LANES == 0:
        copy4_rows(G, g0, A, r0, r1, r2, r3, k)
        return
    for a in range(k):
        G[g0, a] = A[r0, a]
        G[g0 + 1, a] = A[r1, a]
        G[g0 + 2, a] = A[r2, a]
        G[g0 + 3, a] = A[r3, a]


@njit(cache=True, nogil=True, fastmath=FAST)
def add_sym_times(B, v, out, k):
    """out[:k] += B v, four rows of B at a time against v: the loop over k only loads and sums (the column-update
    form loaded and stored ``out`` once per row of B, three times the memory operations)."""
    prefer_wide_vectors()
    e = 0
    while e + 3 < k:
        d0, d1, d2, d3 = _dot4_rows(B, e, e + 1, e + 2, e + 3, v, k)
        out[e] += d0
        out[e + 1] += d1
        out[e + 2] += d2
        out[e + 3] += d3
        e += 4
    while e < k:
        out[e] += _dot(B[e], v, k)
        e += 1


@njit(cache=True, nogil=True, fastmath=FAST)
def _residual_rows(G, wt, ct, m, k, x, r, pred, track, biased):
    """r += sum (c_j - w_j z_j . x) z_j over G[:m], one neighbour at a time; pred[j] = z_j . x when ``track``.

    The last one to three neighbours of a tile (:func:`gather_residual_tile` takes four at a time).
    """
    prefer_wide_vectors()
    x_bias = x[k] if biased else np.float32(0.0)
    for jj in range(m):
        g0 = G[jj]
        d0 = _dot(g0, x, k) + x_bias
        c0 = ct[jj] - wt[jj] * d0
        for a in range(k):
            r[a] += c0 * g0[a]
        if biased:
            r[k] += c0
        if track:
            pred[jj] = d0


@njit(cache=True, nogil=True, fastmath=IN_ORDER)
def gather_residual_tile(
    indices, values, Y, y_bias, mu, lo, m, G, wt, ct, x, r, pred, track, implicit, biased, cursor, stop
):
    """G[:m], wt[:m], ct[:m] as :func:`gather`, and r += sum (c_j - w_j z_j . x) z_j over the tile in the same
    pass; pred[j] = z_j . x when ``track``.

    Each neighbour's factors are loaded once from Y, feed the residual and are stored to G for the CG steps
    (a separate residual pass read all of G back, from L2 for a long row). z_j = [y_j, 1] when ``biased``: G
    holds y_j only (k wide, so the vector loops have no remainder) and the constant's share goes to r[k]
    separately. Four neighbours at a time: the four dot products in one loop (:func:`_dot4_rows`) and one
    read-modify-write of r per four (two at a time measured ~10% slower per iteration). indices, Y, y_bias,
    cursor, stop: the run-ahead prefetch (:func:`_run_ahead`); returns its new cursor.
    """
    prefer_wide_vectors()
    k = Y.shape[1]
    if k == CONSTANT_WIDTH:
        return _gather_residual(
            indices,
            values,
            Y,
            y_bias,
            mu,
            lo,
            m,
            G,
            wt,
            ct,
            x,
            r,
            pred,
            track,
            implicit,
            biased,
            cursor,
            stop,
            k,
            CONSTANT_WIDTH,
        )
    return _gather_residual(
        indices, values, Y, y_bias, mu, lo, m, G, wt, ct, x, r, pred, track, implicit, biased, cursor, stop, k, k
    )


@njit(cache=True, nogil=True, fastmath=IN_ORDER, inline="always")
def _gather_residual(
    indices, values, Y, y_bias, mu, lo, m, G, wt, ct, x, r, pred, track, implicit, biased, cursor, stop, k, width
):
    """:func:`gather_residual_tile` for rows of k = Y.shape[1] floats. The vector loops over a row (kernels/simd.py,
    whose order is fixed) and its prefetches take ``width``: k itself, or the same as a constant. The rest keeps
    the runtime k (the last one to three neighbours: numba's loops, in FAST functions of their own)."""
    x_bias = x[k] if biased else np.float32(0.0)
    jj = 0
    while jj + 3 < m:
        j = lo + jj
        if jj + PREFETCH_AHEAD + 3 < m:  # as gather does, four neighbours at a time
            for t in range(4):
                prefetch_neighbour(indices, Y, y_bias, j + PREFETCH_AHEAD + t, biased, width)
        for t in range(4):
            i = indices[j + t]
            b = y_bias[i] if biased else np.float32(0.0)
            wt[jj + t], ct[jj + t] = neighbour_terms(values[j + t], b, mu, implicit, biased)
        i0 = indices[j]
        i1 = indices[j + 1]
        i2 = indices[j + 2]
        i3 = indices[j + 3]
        d0, d1, d2, d3 = _dot4_rows(Y, i0, i1, i2, i3, x, width)
        d0 += x_bias
        d1 += x_bias
        d2 += x_bias
        d3 += x_bias
        c0 = ct[jj] - wt[jj] * d0
        c1 = ct[jj + 1] - wt[jj + 1] * d1
        c2 = ct[jj + 2] - wt[jj + 2] * d2
        c3 = ct[jj + 3] - wt[jj + 3] * d3
        cursor = _run_ahead(indices, Y, y_bias, cursor, stop, biased, width)
        # stored for the CG steps, from L1: the dot products just loaded these rows
        _copy4_rows(G, jj, Y, i0, i1, i2, i3, width)
        _axpy4_rows(r, Y, i0, i1, i2, i3, c0, c1, c2, c3, width)
        if biased:
            r[k] += (c0 + c1) + (c2 + c3)
        if track:
            pred[jj] = d0
            pred[jj + 1] = d1
            pred[jj + 2] = d2
            pred[jj + 3] = d3
        jj += 4
    if jj < m:  # the last one to three neighbours, one at a time as before
        gather(indices, values, Y, y_bias, mu, lo + jj, m - jj, G[jj:], wt[jj:], ct[jj:], implicit, biased)
        _residual_rows(G[jj:], wt[jj:], ct[jj:], m - jj, k, x, r, pred[jj:], track, biased)
    return cursor


@njit(cache=True, nogil=True, fastmath=IN_ORDER)
def apply_tile(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop):
    """Ap += sum w_j (z_j . p) z_j over the tile; dots[j] = z_j . p when ``track``.

    z_j and the run-ahead arguments as in :func:`gather_residual_tile`; returns the run-ahead cursor.
    """
    prefer_wide_vectors()
    if k == CONSTANT_WIDTH:
        return _apply(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop, CONSTANT_WIDTH)
    return _apply(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop, k)


@njit(cache=True, nogil=True, fastmath=IN_ORDER, inline="always")
def _apply(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop, width):
    """:func:`apply_tile`; ``width`` as in :func:`_gather_residual`."""
    p_bias = p[k] if biased else np.float32(0.0)
    jj = 0
    while jj + 3 < m:
        d0, d1, d2, d3 = _dot4_rows(G, jj, jj + 1, jj + 2, jj + 3, p, width)
        d0 += p_bias
        d1 += p_bias
        d2 += p_bias
        d3 += p_bias
        if track:
            dots[jj] = d0
            dots[jj + 1] = d1
            dots[jj + 2] = d2
            dots[jj + 3] = d3
        d0 *= wt[jj]
        d1 *= wt[jj + 1]
        d2 *= wt[jj + 2]
        d3 *= wt[jj + 3]
        cursor = _run_ahead(indices, Y, y_bias, cursor, stop, biased, width)
        _axpy4_rows(Ap, G, jj, jj + 1, jj + 2, jj + 3, d0, d1, d2, d3, width)
        if biased:
            Ap[k] += (d0 + d1) + (d2 + d3)
        jj += 4
    while jj < m:
        g0 = G[jj]
        d0 = _dot(g0, p, k) + p_bias
        if track:
            dots[jj] = d0
        d0 *= wt[jj]
        for a in range(k):
            Ap[a] += d0 * g0[a]
        if biased:
            Ap[k] += d0
        jj += 1
    return cursor


@njit(cache=True, nogil=True, fastmath=EXACT_SUM)
def tile_loss(ct, pred, m, implicit):
    """The tile's share of the row loss: sum (c - d)^2 (explicit), sum c (1 - d)^2 - d^2 (implicit)."""
    s = 0.0
    for jj in range(m):
        d = pred[jj]
        if implicit:
            s += ct[jj] * (1.0 - d) * (1.0 - d) - d * d
        else:
            s += (ct[jj] - d) * (ct[jj] - d)
    return s
