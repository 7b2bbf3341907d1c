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
from mfrec.models.blend import blend_weight, blend_with_biases
from mfrec.models.gibbs import BiasGroup, Layout, Sampler
from mfrec.models.holdout import held_out_mask
from mfrec.models.params import N_EPOCHS, N_FACTORS, N_THREADS, RANDOM_STATE, RANK_BY, Param
from mfrec.models.registry import registered

DAY = 86_400
#: With ``n_chains=None`` a fit runs CHAIN_RATINGS // (training ratings) independent chains, 1 to MAX_CHAINS, each
#: keeping every n_chains-th sample (the model is as large as one chain's). Chains settle in different modes of the
#: posterior, and averaging two beat one on every zoo log tried (RMSE, the zoo's splits: ml-100k keeping 10%
#: 1.0062 -> 1.0006, keeping 30% 0.9843 -> 0.9804, long tail 0.9538 -> 0.9527); each costs a fit, so they are
#: spent where fits are cheap: one chain from 50,000 ratings up (ML-100k's folds: one).
CHAIN_RATINGS = 100_000
MAX_CHAINS = 3
#: The blend with the bias baseline (``blend=True``): its weight is chosen on BLEND_FRACTION of the ratings (each
#: user's latest with timestamps), held out from a chain of its own (burn-in, then BLEND_SWEEPS samples), and kept
#: only when the mix beats that chain's squared errors there by BLEND_MIN_Z standard errors (else 1: the model is
#: the chain's, as with blend=False). Below BLEND_MIN_HELD_OUT held-out ratings the weight stays 1. The baseline is
#: mfrec's own (``Biases()``: 5 and 3 pseudo-ratings).
BLEND_FRACTION = 0.1
BLEND_SWEEPS = 25
BLEND_MIN_HELD_OUT = 200
BLEND_MIN_Z = 2.0
BLEND_BIAS_REGULARIZATION = (5.0, 3.0)
#: The blend chain's generator: the seed's child under this key (no chain's seed, (seed, c), can be it).
BLEND_KEY = 1 << 30


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
        a chain of its own (``burn_in`` + 25 sweeps on 90% of the ratings: a fit costs about a third more), and
        kept only when the mix beats the chain there by two standard errors. The posterior's regularisation is
        learned from the ratings it has; on a log whose later ratings drift from the earlier ones it was too weak,
        and the model lost to the baseline (X-Wines split by time: 0.4517 against 0.4451; blended, w = 0.42:
        0.4444). Elsewhere w was 0.5-1 (1 on amazon-music and jester) and the blend gained: yahoo-movies 0.9419
        -> 0.9315 at w = 0.69 (one chain); with two chains as well, book-crossing 1.4672 -> 1.4638 at 0.49,
        boardgames 1.2386 -> 1.2322 at 0.66 (benchmarks/RESULTS.md, Zoo).
        Skipped with ``time_effects`` on dated data.
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
        self.implicit = implicit
        self.time_effects = time_effects
        self.time_bins = time_bins
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def auto_trials(self) -> list[dict[str, Any]]:
        """auto=True's trials after the own fit: half and 1.5 times the sweeps, for where the stationary posterior
        overfits and where 200 sweeps are short (:mod:`mfrec.models.gibbs`). Zoo RMSE (held-out RMSE it chose on):
        amazon-music 0.8376 -> 0.8291 (100; 0.8676 -> 0.8570), synth-1pct 0.8157 -> 0.8064 (300; 0.8315 -> 0.8238)."""
        shorter = max(self.burn_in + 1, self.n_epochs // 2)
        return [{"n_epochs": n} for n in dict.fromkeys((shorter, self.n_epochs * 3 // 2)) if n != self.n_epochs]

    # ------------------------------------------------------------------ fitting

    def chains_for(self, n_ratings: int) -> int:
        """The chains a fit on ``n_ratings`` runs: ``n_chains``, or with None :data:`CHAIN_RATINGS` // n_ratings,
        1 to :data:`MAX_CHAINS`."""
        if self.n_chains is not None:
            return int(self.n_chains)
        return int(min(MAX_CHAINS, max(1, CHAIN_RATINGS // max(1, n_ratings))))

    def planned_epochs(self, n_ratings: int) -> int:
        """The sweeps (``history_`` rows) a fit on ``n_ratings`` runs: the blend's chain when there is one (at
        least :data:`BLEND_MIN_HELD_OUT` held-out ratings), then every chain's (a progress bar's total)."""
        blends = self.blend and n_ratings * BLEND_FRACTION >= BLEND_MIN_HELD_OUT
        return self.chains_for(n_ratings) * self.n_epochs + (self.burn_in + BLEND_SWEEPS if blends else 0)

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        shape = (train.n_users, train.n_items)
        full = Layout.of(train.user_idx, train.item_idx, train.ratings, shape)
        for name in self._optional_saved_arrays:  # a refit without timestamps or implicit terms keeps none of them
            self.__dict__.pop(name, None)
        self.n_threads_ = resolve_threads(self.n_threads)
        self.global_mean_ = mu = full.mu
        self.n_chains_ = chains = self.chains_for(len(train))
        thin = self.thin * chains  # as many samples in all as one chain keeps
        held = self._blend_rows(train)
        kept: dict[str, list[np.ndarray]] = {
            key: [] for key in ("P", "Q", "bu", "bi", "Y", "Z", "Su", "Si", "Bu", "Bi", "t_item", "t_day")
        }
        alphas: list[float] = []
        if validation is not None:
            v_users, v_items = self._validation_rows(validation)
            v_sum = np.zeros(len(validation))
        self.blend_weight_ = 1.0
        with num_threads(self.n_threads):
            for chain in range(chains):
                # Chain 0 is the single chain's seed exactly; the others are seeded from (seed, chain).
                seed = self.random_state if chain == 0 or self.random_state is None else [self.random_state, chain]
                rng = np.random.default_rng(seed)
                if chain == 0 and held is not None:
                    # A chain of its own, without the held-out ratings (its own generator: the chains below are
                    # those of blend=False, whatever the weight).
                    blend_rng = np.random.default_rng(np.random.SeedSequence(self.random_state, spawn_key=(BLEND_KEY,)))
                    self.blend_weight_ = self._held_out_phase(train, held, blend_rng, callback)
                users, items = full.sides(*self._start(rng, shape))
                groups, day_keys = self._time_groups(train, full.order, full.users_c, full.items_c)
                sampler = Sampler(users, items, full.ratings_c, mu, groups, rng)
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
                        self._keep(sampler, kept)
                        alphas.append(sampler.alpha)
                        if validation is not None:
                            v_sum += mu + self._sample_predictions(
                                sampler, day_keys, v_users, v_items, validation.timestamps
                            )
                            mean_pred = np.clip(v_sum / len(alphas), *self.rating_scale_)
                            row["val_rmse"] = float(np.sqrt(np.mean((mean_pred - validation.ratings) ** 2)))
                    row["seconds"] = time.perf_counter() - started
                    self.history_.append(row)
                    if callback:
                        callback(row)
        self._publish(kept, alphas, day_keys, (np.diff(full.indptr_u), np.diff(full.indptr_i)))
        if self.blend_weight_ < 1.0:
            user_bias, item_bias = fit_biases(
                train.user_idx, train.item_idx, train.ratings, mu, shape, BLEND_BIAS_REGULARIZATION
            )
            blend_with_biases(self, self.blend_weight_, user_bias, item_bias)

    def _start(self, rng: np.random.Generator, shape: tuple[int, int]) -> tuple[tuple, tuple, tuple]:
        """A chain's first state ((P, Q), (b_u, b_i), (Y, Z)): factors N(0, 0.1^2), the rest zero."""
        (n_users, n_items), k = shape, self.n_factors
        factors = rng.normal(0.0, 0.1, (n_users, k)), rng.normal(0.0, 0.1, (n_items, k))
        implicit = (
            np.zeros((n_items, k + 1)) if self.implicit in ("user", "flipped") else None,
            np.zeros((n_users, k + 1)) if self.implicit == "flipped" else None,
        )
        return factors, (np.zeros(n_users), np.zeros(n_items)), implicit

    def _blend_rows(self, train: Interactions) -> np.ndarray | None:
        """The ratings the blend weight is chosen on (each user's latest 10% with timestamps, else a seeded random
        10%), or None: ``blend=False``, time effects (their bins would differ between the two phases), or fewer
        than :data:`BLEND_MIN_HELD_OUT` of them."""
        if not self.blend or (self.time_effects and train.timestamps is not None):
            return None
        seed = 0 if self.random_state is None else self.random_state
        held = held_out_mask(train, BLEND_FRACTION, np.random.default_rng(seed))
        return held if held.sum() >= BLEND_MIN_HELD_OUT else None

    def _held_out_phase(
        self, train: Interactions, held: np.ndarray, rng: np.random.Generator, callback: EpochCallback | None
    ) -> float:
        """The blend weight: a chain on the ratings outside ``held`` (burn-in, then :data:`BLEND_SWEEPS` samples)
        and the bias baseline fitted on them predict the held-out ratings; the least-squares mix of the two
        (within [0, 1]) is returned when its squared errors beat the chain's by :data:`BLEND_MIN_Z` standard errors
        of the paired difference, else 1."""
        shape, keep = (train.n_users, train.n_items), ~held
        part = Layout.of(train.user_idx[keep], train.item_idx[keep], train.ratings[keep], shape)
        users, items = part.sides(*self._start(rng, shape))
        sampler = Sampler(users, items, part.ratings_c, part.mu, [], rng)
        h_users, h_items, truth = train.user_idx[held], train.item_idx[held], train.ratings[held]
        total = np.zeros(truth.size)
        for sweep in range(1, self.burn_in + BLEND_SWEEPS + 1):
            started = time.perf_counter()
            sampler.sweep()
            if sweep > self.burn_in:
                total += self._sample_predictions(sampler, np.zeros(0, np.int64), h_users, h_items, None)
            row = {
                "epoch": len(self.history_) + 1,
                "blend_phase": 1,  # the blend's chain, without the held-out ratings
                "train_rmse": float(np.sqrt(sampler.sse / keep.sum())),
                "seconds": time.perf_counter() - started,
            }
            self.history_.append(row)
            if callback:
                callback(row)
        user_bias, item_bias = fit_biases(
            train.user_idx[keep], train.item_idx[keep], train.ratings[keep], part.mu, shape, BLEND_BIAS_REGULARIZATION
        )
        low, high = self.rating_scale_
        posterior = np.clip(part.mu + total / BLEND_SWEEPS, low, high)
        baseline = np.clip(part.mu + user_bias[h_users] + item_bias[h_items], low, high)
        weight = blend_weight(truth, posterior, baseline)
        gain = (truth - posterior) ** 2 - (truth - (weight * posterior + (1.0 - weight) * baseline)) ** 2
        spread = float(gain.std(ddof=1)) / np.sqrt(gain.size)
        return weight if float(gain.mean()) > BLEND_MIN_Z * spread else 1.0

    def _time_groups(
        self, train: Interactions, order: np.ndarray, users_c: np.ndarray, items_c: np.ndarray
    ) -> tuple[list[BiasGroup], np.ndarray]:
        """The (item, time bin) and (user, day) bias groups in canonical order, and the sorted (user, day) keys.

        Sets ``time_grid_`` = [first day, bin width in days, bins, days spanned]; no groups without timestamps.
        """
        if not self.time_effects or train.timestamps is None or len(train) == 0:
            return [], np.zeros(0, np.int64)
        days = (train.timestamps[order] // DAY).astype(np.int64)
        first, span = int(days.min()), int(days.max() - days.min()) + 1
        bins = min(self.time_bins, span)
        width = span / bins
        self.time_grid_ = np.array([first, width, bins, span], np.float32)
        item_bin = items_c.astype(np.int64) * bins + np.minimum(((days - first) / width).astype(np.int64), bins - 1)
        day_keys, day_index = np.unique(users_c.astype(np.int64) * span + (days - first), return_inverse=True)
        groups = [
            BiasGroup("item-bin", item_bin, np.zeros(train.n_items * bins)),
            BiasGroup("user-day", day_index.astype(np.int64), np.zeros(day_keys.size)),
        ]
        return groups, day_keys

    def _keep(self, sampler: Sampler, kept: dict[str, list[np.ndarray]]) -> None:
        users, items = sampler.users, sampler.items
        kept["P"].append(users.effective().astype(np.float32))
        kept["Q"].append(items.effective().astype(np.float32))
        kept["bu"].append(users.effective_bias())
        kept["bi"].append(items.effective_bias())
        for side, embeddings, sums, bias in ((users, "Y", "Su", "Bu"), (items, "Z", "Si", "Bi")):
            if side.implicit is not None:  # kept apart too: a pair asked about later joins the sums (_pair_terms)
                kept[embeddings].append(side.implicit.astype(np.float32))
                kept[sums].append(side.implicit_sum.astype(np.float32))
                kept[bias].append(side.implicit_bias)
        if sampler.groups:
            kept["t_item"].append(sampler.groups[0].values)
            kept["t_day"].append(sampler.groups[1].values)

    def _sample_predictions(
        self,
        sampler: Sampler,
        day_keys: np.ndarray,
        user_rows: np.ndarray,
        item_rows: np.ndarray,
        timestamps: np.ndarray | None,
    ) -> np.ndarray:
        """The current sample's predictions for validation pairs, less the global mean."""
        users, items = sampler.users, sampler.items
        known_u, known_i = user_rows >= 0, item_rows >= 0
        u, i = np.maximum(user_rows, 0), np.maximum(item_rows, 0)
        P, Q = users.effective()[u], items.effective()[i]
        out = np.where(known_u, users.effective_bias()[u], 0.0)
        out += np.where(known_i, items.effective_bias()[i], 0.0)
        out += np.where(known_u & known_i, np.einsum("ij,ij->i", P, Q), 0.0)
        if sampler.groups:
            item_bin = sampler.groups[0].values.reshape(len(items.bias), -1)
            out += self._time_lookup(item_bin, day_keys, sampler.groups[1].values, user_rows, item_rows, timestamps)
        return out

    def _publish(
        self, kept: dict[str, list[np.ndarray]], alphas: list[float], day_keys: np.ndarray, counts: tuple
    ) -> None:
        n = len(alphas)
        root = np.float32(1.0 / np.sqrt(n))
        self.n_samples_ = n
        self.noise_precision_ = float(np.mean(alphas))
        self.user_factors_ = np.ascontiguousarray(np.concatenate(kept["P"], axis=1) * root)
        self.item_factors_ = np.ascontiguousarray(np.concatenate(kept["Q"], axis=1) * root)
        self.user_bias_ = np.mean(kept["bu"], axis=0).astype(np.float32)
        item_bias = np.mean(kept["bi"], axis=0)
        k = self.n_factors

        def stacked(samples: list[np.ndarray]) -> np.ndarray:  # the factors' concatenated layout
            return np.ascontiguousarray(np.concatenate([x[:, :k] for x in samples], axis=1) * root)

        def mean(samples: list[np.ndarray], column: int | None = None) -> np.ndarray:
            return np.mean([x if column is None else x[:, column] for x in samples], axis=0).astype(np.float32)

        if kept["Y"]:  # Y also gives a new user's implicit sum at fold-in
            self.implicit_item_factors_, self.implicit_item_weights_ = stacked(kept["Y"]), mean(kept["Y"], k)
            self.user_implicit_sums_, self.user_implicit_bias_ = stacked(kept["Su"]), mean(kept["Bu"])
            self.user_implicit_counts_, self.item_implicit_counts_ = (c.astype(np.float32) for c in counts)
        if kept["Z"]:
            self.implicit_user_factors_, self.implicit_user_weights_ = stacked(kept["Z"]), mean(kept["Z"], k)
            self.item_implicit_sums_, self.item_implicit_bias_ = stacked(kept["Si"]), mean(kept["Bi"])
        if kept["t_item"]:
            span = int(self.time_grid_[3])
            item_bin = np.mean(kept["t_item"], axis=0).reshape(len(item_bias), -1)
            item_bias = item_bias + item_bin[:, -1]  # "now": the latest bin
            self.item_time_bias_ = item_bin.astype(np.float32)
            self.user_day_bias_ = np.mean(kept["t_day"], axis=0).astype(np.float32)
            # Users and days as float32 (exact below 2^24), the dtype of every array a saved model holds.
            self.user_day_users_ = (day_keys // span).astype(np.float32)
            self.user_day_days_ = (day_keys % span).astype(np.float32)
        self.item_bias_ = item_bias.astype(np.float32)

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
        terms = self._time_lookup(self.item_time_bias_, keys, self.user_day_bias_, user_rows, item_rows, timestamps)
        return terms - np.where(item_rows >= 0, self.item_time_bias_[np.maximum(item_rows, 0), -1], 0.0)

    def _time_lookup(
        self,
        item_bin: np.ndarray,
        day_keys: np.ndarray,
        day_bias: np.ndarray,
        user_rows: np.ndarray,
        item_rows: np.ndarray,
        timestamps: Any,
    ) -> np.ndarray:
        """Item-bin plus user-day biases of each (user, item, time); no time means "now" (latest bin, no day)."""
        first, width, bins, span = self.time_grid_
        bins, span = int(bins), int(span)
        safe_i = np.maximum(item_rows, 0)
        if timestamps is None:
            return np.where(item_rows >= 0, item_bin[safe_i, -1], 0.0)
        days = np.asarray(timestamps, dtype=np.int64) // DAY - int(first)
        which = np.clip((days / width).astype(np.int64), 0, bins - 1)
        out = np.where(item_rows >= 0, item_bin[safe_i, which], 0.0)
        if day_keys.size == 0:
            return out
        keys = user_rows.astype(np.int64) * span + days
        at = np.minimum(np.searchsorted(day_keys, keys), day_keys.size - 1)
        hit = (user_rows >= 0) & (days >= 0) & (days < span) & (day_keys[at] == keys)
        return out + np.where(hit, day_bias[at], 0.0)

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
