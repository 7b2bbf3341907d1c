"""Solver pieces shared by several models: initial factors, the ALS solver choice and weighted-ALS epochs.

Arrays in, arrays out, no model object: :class:`WeightedALS` runs the epochs of
:class:`~mfrec.models.implicit.ImplicitALS` and of a rating model's "will pick" part
(:mod:`mfrec.models.pick`); :func:`init_factors` draws every factor model's starting point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from mfrec.exceptions import TrainingError
from mfrec.kernels.als import balanced_chunks
from mfrec.kernels.implicit_als import gram, implicit_cg_step, implicit_cholesky_step, implicit_loss
from mfrec.kernels.rows import aligned_zeros
from mfrec.kernels.sparse import row_pointers, scatter_transpose

#: From this many factors up, solver="auto" takes CG: its warm-started steps match the exact solve's
#: accuracy there (benchmarks/RESULTS.md, ALS section) at O(n k) instead of O(n k^2 + k^3) per row.
AUTO_CG_MIN_FACTORS = 32


def resolve_solver(solver: str, n_factors: int) -> str:
    """The solver ``solver="auto"`` stands for at ``n_factors`` (other values are returned as they are)."""
    if solver != "auto":
        return solver
    return "cg" if n_factors >= AUTO_CG_MIN_FACTORS else "cholesky"


def cg_breakdown_error(model: str, count: int, side: str, regularization: float) -> TrainingError:
    """The error for CG rows that met a non-positive or NaN curvature (issue 11 #12: never silent)."""
    return TrainingError(
        f"{model} diverged: conjugate gradient met a non-positive or NaN curvature on {count} {side} rows, so "
        f"their factors are not a solution (values too large for float32, or a singular system); "
        f"increase regularization (now {regularization}), rescale the values, or use solver='cholesky'"
    )


#: The item side's share of the constant bias regularization: the Biases baseline shrinks users by 5 pseudo-ratings
#: and items by 3, and a factor model's biases are shrunk the same way, so that with its factors at zero it is the
#: baseline.
ITEM_BIAS_SHARE = 0.6


def spread_constants(model: Any, train: Any, rows: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
    """The SGD / Adam kernels' constant terms: (1 / count per user row, per item row, the three constants), or ().

    ``model.constant_regularization`` and the bias penalties of :func:`bias_constants`, in pseudo-ratings,
    spread over each row's ratings; ``rows`` maps original rows to the
    kernel's rows when training renumbers them. () when both are 0: the kernels' old path.
    """
    const, (user_bias, item_bias) = float(model.constant_regularization), bias_constants(model)
    if const == 0.0 and user_bias == 0.0 and item_bias == 0.0:
        return ()
    inverse = []
    for side, (ids, n) in enumerate(((train.user_idx, train.n_users), (train.item_idx, train.n_items))):
        counts = np.bincount(ids, minlength=n)
        out = np.zeros(n, np.float32)
        out[slice(None) if rows is None else rows[side]] = 1.0 / np.maximum(counts, 1)
        inverse.append(out)
    return (*inverse, np.array([const, user_bias, item_bias], np.float32))


def bias_constants(model: Any) -> tuple[float, float]:
    """A model's (user, item) bias penalties in pseudo-ratings: those of its fit, else from its constructor.

    ``bias_regularization_`` is set at fit (:func:`mfrec.models.bias_choice.fit_bias_constants`); a model
    saved before it existed uses ``constant_bias_regularization`` and :data:`ITEM_BIAS_SHARE` of it.
    """
    fitted = getattr(model, "bias_regularization_", None)
    if fitted is not None:
        return float(fitted[0]), float(fitted[1])
    constant = float(getattr(model, "constant_bias_regularization", 0.0))
    return constant, constant * ITEM_BIAS_SHARE


def init_factors(
    rng: np.random.Generator, std: float, n_rows: int, k: int, chunk_rows: int = 1 << 16, *, aligned: bool = False
) -> np.ndarray:
    """float32[n_rows, k] drawn from N(0, std^2): ``rng.normal(0, std, (n_rows, k)).astype(float32)``, same numbers.

    Drawn ``chunk_rows`` rows at a time, so the float64 draw never exists in full
    (512 MB at 1M users and k = 64, the peak of a 100M-rating fit otherwise). ``aligned``:
    drawn straight into :func:`~mfrec.kernels.rows.aligned_zeros` (rows on cache lines,
    zero padding to whole vectors), so the kernels' layout costs no second copy.
    """
    out = aligned_zeros(n_rows, k) if aligned else np.empty((n_rows, k), dtype=np.float32)
    for start in range(0, n_rows, chunk_rows):
        out[start : start + chunk_rows, :k] = rng.normal(0.0, std, (min(chunk_rows, n_rows - start), k))
    return out


def constant_weights(weight: float, n_cells: int) -> np.ndarray:
    """float32[n_cells], every cell ``weight``, in 4 bytes: a read-only view with stride 0.

    >>> constant_weights(2.0, 3).tolist(), constant_weights(2.0, 10**9).nbytes > 4
    ([2.0, 2.0, 2.0], True)
    """
    return np.broadcast_to(np.float32(weight), (n_cells,))


def transpose_pattern(indptr: np.ndarray, indices: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr int64[n_cols+1], indices int32) of the transposed CSR pattern, rows in ascending order.

    >>> transpose_pattern(np.array([0, 2, 3]), np.array([1, 0, 1], np.int32), 2)[1].tolist()
    [0, 0, 1]
    """
    out_indptr = row_pointers(indices, n_cols)
    out_indices = np.empty(indices.shape[0], np.int32)
    scatter_transpose(indptr, indices, out_indptr, out_indices)
    return out_indptr, out_indices


class WeightedALS:
    """The epochs of weighted ALS on ready CSRs: what :class:`ImplicitALS` and the pick ranker both run.

    ``by_user`` / ``by_item``: (indptr int64, indices int32, weights float32) of the
    positives, w = confidence - 1 (:func:`constant_weights` for one shared weight).
    ``solver`` is "cg" or "cholesky" (already resolved); ``label(side, row)`` names a
    row in errors. :meth:`epoch` updates X and Y in place.

    >>> indptr, indices = np.array([0, 2, 3]), np.array([0, 1, 1], np.int32)
    >>> w = constant_weights(2.0, 3)
    >>> sweep = WeightedALS((indptr, indices, w), (*transpose_pattern(indptr, indices, 2), w), 0.1, "cholesky", 3, 1)
    >>> X, Y = np.full((2, 2), 0.1, np.float32), np.full((2, 2), 0.1, np.float32)
    >>> bool(sweep.epoch(X, Y) > 0)
    True
    """

    def __init__(
        self,
        by_user: tuple[np.ndarray, np.ndarray, np.ndarray],
        by_item: tuple[np.ndarray, np.ndarray, np.ndarray],
        regularization: float,
        solver: str,
        cg_steps: int,
        n_threads: int,
        label: Callable[[str, int], str] = lambda side, row: f"row {row}",
    ) -> None:
        self.csrs = {"user": by_user, "item": by_item}
        self.regularization = regularization
        self.solver = solver
        self.cg_steps = cg_steps
        self.label = label
        n_chunks = 16 * n_threads
        self.chunks = {side: balanced_chunks(csr[0], n_chunks) for side, csr in self.csrs.items()}
        self.item_loss = np.zeros(by_item[0].shape[0] - 1, np.float64)

    def half(self, side: str, target: np.ndarray, fixed: np.ndarray, loss: bool = True) -> np.ndarray:
        """Solve every row of ``target`` (the ``side`` factors) with ``fixed`` fixed; returns fixed's Gram matrix."""
        csr, reg = self.csrs[side], np.float32(self.regularization)
        YtY = gram(fixed)
        if self.solver == "cg":
            losses = self.item_loss if side == "item" and loss else np.empty(0, np.float64)
            # Rows of equal cell counts do not cost the same (long rows fall out of cache),
            # so threads take chunks one at a time rather than in fixed halves.
            with numba.parallel_chunksize(1):
                broken = implicit_cg_step(*csr, fixed, YtY, target, reg, self.cg_steps, self.chunks[side], losses)
            if broken:
                raise cg_breakdown_error("implicit ALS", broken, side, self.regularization)
            return YtY
        status = np.zeros(target.shape[0], np.int8)
        implicit_cholesky_step(*csr, fixed, YtY, target, reg, status)
        if status.any():
            row = int(np.flatnonzero(status)[0])
            raise TrainingError(
                f"implicit ALS solve failed for {side} {self.label(side, row)!r} (row {row}); "
                f"increase regularization (now {self.regularization})"
            )
        return YtY

    def epoch(self, X: np.ndarray, Y: np.ndarray, loss: bool = True) -> float:
        """One user half and one item half; the training loss per observed cell (NaN when ``loss`` is False)."""
        self.half("user", X, Y)
        XtX = self.half("item", Y, X, loss)
        if not loss:
            return float("nan")
        # The CG item half measured the loss as it went; the Cholesky path needs a pass.
        by_item = self.csrs["item"]
        data_loss = self.item_loss.sum() if self.solver == "cg" else implicit_loss(*by_item, Y, X, XtX)
        penalty = self.regularization * (
            float(np.square(X, dtype=np.float64).sum()) + float(np.square(Y, dtype=np.float64).sum())
        )
        return (data_loss + penalty) / max(1, len(by_item[1]))
