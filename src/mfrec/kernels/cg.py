"""The one conjugate-gradient half-step, shared by explicit and implicit ALS.

Solves each row's system (B + sum_j w_j z_j z_j^T + Lambda) x = sum_j c_j z_j (the terms are defined in
:mod:`mfrec.kernels.normal_equations`) by ``cg_steps`` of conjugate gradient warm-started at the row's
current solution (Takacs, Pilaszy & Tikk 2011). The matrix is never formed: a step costs O(n k) for a row
with n neighbours (plus k^2 for B), where the exact solve costs O(n k^2 + k^3).

Memory access: a row's neighbour factors are gathered into a contiguous buffer, so the CG steps and the
final loss read them sequentially (from cache for most rows), and the other side's factors are read at random
once per half-step. The initial residual is summed in the gathering pass, from the rows just loaded
(:func:`_gather_residual_tile`), so it costs no pass of its own over the buffer. The buffer holds at most
``tile`` neighbours (_config.gather_tile): a longer row is streamed through it tile by tile on every pass. Both paths
sum in the same order (tiles are multiples of 4 and the loops take neighbours four at a time), so a row gets the
same bits either way.

The loops over a factor row are explicit 512-bit vector code when the row width is a multiple of 16 (the
padded CG layout; :mod:`mfrec.kernels.simd`), numba's auto-vectorised loops otherwise.

While CG computes on one row, it asks L2 for the rows of the neighbours that follow in the matrix (up to
``RUN_AHEAD`` of them, ``RUN_AHEAD_PER_GROUP`` for every four neighbours it processes), so the next rows'
gathers find their factors in cache instead of waiting on DRAM. Hints only: the arithmetic is unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from mfrec.kernels._config import CG_TOLERANCE, EXACT_SUM, FAST, SCRATCH_PAD
from mfrec.kernels.linalg import dot
from mfrec.kernels.normal_equations import neighbour_terms
from mfrec.kernels.prefetch import PREFETCH_AHEAD, prefetch_row, prefetch_row_l2, prefetch_value, prefetch_value_l2
from mfrec.kernels.simd import LANES, aligned_empty, axpy4_rows, copy4_rows, dot4_rows, prefer_wide_vectors

# Measured (the explicit half-steps of benchmarks/bench_als_memory.py, 7 paired rounds in one process, 2 threads,
# k = 64): 10% faster at 100M ratings (user 2.62 -> 2.37 s, item 3.62 -> 3.26 s), 2% / 10% at 20M. 1,024 ahead
# gained nothing; 4,096 ahead at 8 a group about as much as this; 2 a group slightly less.
RUN_AHEAD = 256
RUN_AHEAD_PER_GROUP = 4


@njit(cache=True, nogil=True, fastmath=FAST)
def _gather(indices, values, Y, y_bias, mu, lo, m, G, wt, ct, implicit, biased):
    """G[:m] = z_j, wt[:m] = w_j, ct[:m] = c_j for neighbours ``lo:lo+m``."""
    prefer_wide_vectors()
    k = Y.shape[1]
    for jj in range(m):
        j = lo + jj
        if jj + PREFETCH_AHEAD < m:
            ahead = np.intp(indices[j + PREFETCH_AHEAD])
            prefetch_row(Y, ahead)
            if biased:
                prefetch_value(y_bias, ahead)
        i = indices[j]
        y = Y[i]
        g = G[jj]
        for a in range(k):
            g[a] = y[a]
        wt[jj], ct[jj] = neighbour_terms(values[j], y_bias[i] if biased else np.float32(0.0), mu, implicit, biased)


@njit(cache=True, nogil=True, fastmath=FAST, inline="always")
def _run_ahead(indices, Y, y_bias, cursor, stop, biased):
    """Ask L2 for the factor rows of neighbours ``cursor``, ``cursor + 1``, ... (a few, below ``stop``).

    Returns the new cursor.
    """
    for _ in range(RUN_AHEAD_PER_GROUP):
        if cursor < stop:
            row = np.intp(indices[cursor])
            prefetch_row_l2(Y, row)
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
def _add_sym_times(B, v, out, k):
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

    The last one to three neighbours of a tile (:func:`_gather_residual_tile` takes four at a time).
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


@njit(cache=True, nogil=True, fastmath=FAST)
def _gather_residual_tile(
    indices, values, Y, y_bias, mu, lo, m, G, wt, ct, x, r, pred, track, implicit, biased, cursor, stop
):
    """G[:m], wt[:m], ct[:m] as :func:`_gather`, and r += sum (c_j - w_j z_j . x) z_j over the tile in the same
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
    x_bias = x[k] if biased else np.float32(0.0)
    jj = 0
    while jj + 3 < m:
        j = lo + jj
        if jj + PREFETCH_AHEAD + 3 < m:  # as _gather does, four neighbours at a time
            for t in range(4):
                ahead = np.intp(indices[j + PREFETCH_AHEAD + t])
                prefetch_row(Y, ahead)
                if biased:
                    prefetch_value(y_bias, ahead)
        for t in range(4):
            i = indices[j + t]
            b = y_bias[i] if biased else np.float32(0.0)
            wt[jj + t], ct[jj + t] = neighbour_terms(values[j + t], b, mu, implicit, biased)
        i0 = indices[j]
        i1 = indices[j + 1]
        i2 = indices[j + 2]
        i3 = indices[j + 3]
        d0, d1, d2, d3 = _dot4_rows(Y, i0, i1, i2, i3, x, k)
        d0 += x_bias
        d1 += x_bias
        d2 += x_bias
        d3 += x_bias
        c0 = ct[jj] - wt[jj] * d0
        c1 = ct[jj + 1] - wt[jj + 1] * d1
        c2 = ct[jj + 2] - wt[jj + 2] * d2
        c3 = ct[jj + 3] - wt[jj + 3] * d3
        cursor = _run_ahead(indices, Y, y_bias, cursor, stop, biased)
        # stored for the CG steps, from L1: the dot products just loaded these rows
        _copy4_rows(G, jj, Y, i0, i1, i2, i3, k)
        _axpy4_rows(r, Y, i0, i1, i2, i3, c0, c1, c2, c3, k)
        if biased:
            r[k] += (c0 + c1) + (c2 + c3)
        if track:
            pred[jj] = d0
            pred[jj + 1] = d1
            pred[jj + 2] = d2
            pred[jj + 3] = d3
        jj += 4
    if jj < m:  # the last one to three neighbours, one at a time as before
        _gather(indices, values, Y, y_bias, mu, lo + jj, m - jj, G[jj:], wt[jj:], ct[jj:], implicit, biased)
        _residual_rows(G[jj:], wt[jj:], ct[jj:], m - jj, k, x, r, pred[jj:], track, biased)
    return cursor


