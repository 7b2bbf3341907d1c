"""Biased matrix factorization trained by stochastic gradient descent ("Funk SVD")."""

from __future__ import annotations

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.kernels.sgd import sgd_epoch
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.baselines import bias_start
from mfrec.models.bias_choice import CHOOSE_BIAS_REGULARIZATION, fit_bias_constants, own_bias_constants
from mfrec.models.blocking import block_layout, grid_size
from mfrec.models.iterative import EarlyStopping
from mfrec.models.params import (
    BIAS_REGULARIZATION,
    BIASED,
    CONSTANT_BIAS_REGULARIZATION,
    CONSTANT_REGULARIZATION,
    EARLY_STOPPING,
    INIT_STD,
    LEARNING_RATE,
    N_BLOCKS,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    RANK_BY,
    REGULARIZATION,
    Param,
)
from mfrec.models.registry import registered
from mfrec.models.solvers import init_factors, spread_constants

# Users whose ratings a block takes in turn (kernels/sgd.py::interleave_user_runs). One epoch, k = 64,
# 2 threads, interleaved rounds in one process: 4 users took 0.215 s at 20M against 0.234 one at a time,
# and 1.03 s against 1.10 at 100M; 2 users took 0.216 and 1.08.
SGD_INTERLEAVE = 4


