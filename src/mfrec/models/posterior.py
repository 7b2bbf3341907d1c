"""What a :class:`~mfrec.models.bayesian.BayesianMF` fit keeps of its chains, and the chain that weighs it.

:class:`Samples` collects the kept samples of every chain and publishes their average as the model's arrays: an
average of dot products is the dot product of the concatenated samples scaled by 1/sqrt(S), so the factors are
stacked, while biases, implicit weights and time biases are plain means. :func:`held_out_choice` runs the chains
that choose, on a held-out tenth of the ratings, where the model's chains start (:data:`START_STDS`) and the
weight :func:`mfrec.models.blend.blend_with_biases` mixes the posterior mean and the bias baseline with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.models.baselines import fit_biases
from mfrec.models.blend import blend_weight
from mfrec.models.gibbs import BASELINE_BIAS_REGULARIZATION, Layout, Sampler, noise_bound_precision
from mfrec.models.holdout import held_out_mask

#: The blend with the bias baseline (``blend=True``): its weight is chosen on BLEND_FRACTION of the ratings (each
#: user's latest with timestamps), held out from a chain of its own (burn-in, then BLEND_SWEEPS samples), and kept
#: only when the mix beats that chain's squared errors there by BLEND_MIN_Z standard errors (else 1: the model is
#: the chain's, as with blend=False). Below BLEND_MIN_HELD_OUT held-out ratings the weight stays 1. The baseline is
#: mfrec's own (``Biases()``: 5 and 3 pseudo-ratings).
BLEND_FRACTION = 0.1
BLEND_SWEEPS = 25
BLEND_MIN_HELD_OUT = 200
BLEND_MIN_Z = 2.0
BLEND_BIAS_REGULARIZATION = BASELINE_BIAS_REGULARIZATION
#: The held-out chains' generators: the seed's children under BLEND_KEY + (the start's index in START_STDS) (no
#: chain's seed, (seed, c), can be one).
BLEND_KEY = 1 << 30
#: The factor scales a chain may start from (N(0, std^2)); the first is the reference. The posterior mean after
#: 200 sweeps is a transient that depends on the start (:mod:`mfrec.models.gibbs`): from the shrunk start the
#: factor precisions are still falling at sweep 200, which under-fits a log with many ratings per row and a
#: strong low-rank signal (synth-1pct: zoo RMSE 0.8157 from 0.1, 0.8036 from 0.3; myFM 0.8081), while where rows
#: have a handful of ratings a larger start runs straight to the overfitted stationary posterior (amazon-music
#: 0.8370 from 0.1, 0.8412 from 0.3). One held-out chain per start tells them apart (held-out RMSE 0.8534 vs
#: 0.8285 on synth-1pct, 0.8598 vs 0.9768 on amazon-music), so the fit tries both.
START_STDS = (0.1, 0.3)
#: Standard errors by which a start must beat the reference's blended squared errors on the held-out ratings.
START_MIN_Z = 2.0

State = tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]


def start_state(
    rng: np.random.Generator, shape: tuple[int, int], k: int, implicit: str, std: float = START_STDS[0]
) -> State:
    """A chain's first state ((P, Q), (b_u, b_i), (Y, Z)): factors N(0, std^2), the rest zero; Y / Z None when
    ``implicit`` ("flipped", "user", "none") has no such terms."""
    n_users, n_items = shape
    factors = rng.normal(0.0, std, (n_users, k)), rng.normal(0.0, std, (n_items, k))
    embeddings = (
        np.zeros((n_items, k + 1)) if implicit in ("user", "flipped") else None,
        np.zeros((n_users, k + 1)) if implicit == "flipped" else None,
    )
    return factors, (np.zeros(n_users), np.zeros(n_items)), embeddings


def sample_predictions(sampler: Sampler, user_rows: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
    """The current sample's predictions less the global mean and any time terms; rows < 0 are unknown."""
    users, items = sampler.users, sampler.items
    known_u, known_i = user_rows >= 0, item_rows >= 0
    u, i = np.maximum(user_rows, 0), np.maximum(item_rows, 0)
    P, Q = users.effective()[u], items.effective()[i]
    out = np.where(known_u, users.effective_bias()[u], 0.0)
    out += np.where(known_i, items.effective_bias()[i], 0.0)
    out += np.where(known_u & known_i, np.einsum("ij,ij->i", P, Q), 0.0)
    return out


