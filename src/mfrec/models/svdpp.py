"""SVD++ (Koren 2008): biased matrix factorization plus the implicit signal of which items a user rated."""

from __future__ import annotations

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.kernels.svdpp import implicit_sums, svdpp_epoch
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.iterative import EarlyStopping
from mfrec.models.params import (
    BIAS_REGULARIZATION,
    EARLY_STOPPING,
    INIT_STD,
    LEARNING_RATE,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    RANK_BY,
    REGULARIZATION,
    Param,
)
from mfrec.models.registry import registered
from mfrec.models.solvers import init_factors

#: Alternating solves for the biases' starting point (the bias baseline converges in fewer).
_BIAS_SWEEPS = 10
#: Training ratings are divided by (scale width) / this: the width of a 1-5 scale.
_REFERENCE_WIDTH = 4.0


@registered
class SVDpp(EarlyStopping, Recommender):
    r"""SVD++: biased matrix factorization whose user vector adds the items the user rated, fitted by SGD.

    Predicts :math:`\hat r_{ui} = \mu + b_u + b_i + q_i \cdot (p_u + |N(u)|^{-1/2} \sum_{j \in N(u)} y_j)`,
    N(u) the items u rated (Koren 2008, eqs. 15-16), by SGD on the squared error plus, per rating,
    :math:`\lambda (\|p_u\|^2 + \|q_i\|^2) + \lambda_y \|y_j\|^2 + \lambda_b (b_u^2 + b_i^2)`, and, per
    row, ``factor_shrinkage`` on :math:`\|p_u\|^2` and :math:`\|q_i\|^2` and ``user_/item_bias_shrinkage``
    on the biases: a row with n ratings is penalised :math:`\lambda n + \beta`, so rows with little
    evidence shrink more (the bias terms are the bias baseline's damped means). Two users who rated
    the same items share the implicit vector, so a user is placed by *what* they rated as well as how.

    An epoch visits the users in a random order and each user's ratings together: the implicit
    sum is formed once per user and every :math:`y_j` is updated once per user with the gradient
    accumulated over the user's ratings (:func:`mfrec.kernels.svdpp.svdpp_epoch`), so an epoch costs
    about three plain SGD epochs, not :math:`|N(u)|` times one. Training is serial (the
    :math:`y_j` are shared by every user who rated j): the same ``random_state`` gives the same model
    whatever ``n_threads`` is, which applies to scoring and the "will pick" ranker. The biases start at
    the minimiser of the bias terms alone (damped means), p and q at N(0, init_std^2), y at zero.

    Ratings are trained in units of a 1-5 scale's width (a 1-10 log's are divided by 2.25), so the
    penalties weigh the same against the error on any scale; the fitted arrays are in rating units.

    After ``fit`` the model stores the effective user factors :math:`p_u + |N(u)|^{-1/2} \sum y_j`
    as ``user_factors_`` (so prediction, ranking, ``similar_*`` and persistence are those of any
    factor model) and the :math:`y_j` as ``implicit_factors_``: ``fold_in`` of a new user takes
    their revealed items as N(u) and solves for :math:`p_u` centred on that implicit sum.
    ``partial_fit`` is refused (refit).

    Defaults: chosen on the five ML-100k folds (mean RMSE 0.902; Surprise's ``SVDpp()`` 0.922 with the
    same scoring) and checked against the bias baseline on zoo logs of other domains, scales and
    densities (``benchmarks/RESULTS.md``, "SVD++").

    Parameters
    ----------
    n_factors : int, default=64
    n_epochs : int, default=60
    learning_rate : float, default=0.007
        Step size for p, q and y.
    regularization : float, default=0.05
        L2 weight on p and q, per rating.
    implicit_regularization : float, default=0.02
        L2 weight on the y_j, per rating; None: ``regularization``.
    bias_regularization : float, default=0.0
        L2 weight on the biases, per rating.
    factor_shrinkage : float, default=5.0
        L2 weight on a row's p (or q) per row, on top of the per-rating one.
    user_bias_shrinkage, item_bias_shrinkage : float, default=5.0, 3.0
        Shrinkage of the biases in pseudo-ratings, as :class:`~mfrec.models.baselines.Biases`.
    bias_learning_rate : float, optional
        Step size for the biases; None: ``learning_rate``.
    lr_decay : float, default=1.0
        Multiplier of both learning rates after each epoch.
    init_std : float, default=0.05
    early_stopping, validation_fraction, patience, restore_best
        As :class:`~mfrec.models.mf.MatrixFactorization` (``patience`` 15, a quarter of the epochs: the
        same plateau, up to 13 epochs without a new best on synth-mnar and ML-100k).
    n_threads : int, optional
        Threads for scoring (training is serial); default all cores.
    random_state : int, default=0
        Seed for the initial factors and the users' order in each epoch.
    rank_by : {"pick-like", "rating"}, default="pick-like"

    Attributes
    ----------
    user_factors_ : float32[n_users, k], the effective user vectors (p_u plus the implicit sum)
    item_factors_ : float32[n_items, k]
    implicit_factors_ : float32[n_items, k], the y_j
    user_bias_, item_bias_, global_mean_, history_, best_epoch_, n_epochs_run_

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = SVDpp(n_factors=8, n_epochs=5).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.recommend(1, n=3)["rank"].tolist()
    [1, 2, 3]
    """

    _saved_arrays = ("user_factors_", "item_factors_", "implicit_factors_")

    param_spec = (
        N_FACTORS.but(search=[16, 32, 64, 128, 256]),
        N_EPOCHS.but(search=(20, 120, "int")),
        LEARNING_RATE.but(search=(0.002, 0.015, "log"), doc="Step size for p, q and y."),
        REGULARIZATION.but(search=(0.01, 0.2, "log"), doc="L2 weight on p and q, per rating."),
        Param(
            "implicit_regularization",
            float,
            "L2 weight on the implicit item factors y_j, per rating; None: regularization.",
            low=0.0,
            search=(0.01, 0.5, "log"),
        ),
        BIAS_REGULARIZATION.but(search=(0.005, 0.2, "log"), doc="L2 weight on the biases, per rating."),
        Param(
            "factor_shrinkage",
            float,
            "L2 weight on a user's p (an item's q) per row, on top of the per-rating one: pseudo-ratings.",
            low=0.0,
            search=(0.1, 20.0, "log"),
        ),
        Param(
            "user_bias_shrinkage",
            float,
            "L2 weight on a user bias per row, in pseudo-ratings (damped means, as the bias baseline).",
            low=0.0,
            search=(0.5, 30.0, "log"),
        ),
        Param(
            "item_bias_shrinkage",
            float,
            "L2 weight on an item bias per row, in pseudo-ratings (damped means, as the bias baseline).",
            low=0.0,
            search=(0.5, 30.0, "log"),
        ),
        Param("bias_learning_rate", float, "Step size for the biases; None: learning_rate.", low=0.0),
        Param(
            "lr_decay",
            float,
            "Multiplier of both learning rates after each epoch (1 = constant).",
            low=0.0,
            high=1.0,
            low_open=True,
            search=[1.0, 0.98, 0.95],
        ),
        INIT_STD.but(search=[0.01, 0.05, 0.1]),
        *EARLY_STOPPING,
        N_THREADS.but(doc="Threads for scoring (training is serial); None: all cores."),
        RANDOM_STATE,
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py), regularization first.
    auto_space = {
        "regularization": (0.01, 0.2, "log"),
        "factor_shrinkage": (0.5, 30.0, "log"),
        "implicit_regularization": (0.005, 0.3, "log"),
        "n_factors": [32, 64, 128],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 60,
        learning_rate: float = 0.007,
        regularization: float = 0.05,
        *,
        implicit_regularization: float | None = 0.02,
        bias_regularization: float = 0.0,
        factor_shrinkage: float = 5.0,
        user_bias_shrinkage: float = 5.0,
        item_bias_shrinkage: float = 3.0,
        bias_learning_rate: float | None = None,
        lr_decay: float = 1.0,
        init_std: float = 0.05,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 15,
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
        self.implicit_regularization = implicit_regularization
        self.bias_regularization = bias_regularization
        self.factor_shrinkage = factor_shrinkage
        self.user_bias_shrinkage = user_bias_shrinkage
        self.item_bias_shrinkage = item_bias_shrinkage
        self.bias_learning_rate = bias_learning_rate
        self.lr_decay = lr_decay
        self.init_std = init_std
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.restore_best = restore_best
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def _fold_in_center(self, item_rows: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The implicit sum |N|^-1/2 sum y_j of a new user's revealed items, the centre of their fold-in solve.

        Items added after fit (``add_items``) have no y_j and count only in |N|.
        """
        if item_rows.size == 0:
            return None
        Y = self.implicit_factors_
        rows = item_rows[item_rows < Y.shape[0]]
        return Y[rows].astype(np.float64).sum(axis=0) / np.sqrt(item_rows.size), 0.0

    def _damped_biases(
        self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, mu: float, n_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The biases' starting point: the minimiser of the bias terms of the objective alone (damped means).

        SGD moves a bias by a learning rate's share of its error per rating, so the bias of an item
        with two ratings would still be far from its value after the epochs that fit the factors; on
        sparse logs that alone cost more than the factors gained. Alternating exact solves, as the bias
        baseline, with the same penalty the epochs apply: ``bias_regularization`` per rating plus the shrinkage.
        """
        counts_u = np.diff(indptr).astype(np.float64)
        counts_i = np.bincount(indices, minlength=n_items).astype(np.float64)
        users = np.repeat(np.arange(counts_u.size), counts_u.astype(np.int64))
        residual = values.astype(np.float64) - mu
        b_u, b_i = np.zeros(counts_u.size), np.zeros(n_items)
        lam = self.bias_regularization
        for _ in range(_BIAS_SWEEPS):
            b_i = np.bincount(indices, residual - b_u[users], n_items) / (
                counts_i * (1 + lam) + self.item_bias_shrinkage + 1e-12
            )
            b_u = np.bincount(users, residual - b_i[indices], counts_u.size) / (
                counts_u * (1 + lam) + self.user_bias_shrinkage + 1e-12
            )
        return b_u.astype(np.float32), b_i.astype(np.float32)

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        n_users, n_items = train.n_users, train.n_items
        self.n_threads_ = resolve_threads(self.n_threads)
        indptr, indices, values = train.user_csr()
        indptr = indptr.astype(np.int64)
        indices = indices.astype(np.int32)
        values = values.astype(np.float32)
        mu = float(values.mean()) if values.size else 0.0
        # Trained on ratings in units of a 1-5 scale's width, so that the defaults mean the same on 1-10 or 0.5-4:
        # with ratings c times larger the squared error grows c^2 times and the penalties only c times.
        low, high = self.rating_scale_
        unit = (high - low) / _REFERENCE_WIDTH if high > low else 1.0
        self.rating_unit_ = unit
        values = ((values - mu) / unit).astype(np.float32)
        P = init_factors(rng, self.init_std, n_users, k)
        Q = init_factors(rng, self.init_std, n_items, k)
        Y = np.zeros((n_items, k), np.float32)
        b_u, b_i = self._damped_biases(indptr, indices, values, 0.0, n_items)
        item_count = np.maximum(np.bincount(indices, minlength=n_items), 1).astype(np.float32)
        # What scoring reads, refreshed after every epoch: P plus the implicit sums, and the biases, in rating units.
        effective = P.copy()
        user_bias, item_bias = b_u * unit, b_i * unit
        lr = [
            self.learning_rate,
            self.bias_learning_rate if self.bias_learning_rate is not None else self.learning_rate,
        ]
        reg = self.regularization
        reg_implicit = reg if self.implicit_regularization is None else self.implicit_regularization

        def refresh() -> None:
            implicit_sums(indptr, indices, Y, effective)
            np.add(effective, P, out=effective)
            np.multiply(effective, np.float32(unit), out=effective)
            np.multiply(b_u, unit, out=user_bias)
            np.multiply(b_i, unit, out=item_bias)

        def step(epoch: int) -> float:
            sq = svdpp_epoch(
                indptr,
                indices,
                values,
                rng.permutation(n_users).astype(np.int32),
                P,
                Q,
                Y,
                b_u,
                b_i,
                item_count,
                np.float32(0.0),
                np.float32(lr[0]),
                np.float32(lr[1]),
                np.float32(reg),
                np.float32(reg_implicit),
                np.float32(self.bias_regularization),
                np.float32(self.factor_shrinkage),
                np.float32(self.user_bias_shrinkage),
                np.float32(self.item_bias_shrinkage),
            )
            lr[0] *= self.lr_decay
            lr[1] *= self.lr_decay
            refresh()
            return float(np.sqrt(sq / max(1, values.size))) * unit

        validation_rmse, snapshot, restore = self._factor_hooks(
            (effective, Q, P, Y, b_u, b_i, user_bias, item_bias), (user_bias, item_bias), np.float32(mu), validation
        )

        def publish() -> None:
            self.global_mean_ = mu
            self.user_factors_ = effective.copy()
            self.item_factors_ = Q.copy()
            self.implicit_factors_ = Y * np.float32(unit)
            self.user_bias_ = user_bias.copy()
            self.item_bias_ = item_bias.copy()

        refresh()
        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, validation_rmse, snapshot, restore, callback, publish, validation)
        publish()