@registered
class MatrixFactorization(EarlyStopping, Recommender):
    r"""Biased matrix factorization fitted by SGD on the observed ratings only.

    Predicts :math:`\hat r_{ui} = \mu + b_u + b_i + p_u \cdot q_i` and minimises

    .. math:: \sum_{(u,i)} (r_{ui} - \hat r_{ui})^2 + \lambda_p\|p_u\|^2 + \lambda_q\|q_i\|^2
              + \lambda_b (b_u^2 + b_i^2)

    by SGD: for each rating, with :math:`e = r_{ui} - \hat r_{ui}`,
    :math:`b_u \mathrel{+}= \eta_b(e - \lambda_b b_u)`,
    :math:`p_u \mathrel{+}= \eta(e\,q_i - \lambda_p p_u)` and symmetrically for the item.
    The learning rate is multiplied by ``lr_decay`` after every epoch.

    Training is parallel over blocks of users x items that share no rows (LibMF's
    FPSG scheme), so the result for a given ``random_state`` and ``n_blocks`` is
    the same whatever ``n_threads`` is.

    The defaults were chosen by a grid search over the five ml-100k folds
    (``benchmarks/RESULTS.md``): mean RMSE 0.910, MAE 0.715.

    Parameters
    ----------
    n_factors : int, default=128
        Latent dimension k.
    n_epochs : int, default=80
    learning_rate : float, default=0.005
        Step size for the factors.
    regularization : float, default=0.05
        L2 weight on the factors per rating (both sides unless ``user_regularization``/``item_regularization``
        set).
    bias_regularization : float, default=0.0
        L2 weight on the biases per rating.
    constant_regularization, constant_bias_regularization : float, default=3.0, 4.0
        A row's L2 weight beyond the per-rating one, the same for every row however many ratings it has (spread
        over its ratings' updates), so a row with one or two ratings stays near zero. The biases start at the
        :class:`~mfrec.models.baselines.Biases` solution with this constant and have only it (a Gaussian prior's
        penalty does not grow with the row's count): on the zoo's sparsest logs (ml-100k keep 10% / 30%) a
        per-rating bias penalty, or biases grown from zero, left sgd worse than the bias baseline
        (benchmarks/RESULTS.md, "Zoo"). Items take ``ITEM_BIAS_SHARE`` (0.6) of the bias constant.
    choose_bias_regularization : bool, default=True
        Replace the (user, item) bias constants by the pair that predicts each user's latest 10% of ratings best,
        when it beats them by two standard errors (:func:`~mfrec.models.bias_choice.choose_bias_regularization`;
        49 bias-only fits: 0.7 s at 100,000 ratings, at most about 2 s). The pair used is
        ``bias_regularization_``. On the zoo's sparsest log (0.04%) the fixed constants left sgd worse than the bias
        baseline (0.8732 vs 0.8721); the chosen pair (8, 8) gives 0.8698.
    bias_learning_rate : float, optional
        Step size for the biases; defaults to ``learning_rate``.
    user_regularization, item_regularization : float, optional
        Per-side factor regularisation overriding ``regularization`` (formerly ``user_reg``/``item_reg``).
    lr_decay : float, default=1.0
        Multiplier applied to both learning rates after each epoch (1 = constant).
    init_std : float, default=0.05
        Factors start as N(0, init_std^2).
    biased : bool, default=True
        False fits plain :math:`p_u \cdot q_i` (no mean, no biases).
    n_blocks : int, optional
        Grid size B for parallel SGD; by default chosen from the item count and k
        so an item block fits in L2 (at least 8). Results depend on it, not on threads.
    early_stopping, validation_fraction, patience, restore_best
        Stop when validation RMSE has not improved for ``patience`` epochs (on
        ``fit(validation=...)`` or a held-out fraction of train) and keep the best
        epoch's factors; see :class:`~mfrec.models.iterative.EarlyStopping`.
        ``patience`` is 20 (a quarter of the epochs): validation RMSE sits on a plateau
        while the factors grow from their small start, 15-19 epochs without a new best
        on synth-mnar, ML-100k and anime, where a patience of 5 stopped after 6-12.
    n_threads : int, optional
        Threads for training and scoring; default all cores.
    random_state : int, default=0
        Seed for the initial factors and the block layout.
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Attributes
    ----------
    user_factors_ : float32[n_users, k]
    item_factors_ : float32[n_items, k]
    user_bias_, item_bias_ : float32[n_users], float32[n_items]
    global_mean_ : float
    history_ : list of dict, per epoch ``epoch, train_rmse, seconds, (val_rmse)``.
        ``train_rmse`` is measured during the epoch, before each update.
    best_epoch_, n_epochs_run_ : int

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> data = synthetic(300, 200, 6_000, seed=0)
    >>> model = MatrixFactorization(n_factors=8, n_epochs=5).fit(data)
    >>> model.recommend(1, n=3)["rank"].tolist()
    [1, 2, 3]
    """

    supports_partial_fit = True

    _saved_arrays = ("user_factors_", "item_factors_")

    param_spec = (
        N_FACTORS.but(search=[64, 128, 192, 256, 384, 512]),
        N_EPOCHS.but(search=(60, 200, "int")),
        LEARNING_RATE.but(search=(0.002, 0.012, "log")),
        REGULARIZATION.but(doc="L2 weight on the factors, both sides unless user_/item_regularization is set."),
        Param(
            "user_regularization",
            float,
            "L2 weight on user factors; None: regularization.",
            low=0.0,
            search=(0.03, 0.3, "log"),
            aliases=("user_reg",),
        ),
        Param(
            "item_regularization",
            float,
            "L2 weight on item factors; None: regularization.",
            low=0.0,
            search=(0.03, 0.3, "log"),
            aliases=("item_reg",),
        ),
        BIAS_REGULARIZATION.but(search=(0.005, 0.2, "log")),
        CONSTANT_REGULARIZATION,
        CONSTANT_BIAS_REGULARIZATION,
        CHOOSE_BIAS_REGULARIZATION,
        Param(
            "bias_learning_rate",
            float,
            "Step size for the biases; None: learning_rate.",
            low=0.0,
            search=(0.001, 0.02, "log"),
        ),
        Param(
            "lr_decay",
            float,
            "Multiplier of both learning rates after each epoch (1 = constant).",
            low=0.0,
            high=1.0,
            low_open=True,
            search=[1.0, 0.99, 0.98, 0.96],
        ),
        INIT_STD.but(search=[0.01, 0.02, 0.05, 0.1]),
        BIASED,
        N_BLOCKS,
        *EARLY_STOPPING,
        N_THREADS,
        RANDOM_STATE,
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py), regularization first.
    auto_space = {
        "regularization": (0.01, 0.3, "log"),
        "constant_regularization": (0.1, 30.0, "log"),
        "bias_regularization": (0.002, 0.1, "log"),
        "constant_bias_regularization": (0.5, 30.0, "log"),
        "n_factors": [32, 64, 128, 256],
    }

    def __init__(
        self,
        n_factors: int = 128,
        n_epochs: int = 80,
        learning_rate: float = 0.005,
        regularization: float = 0.05,
        *,
        bias_regularization: float = 0.0,
        constant_regularization: float = 3.0,
        constant_bias_regularization: float = 4.0,
        choose_bias_regularization: bool = True,
        bias_learning_rate: float | None = None,
        user_regularization: float | None = None,
        item_regularization: float | None = None,
        lr_decay: float = 1.0,
        init_std: float = 0.05,
        biased: bool = True,
        n_blocks: int | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 20,
        restore_best: bool = True,
        n_threads: int | None = None,
        random_state: int | None = 0,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.constant_regularization = constant_regularization
        self.constant_bias_regularization = constant_bias_regularization
        self.choose_bias_regularization = choose_bias_regularization
        self.bias_learning_rate = bias_learning_rate
        self.user_regularization = user_regularization
        self.item_regularization = item_regularization
        self.lr_decay = lr_decay
        self.init_std = init_std
        self.biased = biased
        self.n_blocks = n_blocks
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.restore_best = restore_best
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def _fold_in_regularization(self) -> tuple[float, float]:
        reg = self.user_regularization if self.user_regularization is not None else self.regularization
        return float(reg), float(self.bias_regularization)

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        n_users, n_items = train.n_users, train.n_items
        n_blocks = grid_size(n_items, k, self.n_blocks, ratings_per_user=len(train) / max(1, n_users))
        self.n_blocks_ = n_blocks
        self.n_threads_ = resolve_threads(self.n_threads)
        # Training works on rows renumbered so each block's users/items are contiguous.
        layout = block_layout(train.user_csr(), n_items, n_blocks, rng, interleave=SGD_INTERLEAVE)
        user_row, item_row = layout.user_row, layout.item_row
        n_ratings = len(layout.values)
        blocked = [layout]  # emptied before publish, so the blocked copy of the ratings is freed before P, Q are copied
        block_error = np.zeros(n_blocks * n_blocks, dtype=np.float64)

        mu = float(train.ratings.mean()) if self.biased else 0.0
        # Rows padded and cache-line aligned for the kernel (kernels/rows.py); the same draws as unpadded,
        # drawn in row chunks so no float64 temporary of the whole matrix exists.
        P = init_factors(rng, self.init_std, n_users, k, aligned=True)
        Q = init_factors(rng, self.init_std, n_items, k, aligned=True)
        b_u = np.zeros(n_users, np.float32)
        b_i = np.zeros(n_items, np.float32)
        reference = own_bias_constants(self)
        chosen = fit_bias_constants(self, train)
        if self.biased:  # from the bias baseline's optimum with the same penalties: SGD refines it
            # Unless a pair was chosen, both sides start at the users' constant (not the items' share of it, which
            # SGD then applies): measured better on the zoo.
            start = chosen if chosen != reference else (reference[0], reference[0])
            _, b_u[user_row], b_i[item_row] = bias_start(train, *start)
        lr = [
            self.learning_rate,
            self.bias_learning_rate if self.bias_learning_rate is not None else self.learning_rate,
        ]
        reg_user = self.regularization if self.user_regularization is None else self.user_regularization
        reg_item = self.regularization if self.item_regularization is None else self.item_regularization
        reg_bias = self.bias_regularization
        spread = spread_constants(self, train, (user_row, item_row))

        def step(epoch: int) -> float:
            (layout,) = blocked
            sgd_epoch(
                layout.users,
                layout.items,
                layout.values,
                layout.block_ptr,
                layout.schedule(rng),
                P,
                Q,
                b_u,
                b_i,
                np.float32(mu),
                np.float32(lr[0]),
                np.float32(lr[1]),
                np.float32(reg_user),
                np.float32(reg_item),
                np.float32(reg_bias),
                np.float32(reg_bias),
                self.biased,
                block_error,
                *spread,
            )
            lr[0] *= self.lr_decay
            lr[1] *= self.lr_decay
            return float(np.sqrt(block_error.sum() / max(1, n_ratings)))

        validation_rmse, snapshot, restore = self._factor_hooks(
            (P, Q, b_u, b_i), (b_u, b_i), np.float32(mu), validation, rows=(user_row, item_row)
        )

        def publish() -> None:  # back to the original row order
            self.global_mean_ = mu
            self.user_factors_ = P[user_row, :k]
            self.item_factors_ = Q[item_row, :k]
            self.user_bias_ = b_u[user_row]
            self.item_bias_ = b_i[item_row]

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, validation_rmse, snapshot, restore, callback, publish, validation)
        blocked.clear()
        del layout
        publish()
