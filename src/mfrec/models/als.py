"""Biased matrix factorization for explicit ratings fitted by alternating least squares."""

from __future__ import annotations

import numba
import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.idmap import plain
from mfrec.data.interactions import Interactions
from mfrec.exceptions import TrainingError
from mfrec.kernels.als import als_cg_step, als_cholesky_step, balanced_chunks, squared_error
from mfrec.kernels.rows import unpadded
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.bias_choice import CHOOSE_BIAS_REGULARIZATION, fit_bias_constants
from mfrec.models.iterative import EarlyStopping
from mfrec.models.params import (
    BIAS_REGULARIZATION,
    BIASED,
    CG_STEPS,
    CONSTANT_BIAS_REGULARIZATION,
    CONSTANT_REGULARIZATION,
    EARLY_STOPPING,
    INIT_STD,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    RANK_BY,
    REGULARIZATION,
    SOLVER,
    Param,
)
from mfrec.models.registry import registered
from mfrec.models.solvers import cg_breakdown_error, init_factors, resolve_solver


@registered
class ALS(EarlyStopping, Recommender):
    r"""Biased MF, :math:`\hat r_{ui} = \mu + b_u + b_i + p_u \cdot q_i`, fitted by alternating least squares.

    Each iteration solves every user's :math:`(p_u, b_u)` as a ridge regression
    with the items fixed, then every item's with the users fixed. Rows are
    independent, so they are solved in parallel and the result is identical for
    any ``n_threads``.

    Parameters
    ----------
    n_factors : int, default=64
    n_epochs : int, default=15
        Full iterations (users then items).
    regularization : float, default=0.08
        L2 weight on the factors; multiplied by the row's rating count when
        ``weighted_regularization`` (ALS-WR, Zhou et al. 2008).
    bias_regularization : float, default=0.0
        L2 weight on the biases, scaled the same way; 0: a bias has only its constant (a Gaussian prior's
        penalty, which does not grow with the row's count, as in the Biases baseline).
    weighted_regularization : bool, default=True
    constant_regularization, constant_bias_regularization : float, default=5.0, 4.0
        Added to each row's weights after the count scaling, in pseudo-ratings: a row's factors are
        shrunk by ``regularization * n + constant_regularization``, its bias by ``bias_regularization * n``
        plus the constant (users) or 3/5 of it (items: the Biases baseline's 5 and 3), so a row with one or
        two ratings stays regularised and, with its factors at zero, the model is the bias baseline. ALS-WR
        alone (0.12 n, bias 0.05 n, the defaults before) lost to the baseline by up to 0.04 RMSE on sparse
        logs (benchmarks/zoo/README.md says which logs chose these). A bias penalty growing with n
        (0.01 n + 5) still lost to the baseline on ml-100k keep 10%; 4 alone beats it on all 14 zoo logs.
    choose_bias_regularization : bool, default=True
        Replace the (user, item) bias constants by the pair that predicts each user's latest 10% of ratings best,
        when it beats them by two standard errors (:func:`~mfrec.models.bias_choice.choose_bias_regularization`);
        the pair used is ``bias_regularization_``.
    auto : bool, default=False
        Tune ``auto_space`` on a held-out 10% with Optuna, then refit on everything (:mod:`mfrec.models.auto`).
    solver : {"auto", "cholesky", "cg"}, default="auto"
        "cholesky" solves each (k+1)-dimensional system exactly, O(n k^2 + k^3)
        per row. "cg" runs ``cg_steps`` of conjugate gradient warm-started at the
        previous solution, O(n k) per step: the choice for large k or large data.
        "auto": "cg" when ``n_factors >= 32`` (as accurate there, measured on the
        ml-100k folds, and 14x faster on 20M ratings), "cholesky" below. The
        solver used is ``solver_`` after ``fit``.
    cg_steps : int, default=2
        CG steps per row and half-step. Warm-started at the previous epoch's solution,
        two steps reach the same accuracy as three at the default 15 epochs (ml-100k
        u1..u5 RMSE 0.9125 against 0.9126, ua/ub 0.9393 against 0.9394, time-ordered
        1.0196 against 1.0197; 20M synthetic held-out RMSE 0.7195 both) for one pass
        over each row's neighbours fewer per half-step.
    biased : bool, default=True
    init_std : float, default=0.1
    early_stopping, validation_fraction, patience, restore_best
        See :class:`~mfrec.models.iterative.EarlyStopping`.
    n_threads : int, optional
    random_state : int, default=0
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = ALS(n_factors=8, n_epochs=5).fit(synthetic(300, 200, 6_000, seed=0))
    >>> len(model.history_)
    5
    """

    supports_partial_fit = True

    _saved_arrays = ("user_factors_", "item_factors_")

    param_spec = (
        N_FACTORS.but(search=[16, 32, 64, 128]),
        N_EPOCHS.but(doc="Full iterations (users then items).", search=[10, 15, 20]),
        REGULARIZATION.but(
            doc="L2 weight on the factors, times the row's rating count if weighted_regularization.",
            search=(0.05, 0.3, "log"),
        ),
        BIAS_REGULARIZATION.but(doc="L2 weight on the biases, scaled like regularization.", search=(0.005, 0.5, "log")),
        Param("weighted_regularization", bool, "Scale regularization by each row's rating count (ALS-WR)."),
        CONSTANT_REGULARIZATION,
        CONSTANT_BIAS_REGULARIZATION,
        CHOOSE_BIAS_REGULARIZATION,
        SOLVER,
        CG_STEPS,
        BIASED,
        INIT_STD,
        *EARLY_STOPPING,
        N_THREADS,
        RANDOM_STATE,
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py), regularization first.
    auto_space = {
        "regularization": (0.01, 0.5, "log"),
        "constant_regularization": (0.5, 50.0, "log"),
        "constant_bias_regularization": (1.0, 30.0, "log"),
        "n_factors": [16, 32, 64, 128],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        regularization: float = 0.08,
        *,
        bias_regularization: float = 0.0,
        weighted_regularization: bool = True,
        constant_regularization: float = 5.0,
        constant_bias_regularization: float = 4.0,
        choose_bias_regularization: bool = True,
        solver: str = "auto",
        cg_steps: int = 2,
        biased: bool = True,
        init_std: float = 0.1,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 3,
        restore_best: bool = True,
        n_threads: int | None = None,
        random_state: int | None = 0,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.weighted_regularization = weighted_regularization
        self.constant_regularization = constant_regularization
        self.constant_bias_regularization = constant_bias_regularization
        self.choose_bias_regularization = choose_bias_regularization
        self.solver = solver
        self.cg_steps = cg_steps
        self.biased = biased
        self.init_std = init_std
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.restore_best = restore_best
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k, biased = self.n_factors, self.biased
        by_user = train.user_csr()
        by_item = csr_by_user(train.item_idx, train.user_idx, train.ratings, train.n_items)
        mu = np.float32(train.ratings.mean() if biased else 0.0)
        b_u = np.zeros(train.n_users, np.float32)
        b_i = np.zeros(train.n_items, np.float32)
        reg, reg_b = np.float32(self.regularization), np.float32(self.bias_regularization)
        weighted = bool(self.weighted_regularization)
        # Per side: the bias penalties of bias_choice (by default the items take ITEM_BIAS_SHARE of the users').
        bias_user, bias_item = fit_bias_constants(self, train)
        const = np.float32(self.constant_regularization)
        consts = {"user": (const, np.float32(bias_user)), "item": (const, np.float32(bias_item))}
        self.n_threads_ = resolve_threads(self.n_threads)
        self.solver_ = solver = resolve_solver(self.solver, k)
        # CG: rows on cache lines, width padded to whole vectors (kernels/rows.py), so a gathered row is four
        # cache lines, not five, and the CG loops have no remainder; the padding stays zero. Cholesky keeps k:
        # its cost grows with the cube of the width. The same draws either way.
        P = init_factors(rng, self.init_std, train.n_users, k, aligned=solver == "cg")
        Q = init_factors(rng, self.init_std, train.n_items, k, aligned=solver == "cg")

        # Many more chunks than threads balance the load; results do not depend on the chunking.
        n_chunks = 16 * self.n_threads_
        chunks = {"user": balanced_chunks(by_user[0], n_chunks), "item": balanced_chunks(by_item[0], n_chunks)}
        item_error = np.zeros(train.n_items, np.float64)

        def half(csr, X, x_bias, Y, y_bias, side: str) -> None:
            if solver == "cg":
                errors = item_error if side == "item" else np.empty(0, np.float64)
                # Chunks of equal rating counts do not cost the same (long rows fall out of
                # cache), so threads take them one at a time rather than in fixed halves.
                with numba.parallel_chunksize(1):
                    broken = als_cg_step(
                        *csr,
                        Y,
                        y_bias,
                        mu,
                        X,
                        x_bias,
                        reg,
                        reg_b,
                        weighted,
                        biased,
                        self.cg_steps,
                        chunks[side],
                        errors,
                        reg_const=consts[side][0],
                        reg_bias_const=consts[side][1],
                    )
                if broken:
                    raise cg_breakdown_error("ALS", broken, side, self.regularization)
                return
            status = np.zeros(X.shape[0], np.int8)
            als_cholesky_step(*csr, Y, y_bias, mu, X, x_bias, reg, reg_b, weighted, biased, status, *consts[side])
            if status.any():
                row = int(np.flatnonzero(status)[0])
                label = plain((self.user_map_ if side == "user" else self.item_map_).to_ids([row])[0])
                raise TrainingError(
                    f"ALS solve failed for {side} {label!r} (row {row}): its system is not positive definite; "
                    f"increase regularization (now {self.regularization})"
                )

        def step(epoch: int) -> float:
            half(by_user, P, b_u, Q, b_i, "user")
            half(by_item, Q, b_i, P, b_u, "item")
            # The item half measured every rating's error at the final state; Cholesky needs a pass.
            if solver == "cg":
                sq = item_error.sum()
            else:
                sq = squared_error(*by_user, P, b_u, Q, b_i, mu, biased)
            return float(np.sqrt(sq / max(1, len(train))))

        validation_rmse, snapshot, restore = self._factor_hooks((P, Q, b_u, b_i), (b_u, b_i), mu, validation)

        def publish() -> None:
            self.global_mean_ = float(mu)
            self.user_factors_, self.item_factors_ = unpadded(P, k), unpadded(Q, k)
            self.user_bias_, self.item_bias_ = b_u, b_i

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, validation_rmse, snapshot, restore, callback, publish, validation)
        publish()