@njit(cache=True, nogil=True, fastmath=FAST)
def _apply_tile(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop):
    """Ap += sum w_j (z_j . p) z_j over the tile; dots[j] = z_j . p when ``track``.

    z_j and the run-ahead arguments as in :func:`_gather_residual_tile`; returns the run-ahead cursor.
    """
    prefer_wide_vectors()
    p_bias = p[k] if biased else np.float32(0.0)
    jj = 0
    while jj + 3 < m:
        d0, d1, d2, d3 = _dot4_rows(G, jj, jj + 1, jj + 2, jj + 3, p, k)
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
        cursor = _run_ahead(indices, Y, y_bias, cursor, stop, biased)
        _axpy4_rows(Ap, G, jj, jj + 1, jj + 2, jj + 3, d0, d1, d2, d3, k)
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
def _tile_loss(ct, pred, m, implicit):
    """The tile's share of the row loss: sum (c - d)^2 (explicit), sum c (1 - d)^2 - d^2 (implicit)."""
    s = 0.0
    for jj in range(m):
        d = pred[jj]
        if implicit:
            s += ct[jj] * (1.0 - d) * (1.0 - d) - d * d
        else:
            s += (ct[jj] - d) * (ct[jj] - d)
    return s


@njit(cache=True, nogil=True, parallel=True, fastmath=EXACT_SUM)
def cg_rows(
    indptr,
    indices,
    values,
    Y,
    y_bias,
    mu,
    base,
    X,
    x_bias,
    reg,
    reg_bias,
    weighted,
    implicit,
    biased,
    cg_steps,
    reg_const,
    reg_bias_const,
    chunks,
    tile,
    row_loss,
    workers,
):
    """``cg_steps`` of CG per row, warm-started at ``X[u]`` (and ``x_bias[u]``); returns the breakdown count.

    Arguments as :func:`mfrec.kernels.normal_equations.cholesky_rows`, and: reg_const, reg_bias_const: added to
    Lambda's diagonal after the count scaling (a row with few ratings keeps a floor of regularisation); chunks
    int64[c+1]: row boundaries balanced by neighbour count, taken by threads one at a time (results do not depend on
    them); tile: neighbours per gather buffer (rounded down to a multiple of 4; one buffer per thread);
    row_loss float64[n] or empty: when not empty, receives each row's loss at its new solution without
    the regulariser: sum (c_j - z_j . x)^2 (explicit, the squared training error) or
    x^T B x + sum [c_j (1 - z_j . x)^2 - (z_j . x)^2] (implicit: the loss over every cell, rewritten so
    that only observed cells are visited). For a row that fits one tile the predictions are kept up to
    date from the CG steps' dot products, so the loss costs no extra pass. workers: numba's thread count
    (``numba.get_num_threads()``, passed in: called inside, it would keep the kernel out of the cache).

    Returns the number of rows whose CG stopped on a non-positive or NaN curvature p^T A p: A is positive
    definite when Lambda > 0, so such a row means the data or the factors hold inf/NaN (the fit diverged).
    """
    k = Y.shape[1]
    d = k + 1 if biased else k
    tile = max(4, tile - tile % 4)
    want_loss = row_loss.shape[0] > 0
    breakdowns = np.zeros(chunks.shape[0] - 1, dtype=np.int64)
    # Scratch per thread, not per chunk: chunk-sized buffers came to 0.6 GB of fresh pages per 20M-rating
    # iteration, and their page faults cost 2-4% of it.
    longest = 4
    for u in range(indptr.shape[0] - 1):
        longest = max(longest, min(tile, indptr[u + 1] - indptr[u]))
    # The buffers the vector loops read start on 64-byte lines, and the per-row vectors lie a whole number of
    # lines apart: numba's 32-byte alignment left every other process with every 512-bit load of a gathered row
    # split across two lines, and r, p and Ap (516 bytes apart) split always.
    gathered = aligned_empty(workers * longest * k).reshape((workers, longest, k))
    per_neighbour = np.empty((workers, 4, longest), dtype=np.float32)
    width = d + SCRATCH_PAD + (-(d + SCRATCH_PAD) % LANES)
    per_row = aligned_empty(workers * 5 * width).reshape((workers, 5, width))  # one padded block: see SCRATCH_PAD
    if implicit:  # B, read a row at a time per neighbour group of every pass: on lines too
        B = aligned_empty(k * k).reshape((k, k))
        B[:] = base
    else:
        B = base
    for c in prange(chunks.shape[0] - 1):
        first, last = chunks[c], chunks[c + 1]
        worker = get_thread_id()
        G = gathered[worker]
        wt = per_neighbour[worker, 0]
        ct = per_neighbour[worker, 1]
        pred = per_neighbour[worker, 2]
        dots = per_neighbour[worker, 3]
        vectors = per_row[worker]
        x = vectors[0]
        r = vectors[1]
        p = vectors[2]
        Ap = vectors[3]
        lam = vectors[4]
        cursor = indptr[first]  # the first neighbour whose factors have not been asked for yet
        for u in range(first, last):
            start = indptr[u]
            n = indptr[u + 1] - start
            xu = X[u]
            if n == 0:  # (B + Lambda) x = 0
                xu[:] = 0.0
                if x_bias.shape[0] > 0:
                    x_bias[u] = 0.0
                if want_loss:
                    row_loss[u] = 0.0
                continue
            scale = np.float32(n) if weighted else np.float32(1.0)
            for a in range(k):
                lam[a] = reg * scale + reg_const
                x[a] = xu[a]
            if biased:
                lam[k] = reg_bias * scale + reg_bias_const
                x[k] = x_bias[u]
            cursor = max(cursor, indptr[u + 1])
            stop = min(indptr[last], indptr[u + 1] + RUN_AHEAD)
            resident = n <= tile
            track = resident and want_loss
            # r = b - A x = sum (c_j - w_j z_j . x) z_j - (B + Lambda) x
            for a in range(d):
                r[a] = lam[a] * x[a]
            if implicit:
                _add_sym_times(B, x, r, k)
            for a in range(d):
                r[a] = -r[a]
            for lo in range(0, n, tile):
                m = min(tile, n - lo)
                cursor = _gather_residual_tile(
                    indices,
                    values,
                    Y,
                    y_bias,
                    mu,
                    start + lo,
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
                )
            for a in range(d):
                p[a] = r[a]
            rs_old = dot(r, r, d)
            for _ in range(cg_steps):
                if rs_old < CG_TOLERANCE:
                    break
                for a in range(d):
                    Ap[a] = lam[a] * p[a]
                if implicit:
                    _add_sym_times(B, p, Ap, k)
                for lo in range(0, n, tile):
                    m = min(tile, n - lo)
                    if not resident:
                        _gather(indices, values, Y, y_bias, mu, start + lo, m, G, wt, ct, implicit, biased)
                    cursor = _apply_tile(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop)
                pAp = dot(p, Ap, d)
                if not pAp > 0.0:
                    breakdowns[c] += 1
                    break
                alpha = rs_old / pAp
                if track:  # x moves by alpha p, so each prediction moves by alpha (z_j . p)
                    for jj in range(n):
                        pred[jj] += alpha * dots[jj]
                for a in range(d):
                    x[a] += alpha * p[a]
                    r[a] -= alpha * Ap[a]
                rs_new = dot(r, r, d)
                beta = rs_new / rs_old
                for a in range(d):
                    p[a] = r[a] + beta * p[a]
                rs_old = rs_new
            for a in range(k):
                xu[a] = x[a]
            if x_bias.shape[0] > 0:
                x_bias[u] = x[k] if biased else 0.0
            if want_loss:
                loss = 0.0
                if implicit:  # x^T B x
                    for a in range(k):
                        Ap[a] = 0.0
                    _add_sym_times(B, x, Ap, k)
                    loss += dot(x, Ap, k)
                if resident:
                    loss += _tile_loss(ct, pred, n, implicit)
                else:
                    for lo in range(0, n, tile):
                        m = min(tile, n - lo)
                        _gather(indices, values, Y, y_bias, mu, start + lo, m, G, wt, ct, implicit, biased)
                        shift = x[k] if biased else np.float32(0.0)
                        for jj in range(m):
                            pred[jj] = dot(G[jj], x, k) + shift
                        loss += _tile_loss(ct, pred, m, implicit)
                row_loss[u] = loss
    return breakdowns.sum()