class Samples:
    """The samples kept from every chain: factors, biases, implicit terms, time biases, noise precisions."""

    def __init__(self) -> None:
        self.kept: dict[str, list[np.ndarray]] = {
            key: [] for key in ("P", "Q", "bu", "bi", "Y", "Z", "Su", "Si", "Bu", "Bi", "t_item", "t_day")
        }
        self.alphas: list[float] = []

    def keep(self, sampler: Sampler) -> None:
        kept, users, items = self.kept, sampler.users, sampler.items
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
        self.alphas.append(sampler.alpha)

    def publish(self, model: Any, day_keys: np.ndarray, counts: tuple[np.ndarray, np.ndarray]) -> None:
        """Set ``model``'s fitted arrays to the samples' average (``counts``: each user's and item's ratings)."""
        kept, n = self.kept, len(self.alphas)
        root = np.float32(1.0 / np.sqrt(n))
        model.n_samples_ = n
        model.noise_precision_ = float(np.mean(self.alphas))
        model.user_factors_ = np.ascontiguousarray(np.concatenate(kept["P"], axis=1) * root)
        model.item_factors_ = np.ascontiguousarray(np.concatenate(kept["Q"], axis=1) * root)
        model.user_bias_ = np.mean(kept["bu"], axis=0).astype(np.float32)
        item_bias = np.mean(kept["bi"], axis=0)
        k = model.n_factors

        def stacked(samples: list[np.ndarray]) -> np.ndarray:  # the factors' concatenated layout
            return np.ascontiguousarray(np.concatenate([x[:, :k] for x in samples], axis=1) * root)

        def mean(samples: list[np.ndarray], column: int | None = None) -> np.ndarray:
            return np.mean([x if column is None else x[:, column] for x in samples], axis=0).astype(np.float32)

        if kept["Y"]:  # Y also gives a new user's implicit sum at fold-in
            model.implicit_item_factors_, model.implicit_item_weights_ = stacked(kept["Y"]), mean(kept["Y"], k)
            model.user_implicit_sums_, model.user_implicit_bias_ = stacked(kept["Su"]), mean(kept["Bu"])
            model.user_implicit_counts_, model.item_implicit_counts_ = (c.astype(np.float32) for c in counts)
        if kept["Z"]:
            model.implicit_user_factors_, model.implicit_user_weights_ = stacked(kept["Z"]), mean(kept["Z"], k)
            model.item_implicit_sums_, model.item_implicit_bias_ = stacked(kept["Si"]), mean(kept["Bi"])
        if kept["t_item"]:
            span = int(model.time_grid_[3])
            item_bin = np.mean(kept["t_item"], axis=0).reshape(len(item_bias), -1)
            item_bias = item_bias + item_bin[:, -1]  # "now": the latest bin
            model.item_time_bias_ = item_bin.astype(np.float32)
            model.user_day_bias_ = np.mean(kept["t_day"], axis=0).astype(np.float32)
            # Users and days as float32 (exact below 2^24), the dtype of every array a saved model holds.
            model.user_day_users_ = (day_keys // span).astype(np.float32)
            model.user_day_days_ = (day_keys % span).astype(np.float32)
        model.item_bias_ = item_bias.astype(np.float32)


@dataclass
class HeldOut:
    """What one held-out chain says: its start, its blend weight, and the squared errors per held-out rating of the
    chain's posterior mean and of its blend (the same when the weight is 1)."""

    std: float
    weight: float
    chain_errors: np.ndarray
    blend_errors: np.ndarray


def held_out_starts(model: Any) -> tuple[float, ...]:
    """The starts ``model``'s held-out chains try: all of :data:`START_STDS` without ``init_std``, else that one when
    blending, else none."""
    if model.init_std is None:
        return START_STDS
    return (float(model.init_std),) if model.blend else ()


def held_out_rows(model: Any, train: Interactions) -> np.ndarray | None:
    """The ratings ``model`` chooses its start and blend weight on (each user's latest 10% with timestamps, else a
    seeded random 10%), or None: nothing to choose (``init_std`` given and ``blend=False``), time effects (their bins
    would differ between the two phases), or fewer than :data:`BLEND_MIN_HELD_OUT` of them."""
    if not held_out_starts(model) or (model.time_effects and train.timestamps is not None):
        return None
    seed = 0 if model.random_state is None else model.random_state
    held = held_out_mask(train, BLEND_FRACTION, np.random.default_rng(seed))
    return held if held.sum() >= BLEND_MIN_HELD_OUT else None


def held_out_choice(model: Any, train: Interactions, held: np.ndarray, callback: Any = None) -> tuple[float, float]:
    """(start std, blend weight) for ``model`` (a BayesianMF being fitted on ``train``): one :func:`held_out_chain`
    per start of :func:`held_out_starts`, the first the reference. Another start replaces it only when its blended
    squared errors beat the reference's by :data:`START_MIN_Z` standard errors of the paired difference. With
    ``model.blend`` off the weight is 1."""
    shared = HeldOutSet.of(model, train, held)  # the chains differ in their start only
    runs = []
    for index, std in enumerate(held_out_starts(model)):
        key = np.random.SeedSequence(model.random_state, spawn_key=(BLEND_KEY + index,))
        runs.append(held_out_chain(model, shared, np.random.default_rng(key), std, callback))
    errors = [run.blend_errors if model.blend else run.chain_errors for run in runs]
    best = 0
    for index in range(1, len(runs)):
        gain = errors[0] - errors[index]
        spread = float(gain.std(ddof=1)) / np.sqrt(gain.size)
        if float(gain.mean()) > START_MIN_Z * spread and errors[index].mean() < errors[best].mean():
            best = index
    return runs[best].std, runs[best].weight if model.blend else 1.0


@dataclass
class HeldOutSet:
    """What every held-out chain of one fit shares: the layout of the ratings outside the held-out ones, and the
    held-out ratings with the bias baseline's predictions of them (fitted on the same ratings), and the noise
    precision's bound on that part (:func:`~mfrec.models.gibbs.noise_bound_precision`)."""

    part: Layout
    shape: tuple[int, int]
    users: np.ndarray
    items: np.ndarray
    truth: np.ndarray
    baseline: np.ndarray
    max_alpha: float

    @classmethod
    def of(cls, model: Any, train: Interactions, held: np.ndarray) -> HeldOutSet:
        shape, keep = (train.n_users, train.n_items), ~held
        users, items, ratings = train.user_idx[keep], train.item_idx[keep], train.ratings[keep]
        part = Layout.of(users, items, ratings, shape)
        user_bias, item_bias = fit_biases(users, items, ratings, part.mu, shape, BLEND_BIAS_REGULARIZATION)
        h_users, h_items = train.user_idx[held], train.item_idx[held]
        baseline = np.clip(part.mu + user_bias[h_users] + item_bias[h_items], *model.rating_scale_)
        max_alpha = noise_bound_precision(part, model.noise_bound, (user_bias, item_bias))
        return cls(part, shape, h_users, h_items, train.ratings[held], baseline, max_alpha)


def held_out_chain(model: Any, data: HeldOutSet, rng: np.random.Generator, std: float, callback: Any = None) -> HeldOut:
    """A chain on the ratings outside the held-out ones, started at ``std``, and its blend weight.

    The chain (``model.burn_in`` sweeps, then :data:`BLEND_SWEEPS` samples) and the bias baseline predict the
    held-out ratings; the weight is the least-squares mix of the two (within [0, 1]) when its squared errors beat
    the chain's by :data:`BLEND_MIN_Z` standard errors of the paired difference, else 1. Each sweep is a
    ``model.history_`` row marked ``blend_phase``.
    """
    part, truth, baseline = data.part, data.truth, data.baseline
    users, items = part.sides(*start_state(rng, data.shape, model.n_factors, model.implicit, std))
    sampler = Sampler(users, items, part.ratings_c, part.mu, [], rng, data.max_alpha)
    total = np.zeros(truth.size)
    for sweep in range(1, model.burn_in + BLEND_SWEEPS + 1):
        started = time.perf_counter()
        sampler.sweep()
        if sweep > model.burn_in:
            total += sample_predictions(sampler, data.users, data.items)
        row = {
            "epoch": len(model.history_) + 1,
            "blend_phase": 1,  # a held-out chain, without the held-out ratings
            "start_std": std,
            "train_rmse": float(np.sqrt(sampler.sse / part.ratings_c.size)),
            "seconds": time.perf_counter() - started,
        }
        model.history_.append(row)
        if callback:
            callback(row)
    posterior = np.clip(part.mu + total / BLEND_SWEEPS, *model.rating_scale_)
    weight = blend_weight(truth, posterior, baseline)
    chain_errors = (truth - posterior) ** 2
    blended_errors = (truth - (weight * posterior + (1.0 - weight) * baseline)) ** 2
    gain = chain_errors - blended_errors
    spread = float(gain.std(ddof=1)) / np.sqrt(gain.size)
    if float(gain.mean()) > BLEND_MIN_Z * spread:
        return HeldOut(std, weight, chain_errors, blended_errors)
    return HeldOut(std, 1.0, chain_errors, chain_errors)
