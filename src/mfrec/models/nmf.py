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
from mfrec.models.baselines import bias_start
from mfrec.models.bias_choice import CHOOSE_BIAS_REGULARIZATION, fit_bias_constants
from mfrec.models.iterative import EarlyStopping
from mfrec.models.params import (
    BIASED,
    CONSTANT_BIAS_REGULARIZATION,
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
from mfrec.models.solvers import bias_constants


@registered
class NMF(EarlyStopping, Recommender):
    r"""Non-negative MF over biases, :math:`\hat r_{ui} = \mu + b_u + b_i + p_u \cdot q_i` with :math:`p_u, q_i \ge 0`.

    Fitted by multiplicative updates on the observed ratings only (missing cells
    are not zeros). The biases start at the :class:`~mfrec.models.baselines.Biases`
    baseline's (same constants) and are refitted jointly: in each half-step a row's
    bias is set to its exact minimiser with everything else fixed, then its factors
    fit what the biases leave, :math:`t_{ui} = r_{ui} - \mu - b_u - b_i = t^+ - t^-`:

    .. math:: p_{uf} \leftarrow p_{uf} \frac{\sum_i q_{if} t^+_{ui}}{\sum_i q_{if}(p_u^T q_i + t^-_{ui}) + w_u p_{uf}}

    then the items likewise. Each factor is a ratio of non-negative sums times a
    non-negative value, so every factor stays >= 0 after every epoch. Factors are
    interpretable as degrees of membership in k non-negative "tastes" on top of the biases.

    The factor penalty of a row with n ratings is :math:`w = s\,(\lambda n + c)` towards zero, where s is the
    log's noise level, the RMS of what the biases leave of the training ratings (about 0.9 on ml-100k, 1.27 on
    book-crossing's 1-10 stars, 0.76 on amazon-music). A thin row's factors shrink to zero, so there the model
    is the bias baseline; a row with evidence gains a non-negative taste term. The defaults
    (:math:`\lambda = 0.06, c = 6`) were chosen on the zoo (``benchmarks/bench_zoo.py``): the best mean RMSE gain
    over the bias baseline on book-crossing, yahoo-music, amazon-music, ml-100k, ml-100k-keep30, synth-dense and
    synth-sparse with no log worse than the baseline, then checked on the other seven (anime, jester,
    yahoo-movies, ml-100k-keep10, ml-100k-longtail, synth-1pct, synth-mnar): none worse than the baseline.

    ``biased=False`` fits :math:`p_u \cdot q_i` alone (s = 1); its former defaults were regularization=0.12,
    constant_regularization=5, shrink_to_mean=True, init_high=1.0. With no biases, a prediction for an unknown
    user or item (the fallback) is the mean training rating, ``fallback_rating_[0]``.

    Parameters
    ----------
    n_factors : int, default=20
    n_epochs : int, default=60
    regularization : float, default=0.06
        :math:`\lambda`: weight of the factors' L2 penalty per rating of the row, in units of the noise s.
    constant_regularization : float, default=6.0
        c: added to each row's weight (:math:`s(\lambda n + c)`, in pseudo-ratings), so a thin row is shrunk to
        zero (to the biases).
    biased : bool, default=True
        Fit :math:`\mu + b_u + b_i` under the factor term (False: :math:`p_u \cdot q_i` alone, no noise scale).
    constant_bias_regularization : float, default=5.0
        Shrinkage of the user biases in pseudo-ratings; item biases take 0.6 of it (the Biases baseline's 5 and 3).
    choose_bias_regularization : bool, default=True
        Replace the (user, item) bias constants by the pair that predicts each user's latest 10% of ratings best,
        when it beats them by two standard errors (:func:`~mfrec.models.bias_choice.choose_bias_regularization`);
        the pair used is ``bias_regularization_``.
    shrink_to_mean : bool, default=False
        Pull a row towards the average row, not towards zero (for ``biased=False``: there a thin row shrunk to
        zero predicts ratings near 0, below the scale).
    init_low, init_high : float, default=0.0, 0.3
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
    _optional_saved_arrays = ("noise_scale_",)
    #: fold_in solves a new user's factors by non-negative least squares (and a free bias when biased).
    nonnegative_factors = True

    param_spec = (
        N_FACTORS.but(search=[5, 10, 15, 20, 40]),
        N_EPOCHS.but(search=[40, 60, 100]),
        REGULARIZATION.but(
            doc="L2 weight, per rating of the row, in units of the log's noise.", search=(0.02, 0.5, "log")
        ),
        CONSTANT_REGULARIZATION,
        BIASED.but(doc="Fit mu + b_u + b_i under the non-negative factor term (False: p_u . q_i alone)."),
        CONSTANT_BIAS_REGULARIZATION,
        CHOOSE_BIAS_REGULARIZATION,
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
        regularization: float = 0.06,
        *,
        constant_regularization: float = 6.0,
        biased: bool = True,
        constant_bias_regularization: float = 5.0,
        choose_bias_regularization: bool = True,
        shrink_to_mean: bool = False,
        init_low: float = 0.0,
        init_high: float = 0.3,
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
        self.biased = biased
        self.constant_bias_regularization = constant_bias_regularization
        self.choose_bias_regularization = choose_bias_regularization
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
        biased = bool(self.biased)
        bias_user, bias_item = fit_bias_constants(self, train)
        if biased:  # start from the Biases baseline (same constants): the factor term adds to it
            mu, b_u, b_i = bias_start(train, bias_user, bias_item)
        else:
            mu, b_u, b_i = 0.0, np.zeros(train.n_users, np.float32), np.zeros(train.n_items, np.float32)
        mu = np.float32(mu)
        by_user = train.user_csr()
        by_item = csr_by_user(train.item_idx, train.user_idx, train.ratings, train.n_items)
        # The penalty in units of the log's noise: the RMS of what the biases leave, so the rule is the same on a
        # 1-10 log as on a 1-5 one (ratings x a: the same model x a) and a noisier log shrinks the factors more.
        no_u, no_i = np.zeros((train.n_users, 0), np.float32), np.zeros((train.n_items, 0), np.float32)
        noise = np.sqrt(squared_error(*by_user, no_u, b_u, no_i, b_i, mu, True) / max(1, len(train))) if biased else 1.0
        self.noise_scale_ = np.array([noise], np.float32)
        reg = np.float32(self.regularization * noise)
        const = np.float32(self.constant_regularization * noise)
        seen_u, seen_i = np.diff(by_user[0]) > 0, np.diff(by_item[0]) > 0
        self.n_threads_ = resolve_threads(self.n_threads)

        def half(csr, X, x_bias, Y, y_bias, seen, bias_penalty: float) -> None:
            prior = X[seen].mean(axis=0) if self.shrink_to_mean and seen.any() else None
            if biased:
                nmf_half_step(*csr, X, Y, reg, const, prior, x_bias, y_bias, mu, np.float32(bias_penalty))
            else:
                nmf_half_step(*csr, X, Y, reg, const, prior)

        def step(epoch: int) -> float:
            half(by_user, P, b_u, Q, b_i, seen_u, bias_user)
            half(by_item, Q, b_i, P, b_u, seen_i, bias_item)
            sq = squared_error(*by_user, P, b_u, Q, b_i, mu, biased)
            return float(np.sqrt(sq / max(1, len(train))))

        self.fallback_rating_ = np.array([train.ratings.mean()], np.float32)
        validation_rmse, snapshot, restore = self._factor_hooks(
            (P, Q, b_u, b_i), (b_u, b_i), mu, validation, fallback=None if biased else float(self.fallback_rating_[0])
        )

        def publish() -> None:
            self.global_mean_ = float(mu)
            self.user_factors_, self.item_factors_ = P, Q
            self.user_bias_, self.item_bias_ = b_u, b_i

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, validation_rmse, snapshot, restore, callback, publish, validation)
        publish()

    def _has_biases(self) -> bool:
        # A fit with biases has mu > 0 (ratings >= 0); a model saved before biases existed loads with mu = 0.
        return bool(self.biased) and float(self.global_mean_) != 0.0

    def _noise(self) -> float:
        scale = getattr(self, "noise_scale_", None)
        return float(scale[0]) if scale is not None and self._has_biases() else 1.0

    def _fits_user_bias(self) -> bool:
        return self._has_biases()

    def _fold_in_regularization(self) -> tuple[float, float]:
        return float(self.regularization) * self._noise(), 0.0  # the bias has only its constant, as in training

    def _fold_in_constants(self) -> tuple[float, float]:
        return float(self.constant_regularization) * self._noise(), bias_constants(self)[0]

    def _fill_fallback(self, user_rows: np.ndarray, item_rows: np.ndarray, out: np.ndarray) -> None:
        if not self._has_biases():  # the mean training rating; with biases the known bias terms (the default)
            out[(user_rows < 0) | (item_rows < 0)] = self.fallback_rating_[0]
