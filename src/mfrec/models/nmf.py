"""Non-negative matrix factorization of the observed ratings."""

from __future__ import annotations

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError
from mfrec.kernels.als import squared_error
from mfrec.kernels.nmf import nmf_half_step
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.iterative import EarlyStopping
from mfrec.models.params import (
    CONSTANT_REGULARIZATION,
    EARLY_STOPPING,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    RANK_BY,
    REGULARIZATION,
    Param,
)
from mfrec.models.registry import registered


@registered
class NMF(EarlyStopping, Recommender):
    r"""Non-negative MF, :math:`\hat r_{ui} = p_u \cdot q_i` with :math:`p_u, q_i \ge 0`, no biases.

    Fitted by multiplicative updates on the observed ratings only (missing cells
    are not zeros): with the items fixed every user row is updated as

    .. math:: p_{uf} \leftarrow p_{uf} \frac{\sum_i q_{if} r_{ui}}{\sum_i q_{if} \hat r_{ui} + \lambda |I_u| p_{uf}}

    then the items likewise. Each factor is a ratio of non-negative sums times a
    non-negative value, so every factor stays >= 0 after every epoch. Factors are
    interpretable as degrees of membership in k non-negative "tastes".

    With no biases, a prediction for an unknown user or item (the fallback) is
    the mean training rating, ``fallback_rating_[0]``.

    Parameters
    ----------
    n_factors : int, default=20
    n_epochs : int, default=60
    regularization : float, default=0.12
        Weight of the L2 penalty, per rating of the row (Surprise's NMF, k=15 and 0.06, gives 0.967 on the
        ml-100k folds).
    constant_regularization : float, default=5.0
        Added to each row's weight (reg * n + constant, in pseudo-ratings), so a row with few ratings is shrunk.
    shrink_to_mean : bool, default=True
        The penalty pulls a row towards the average row, not towards zero: with no biases, a thin row shrunk to
        zero predicts ratings near 0, below the scale (the old default lost to the bias baseline by 0.13 RMSE on
        ml-100k-keep10 and 0.31 on book-crossing; now 0.002 and 0.08).
    init_low, init_high : float, default=0.0, 1.0
        Factors start uniform in [init_low, init_high] (both >= 0).
    early_stopping, validation_fraction, patience, restore_best
        See :class:`~mfrec.models.iterative.EarlyStopping`.
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = NMF(n_factors=4, n_epochs=5).fit(synthetic(300, 200, 6_000, seed=0))
    >>> bool((model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all())
    True
    """

    _saved_arrays = ("user_factors_", "item_factors_", "fallback_rating_")
    #: fold_in solves a new user's factors by non-negative least squares, with no bias (NMF has none).
    nonnegative_factors = True

    param_spec = (
        N_FACTORS.but(search=[5, 10, 15, 20, 40]),
        N_EPOCHS.but(search=[40, 60, 100]),
        REGULARIZATION.but(doc="L2 weight, per rating of the row.", search=(0.02, 0.5, "log")),
        CONSTANT_REGULARIZATION,
        Param("shrink_to_mean", bool, "Shrink each row towards the average row (not towards zero)."),
        Param("init_low", float, "Factors start uniform in [init_low, init_high].", low=0.0),
        Param("init_high", float, "Upper end of the initial uniform factors.", low="init_low", low_open=True),
        *EARLY_STOPPING,
        N_THREADS,
        RANDOM_STATE,
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py), regularization first.
    auto_space = {
        "regularization": (0.02, 1.0, "log"),
        "n_factors": [5, 10, 20, 40],
    }

    def __init__(
        self,
        n_factors: int = 20,
        n_epochs: int = 60,
        regularization: float = 0.12,
        *,
        constant_regularization: float = 5.0,
        shrink_to_mean: bool = True,
        init_low: float = 0.0,
        init_high: float = 1.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 5,
        restore_best: bool = True,
        n_threads: int | None = None,
        random_state: int | None = 0,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.constant_regularization = constant_regularization
        self.shrink_to_mean = shrink_to_mean
        self.init_low = init_low
        self.init_high = init_high
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.restore_best = restore_best
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        if train.ratings.min() < 0:
            raise DataError(f"NMF needs non-negative ratings; the smallest is {train.ratings.min():g}")
        rng = np.random.default_rng(self.random_state)
        shape_u, shape_i = (train.n_users, self.n_factors), (train.n_items, self.n_factors)
        P = rng.uniform(self.init_low, self.init_high, shape_u).astype(np.float32)
        Q = rng.uniform(self.init_low, self.init_high, shape_i).astype(np.float32)
        zeros_u, zeros_i = np.zeros(train.n_users, np.float32), np.zeros(train.n_items, np.float32)
        by_user = train.user_csr()
        by_item = csr_by_user(train.item_idx, train.user_idx, train.ratings, train.n_items)
        reg, const = np.float32(self.regularization), np.float32(self.constant_regularization)
        seen_u, seen_i = np.diff(by_user[0]) > 0, np.diff(by_item[0]) > 0
        self.n_threads_ = resolve_threads(self.n_threads)

        def step(epoch: int) -> float:
            if self.shrink_to_mean:  # towards the average row, weighted by reg n + constant
                nmf_half_step(*by_user, P, Q, reg, const, P[seen_u].mean(axis=0) if seen_u.any() else None)
                nmf_half_step(*by_item, Q, P, reg, const, Q[seen_i].mean(axis=0) if seen_i.any() else None)
            else:
                nmf_half_step(*by_user, P, Q, reg, const)
                nmf_half_step(*by_item, Q, P, reg, const)
            sq = squared_error(*by_user, P, zeros_u, Q, zeros_i, np.float32(0.0), False)
            return float(np.sqrt(sq / max(1, len(train))))

        self.fallback_rating_ = np.array([train.ratings.mean()], np.float32)
        validation_rmse, snapshot, restore = self._factor_hooks(
            (P, Q), (zeros_u, zeros_i), np.float32(0.0), validation, fallback=float(self.fallback_rating_[0])
        )

        def publish() -> None:
            self.global_mean_ = 0.0
            self.user_factors_, self.item_factors_ = P, Q
            self.user_bias_, self.item_bias_ = zeros_u, zeros_i

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, validation_rmse, snapshot, restore, callback, publish, validation)
        publish()

    def _fits_user_bias(self) -> bool:
        return False

    def _fill_fallback(self, user_rows: np.ndarray, item_rows: np.ndarray, out: np.ndarray) -> None:
        out[(user_rows < 0) | (item_rows < 0)] = self.fallback_rating_[0]
