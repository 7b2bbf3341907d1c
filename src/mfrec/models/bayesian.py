"""Bayesian MF by Gibbs sampling, with SVD++ implicit terms, their "flipped" twin and time biases."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.kernels.predict import implicit_self_terms
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.baselines import fit_biases
from mfrec.models.blend import blend_with_biases
from mfrec.models.gibbs import NOISE_BOUND, Layout, Sampler, noise_bound_precision, time_groups, time_lookup
from mfrec.models.params import N_EPOCHS, N_FACTORS, N_THREADS, RANDOM_STATE, RANK_BY, Param
from mfrec.models.posterior import (
    BLEND_BIAS_REGULARIZATION,
    BLEND_FRACTION,
    BLEND_MIN_HELD_OUT,
    BLEND_SWEEPS,
    START_STDS,
    Samples,
    held_out_choice,
    held_out_rows,
    held_out_starts,
    sample_predictions,
    start_state,
)
from mfrec.models.registry import registered

#: With ``n_chains=None`` a fit runs CHAIN_RATINGS // (training ratings) independent chains, 1 to MAX_CHAINS, each
#: keeping every n_chains-th sample (the model is as large as one chain's). Chains settle in different modes of the
#: posterior, and averaging two beat one on every zoo log tried (RMSE, the zoo's splits: ml-100k keeping 10%
#: 1.0062 -> 1.0006, keeping 30% 0.9843 -> 0.9804, long tail 0.9538 -> 0.9527); each costs a fit, so they are
#: spent where fits are cheap: one chain from 50,000 ratings up (ML-100k's folds: one).
CHAIN_RATINGS = 100_000
MAX_CHAINS = 3


@registered
class BayesianMF(Recommender):
    r"""Bayesian MF: the posterior predictive mean of Bayesian timeSVD++ "flipped", by Gibbs sampling.

    Model (Rendle, Zhang & Koren 2019, the strongest of their baselines), with N(u) the items u rated
    and M(i) the users who rated i, both in the training data:

    .. math::
        r_{ui} \sim N\big(\mu + b_u + b_i + \bar w_u + \bar x_i + b_{u,\mathrm{day}} + b_{i,\mathrm{bin}}
        + (p_u + |N(u)|^{-1/2} \textstyle\sum_{j \in N(u)} y_j) \cdot (q_i + |M(i)|^{-1/2}
        \textstyle\sum_{v \in M(i)} z_v),\ \alpha^{-1}\big)

    ``implicit="user"`` keeps the SVD++ terms (y, w), ``"flipped"`` (default) adds their item-side
    twin (z, x), ``"none"`` is plain Bayesian MF (Salakhutdinov & Mnih 2008). With
    ``time_effects=True`` and timestamps in the training data, a bias per (user, day) and per (item,
    time bin) joins in. Every group of parameters has a hyper-prior (one Normal-Wishart shared by the user
    and item factors, one per embedding group, Normal-Gamma for biases, Gamma for the noise; why one for
    both sides' factors: :mod:`mfrec.models.gibbs`), so the sampler learns its own
    regularisation: there is no learning rate and nothing to tune, and on thin data it shrinks towards
    the bias model instead of overfitting.

    After ``burn_in`` sweeps every ``thin``-th sample is kept and the prediction is their average.
    An average of dot products is the dot product of the concatenated samples scaled by
    :math:`1/\sqrt{S}`, so ``user_factors_`` (explicit + implicit) and ``item_factors_`` have width
    ``n_factors * S`` and the model predicts, ranks and saves like any factor model. ``predict``
    without timestamps answers for "now": the item's latest time bin and no day bias (a day the
    model has not seen); ``predict(..., timestamps=...)`` uses the day and bin of each timestamp.
    A seed gives the same model for any ``n_threads``.

    Parameters
    ----------
    n_factors : int, default=10
    n_epochs : int, default=200
        Gibbs sweeps in total, burn-in included.
    burn_in : int, default=50
    thin : int, default=1
        Keep every ``thin``-th sample after burn-in (fewer stored factors).
    n_chains : int, optional
        Independent chains (seeds ``random_state`` and ``(random_state, c)``) whose samples are averaged together;
        each keeps every ``thin * n_chains``-th sample, so the model is as large as one chain's. Default:
        ``100,000 // training ratings``, 1 to 3 (one chain from 50,000 ratings up): see :data:`CHAIN_RATINGS`.
    blend : bool, default=True
        Predict ``w * posterior mean + (1 - w) * bias baseline`` (mfrec's ``Biases()``), with ``w`` in [0, 1] the
        least-squares weight on a held-out 10% of the ratings (each user's latest with timestamps), held out from
        a chain of its own (``burn_in`` + 25 sweeps on 90% of the ratings), kept only when the mix beats the chain
        there by two standard errors; skipped with ``time_effects`` on dated data. The posterior's regularisation
        is learned from past ratings: on X-Wines split by time the model lost to the baseline (0.4517 against
        0.4451; blended at w = 0.42, 0.4444). Elsewhere w was 0.5-1 (benchmarks/RESULTS.md, Zoo).
    init_std : float, optional
        The chains' factors start as N(0, init_std^2). Default: 0.1 or 0.3, whichever predicts the held-out 10%
        better (0.3 only by two standard errors; one held-out chain each, the blend's among them: a fit costs
        about 1.7 times its chains on 100,000 ratings), else 0.1. 200 sweeps do not reach the stationary
        posterior, so the start matters: synth-1pct 0.8157 from 0.1, 0.8036 from 0.3; amazon-music 0.8370 from
        0.1, 0.8412 from 0.3 (:data:`~mfrec.models.posterior.START_STDS`).
    noise_bound : float or None, default=1.5
        The noise precision the sampler may draw is at most ``noise_bound`` over the mean squared error the bias
        baseline leaves of the training ratings (None: unbounded). Without it the chain drifts into an overfitted
        posterior on logs with a handful of ratings a row: amazon-music 0.8370 unbounded, 0.8337 bounded
        (:mod:`mfrec.models.gibbs`).
    implicit : {"flipped", "user", "none"}, default="flipped"
    time_effects : bool, default=False
        Biases per (user, day) and (item, time bin) when the training data have timestamps. They pay
        when predictions are asked for known dates (``predict(..., timestamps=...)``): ML-100k u1..u5
        RMSE 0.8796 against 0.8827 without. Off by default because a model asked about "now" gets
        none of the day biases back: on ML-100k split by time per user (each user's last 20% held
        out, predicted without dates) it scored 0.9349 against 0.9252 without time effects.
    time_bins : int, default=30
        Time bins over the training period for the item biases.
    n_threads : int, optional
    random_state : int, default=0
    rank_by : {"pick-like", "rating"}, default="pick-like"

    Attributes
    ----------
    n_samples_ : int
        Samples averaged.
    n_chains_ : int
        Chains run.
    init_std_ : float
        The start the chains ran from.
    blend_weight_ : float
        The posterior mean's weight in the blend (1: no blend).
    noise_precision_ : float
        Posterior mean of alpha (1/alpha is the estimated rating noise variance).
    history_ : per sweep ``train_rmse`` of the current sample and, with a validation set, ``val_rmse``
        of the running posterior mean.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = BayesianMF(n_factors=4, n_epochs=6, burn_in=2).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.n_chains_, model.n_samples_, model.user_factors_.shape[1]  # 6,000 ratings: 3 chains, sweeps 3 and 6
    (3, 6, 24)
    """

    _saved_arrays = ("user_factors_", "item_factors_")
    _optional_saved_arrays = (
        "implicit_item_factors_",
        "implicit_item_weights_",
        "implicit_user_factors_",
        "implicit_user_weights_",
        "user_implicit_sums_",
        "item_implicit_sums_",
        "user_implicit_bias_",
        "item_implicit_bias_",
        "user_implicit_counts_",
        "item_implicit_counts_",
        "time_grid_",
        "item_time_bias_",
        "user_day_bias_",
        "user_day_users_",
        "user_day_days_",
    )

    param_spec = (
        N_FACTORS.but(search=[5, 10, 16, 24]),
        N_EPOCHS.but(doc="Gibbs sweeps in total, burn-in included.", search=[100, 200, 300]),
        Param("burn_in", int, "Sweeps discarded before samples are kept.", low=0, high="n_epochs", high_open=True),
        Param("thin", int, "Keep every thin-th sample after burn-in.", low=1),
        Param(
            "n_chains",
            int,
            "Independent chains averaged (each keeps every (thin x n_chains)-th sample); None: 100,000 // the "
            "training ratings, 1 to 3.",
            low=1,
            optional=True,
        ),
        Param(
            "blend",
            bool,
            "Blend the posterior mean with the bias baseline, by a weight in [0, 1] chosen on a held-out 10% of "
            "the ratings (each user's latest with timestamps).",
        ),
        Param(
            "init_std",
            float,
            "The factors' starting std; None: 0.1 or 0.3, whichever predicts a held-out 10% better (0.3 by 2 SE).",
            low=0,
            low_open=True,
            optional=True,
        ),
        Param(
            "noise_bound",
            float,
            "Upper bound of the noise precision, over 1 / the bias baseline's mean squared error on the training "
            "ratings; None: unbounded.",
            low=0,
            low_open=True,
            optional=True,
        ),
        Param(
            "implicit",
            str,
            "Implicit terms: 'user' (SVD++: the items a user rated), 'flipped' (also the users who rated an "
            "item) or 'none'.",
            choices=("flipped", "user", "none"),
            search=["flipped", "user", "none"],
        ),
        Param("time_effects", bool, "Biases per (user, day) and (item, time bin) when there are timestamps."),
        Param("time_bins", int, "Time bins over the training period for the item time biases.", low=1),
        N_THREADS,
        RANDOM_STATE,
        RANK_BY,
        AUTO,
    )
    #: auto=True tries the chain's length (auto_trials), unpruned: the posterior mean's early RMSE shows the burn-in.
    auto_space = {"n_epochs": [100, 200, 300]}
    auto_prune = False

    def __init__(
        self,
        n_factors: int = 10,
        n_epochs: int = 200,
        burn_in: int = 50,
        *,
        thin: int = 1,
        n_chains: int | None = None,
        blend: bool = True,
        init_std: float | None = None,
        noise_bound: float | None = NOISE_BOUND,
        implicit: str = "flipped",
        time_effects: bool = False,
        time_bins: int = 30,
        n_threads: int | None = None,
        random_state: int | None = 0,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.burn_in = burn_in
        self.thin = thin
        self.n_chains = n_chains
        self.blend = blend
        self.init_std = init_std
        self.noise_bound = noise_bound
        self.implicit = implicit
        self.time_effects = time_effects
        self.time_bins = time_bins
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def auto_trials(self) -> list[dict[str, Any]]:
        """auto=True's trials after the own fit: half and 1.5 times the sweeps, for where the stationary posterior
        overfits and where 200 sweeps are short (:mod:`mfrec.models.gibbs`)."""
        shorter = max(self.burn_in + 1, self.n_epochs // 2)
        return [{"n_epochs": n} for n in dict.fromkeys((shorter, self.n_epochs * 3 // 2)) if n != self.n_epochs]

    # ------------------------------------------------------------------ fitting

    def chains_for(self, n_ratings: int) -> int:
        """The chains a fit on ``n_ratings`` runs: ``n_chains``, or with None :data:`CHAIN_RATINGS` // n_ratings,
        1 to :data:`MAX_CHAINS`."""
        default = min(MAX_CHAINS, max(1, CHAIN_RATINGS // max(1, n_ratings)))
        return int(default if self.n_chains is None else self.n_chains)

    def planned_epochs(self, n_ratings: int) -> int:
        """The sweeps (``history_`` rows) a fit on ``n_ratings`` runs: the held-out chains when there are any (at
        least :data:`BLEND_MIN_HELD_OUT` held-out ratings), then every chain's (a progress bar's total)."""
        held_out = len(held_out_starts(self)) if n_ratings * BLEND_FRACTION >= BLEND_MIN_HELD_OUT else 0
        return self.chains_for(n_ratings) * self.n_epochs + held_out * (self.burn_in + BLEND_SWEEPS)

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        shape = (train.n_users, train.n_items)
        full = Layout.of(train.user_idx, train.item_idx, train.ratings, shape)
        for name in self._optional_saved_arrays:  # a refit without timestamps or implicit terms keeps none of them
            self.__dict__.pop(name, None)
        self.n_threads_ = resolve_threads(self.n_threads)
        self.global_mean_ = mu = full.mu
        self.n_chains_ = chains = self.chains_for(len(train))
        thin = self.thin * chains  # as many samples in all as one chain keeps
        held = held_out_rows(self, train)
        max_alpha = noise_bound_precision(full, self.noise_bound)
        samples = Samples()
        if validation is not None:
            v_users, v_items = self._validation_rows(validation)
            v_sum = np.zeros(len(validation))
        self.blend_weight_, self.init_std_ = 1.0, START_STDS[0] if self.init_std is None else float(self.init_std)
        with num_threads(self.n_threads):
            for chain in range(chains):
                # Chain 0 is the single chain's seed exactly; the others are seeded from (seed, chain).
                seed = self.random_state if chain == 0 or self.random_state is None else [self.random_state, chain]
                rng = np.random.default_rng(seed)
                if chain == 0 and held is not None:
                    # Chains of their own, without the held-out ratings (their own generators: the chains below
                    # are those of blend=False at the start chosen, whatever the weight).
                    self.init_std_, self.blend_weight_ = held_out_choice(self, train, held, callback)
                users, items = full.sides(*start_state(rng, shape, self.n_factors, self.implicit, self.init_std_))
                groups, day_keys, grid = time_groups(train, full, self.time_bins if self.time_effects else 0)
                if grid is not None:
                    self.time_grid_ = grid
                sampler = Sampler(users, items, full.ratings_c, mu, groups, rng, max_alpha)
                for sweep in range(1, self.n_epochs + 1):
                    started = time.perf_counter()
                    sampler.sweep()
                    row: dict[str, Any] = {
                        "epoch": len(self.history_) + 1,  # every sweep run, of each phase and chain
                        "train_rmse": float(np.sqrt(sampler.sse / len(train))),
                    }
                    if chains > 1:
                        row["chain"] = chain + 1
                    # Counted back from the last sweep, so every chain keeps at least that one.
                    if sweep > self.burn_in and (self.n_epochs - sweep) % thin == 0:
                        samples.keep(sampler)
                        if validation is not None:
                            v_sum += mu + self._sample_predictions(
                                sampler, day_keys, v_users, v_items, validation.timestamps
                            )
                            mean_pred = np.clip(v_sum / len(samples.alphas), *self.rating_scale_)
                            row["val_rmse"] = float(np.sqrt(np.mean((mean_pred - validation.ratings) ** 2)))
                    row["seconds"] = time.perf_counter() - started
                    self.history_.append(row)
                    if callback:
                        callback(row)
        samples.publish(self, day_keys, (np.diff(full.indptr_u), np.diff(full.indptr_i)))
        if self.blend_weight_ < 1.0:
            user_bias, item_bias = fit_biases(
                train.user_idx, train.item_idx, train.ratings, mu, shape, BLEND_BIAS_REGULARIZATION
            )
            blend_with_biases(self, self.blend_weight_, user_bias, item_bias)

    def _sample_predictions(
        self, sampler: Sampler, day_keys: np.ndarray, user_rows: np.ndarray, item_rows: np.ndarray, timestamps: Any
    ) -> np.ndarray:
        """The current sample's predictions for validation pairs, less the global mean."""
        out = sample_predictions(sampler, user_rows, item_rows)
        if sampler.groups:
            item_bin = sampler.groups[0].values.reshape(len(sampler.items.bias), -1)
            day_bias = sampler.groups[1].values
            out += time_lookup(self.time_grid_, item_bin, day_keys, day_bias, user_rows, item_rows, timestamps)
        return out

    # ------------------------------------------------------------------ the pair in its implicit sums

    def _pair_terms(self, user_rows: np.ndarray, item_rows: np.ndarray) -> np.ndarray | None:
        """A pair (u, i) asked about joins N(u) and M(i), as every training pair was in them during fit.

        Without it a model fitted with each rating inside its own sums predicts from sums missing the
        pair. Zoo RMSE without -> with (/tmp script, the zoo's splits): yahoo-movies 0.9467 -> 0.9419,
        book-crossing 1.4697 -> 1.4672, amazon-music 0.8390 -> 0.8376, ml-100k 0.9269 -> 0.9256; on ml-100k
        keep 10% split by time it costs 0.0034 (1.0028 -> 1.0062).
        """
        counts = getattr(self, "user_implicit_counts_", None)
        if counts is None:
            return None
        none, nothing = np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
        flipped = getattr(self, "implicit_user_factors_", None) is not None
        out = np.empty(user_rows.shape[0], np.float32)
        implicit_self_terms(
            user_rows, item_rows, self.user_factors_, self.item_factors_, self.user_implicit_sums_,
            self.item_implicit_sums_ if flipped else none, self.implicit_item_factors_,
            self.implicit_user_factors_ if flipped else none, self.implicit_item_weights_,
            self.implicit_user_weights_ if flipped else nothing, self.user_implicit_bias_,
            self.item_implicit_bias_ if flipped else nothing, counts, self.item_implicit_counts_,
            self.seen_indptr_, self.seen_indices_, out,
        )  # fmt: skip
        return out

    def _set_rows(self, side: str, rows: np.ndarray, factors: np.ndarray, bias: np.ndarray) -> None:
        super()._set_rows(side, rows, factors, bias)
        counts = getattr(self, f"{side}_implicit_counts_", None)
        if counts is not None:  # re-solved rows no longer hold the sampled sums: no pair terms for them
            counts[rows[rows < counts.size]] = -1.0

    # ------------------------------------------------------------------ time-aware prediction

    def _time_terms(self, user_rows: np.ndarray, item_rows: np.ndarray, timestamps: Any) -> np.ndarray | None:
        """What the (user, day) and (item, bin) biases add at ``timestamps`` beyond the "now" in item_bias_."""
        if getattr(self, "time_grid_", None) is None:
            return None
        span = int(self.time_grid_[3])
        keys = self.user_day_users_.astype(np.int64) * span + self.user_day_days_.astype(np.int64)
        terms = time_lookup(
            self.time_grid_, self.item_time_bias_, keys, self.user_day_bias_, user_rows, item_rows, timestamps
        )
        return terms - np.where(item_rows >= 0, self.item_time_bias_[np.maximum(item_rows, 0), -1], 0.0)

    # ------------------------------------------------------------------ fold-in

    def _fold_in_center(self, item_rows: np.ndarray) -> tuple[np.ndarray, float] | None:
        """A new user's implicit sum over the items they revealed: the centre their factors are solved around.

        Items added after fit (``add_items``) have no implicit embedding and count only in |N|.
        """
        Y = getattr(self, "implicit_item_factors_", None)
        if Y is None or item_rows.size == 0:
            return None
        coef = 1.0 / np.sqrt(item_rows.size)
        rows = item_rows[item_rows < Y.shape[0]]
        weights = self.implicit_item_weights_[rows].sum(dtype=np.float64)
        return coef * Y[rows].sum(axis=0, dtype=np.float64), float(coef * weights)
