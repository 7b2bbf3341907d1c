"""The one conjugate-gradient half-step, shared by explicit and implicit ALS.

Solves each row's system (B + sum_j w_j z_j z_j^T + Lambda) x = sum_j c_j z_j (the terms are defined in
:mod:`mfrec.kernels.normal_equations`) by ``cg_steps`` of conjugate gradient warm-started at the row's
current solution (Takacs, Pilaszy & Tikk 2011). The matrix is never formed: a step costs O(n k) for a row
with n neighbours (plus k^2 for B), where the exact solve costs O(n k^2 + k^3).

Memory access: a row's neighbour factors are gathered into a contiguous buffer, so the CG steps and the
final loss read them sequentially (from cache for most rows), and the other side's factors are read at random
once per half-step. The initial residual is summed in the gathering pass, from the rows just loaded
(:func:`mfrec.kernels.cg_tiles.gather_residual_tile`), so it costs no pass of its own over the buffer. The
buffer holds at most ``tile`` neighbours (_config.gather_tile): a longer row is streamed through it tile by
tile on every pass. Both paths sum in the same order (tiles are multiples of 4 and the loops take neighbours
four at a time), so a row gets the same bits either way.

The loops over a row's neighbours (:mod:`mfrec.kernels.cg_tiles`) are explicit 512-bit vector code for the
padded CG layout, and ask L2 for the next rows' neighbours while they compute.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from mfrec.kernels._config import CG_TOLERANCE, EXACT_SUM, SCRATCH_PAD
from mfrec.kernels.cg_tiles import RUN_AHEAD, add_sym_times, apply_tile, gather, gather_residual_tile, tile_loss
from mfrec.kernels.linalg import dot
from mfrec.kernels.simd import LANES, aligned_empty


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
                add_sym_times(B, x, r, k)
            for a in range(d):
                r[a] = -r[a]
            for lo in range(0, n, tile):
                m = min(tile, n - lo)
                cursor = gather_residual_tile(
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
                    add_sym_times(B, p, Ap, k)
                for lo in range(0, n, tile):
                    m = min(tile, n - lo)
                    if not resident:
                        gather(indices, values, Y, y_bias, mu, start + lo, m, G, wt, ct, implicit, biased)
                    cursor = apply_tile(G, wt, m, k, p, Ap, dots, track, biased, indices, Y, y_bias, cursor, stop)
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
                    add_sym_times(B, x, Ap, k)
                    loss += dot(x, Ap, k)
                if resident:
                    loss += tile_loss(ct, pred, n, implicit)
                else:
                    for lo in range(0, n, tile):
                        m = min(tile, n - lo)
                        gather(indices, values, Y, y_bias, mu, start + lo, m, G, wt, ct, implicit, biased)
                        shift = x[k] if biased else np.float32(0.0)
                        for jj in range(m):
                            pred[jj] = dot(G[jj], x, k) + shift
                        loss += tile_loss(ct, pred, m, implicit)
                row_loss[u] = loss
    return breakdowns.sum()
