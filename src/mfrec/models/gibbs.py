"""The Gibbs sampler behind :class:`~mfrec.models.bayesian.BayesianMF`: state, hyper-prior draws and one sweep.

The model (Rendle, Zhang & Koren 2019, "Bayesian timeSVD++ flipped", written as matrix algebra rather
than as a factorization machine):

    r_ui = mu + b_u + b_i + ub_u + ib_i + (p_u + ybar_u) . (q_i + zbar_i) + time terms + noise,
    ybar_u, ub_u = |N(u)|^-1/2 sum_{j in N(u)} (y_j, w_j)      (SVD++: the items u rated)
    zbar_i, ib_i = |M(i)|^-1/2 sum_{v in M(i)} (z_v, x_v)      ("flipped": the users who rated i)

The user and item factors (p, q) share one Normal-Wishart hyper-prior, the implicit embeddings (y, z)
each have their own; biases and implicit weights have Normal-Gamma priors, the noise a Gamma precision:
the sampler learns every regularisation weight, so there is nothing to tune. One prior for p and q,
not one per side, because p . q is unchanged when p grows and q shrinks: with a prior per side the
chain drifts along that ridge where one side has few ratings a row. On book-crossing (1,295 users
with ~48 ratings, 14,684 books mostly rated once) |p|^2 grew from 0.014 to 1.5 over 200 sweeps while
|q|^2 stayed near 0.03, training RMSE fell from 1.46 to 1.00, every once-rated book was fitted exactly
and held-out RMSE ended at 1.4899, worse than the bias baseline's 1.4865; with the shared prior both
stay near 0.03 and it is 1.4671 (myFM's SVD++ flipped: 1.4775).

The default 200 sweeps (factors started at N(0, 0.1^2)) do not reach the stationary distribution on every
log, and the zoo's figures measure that transient. From the shrunk start the factor precisions fall from ~100
and are still falling at sweep 200 (synth-1pct: 9-35 a dimension, ~5-10 once stationary). On synth-1pct
(rank-8 truth, |p|^2 ~ 1.7) that under-fits: starting at 0.2 gives 0.8034, at 0.3 0.8024, against 0.8157.
On amazon-music (median 4 ratings a user, few enough for rank 10 to interpolate the training set) the
stationary posterior itself overfits: started at 0.3 the chain settles at training RMSE 0.30 and held-out
0.8968, and 500 sweeps from 0.1 with the last 150 kept give 0.9020; the 0.8376 at 200 sweeps averages a chain
still on its way there (from 0.2: 0.8798). myFM drifts the same way, only slower (training RMSE 0.55 at sweep
200 against ours 0.47). Each change tried that helps synth-1pct (a larger start, diagonal Normal-Gamma priors
per side as myFM's, a Wishart per side) lost on amazon-music or on other real logs (yahoo-movies, yahoo-music,
book-crossing), hence 0.1 as the reference start; since what suits a log shows on its own held-out ratings, a fit
also runs a held-out chain from 0.3 and starts there when it predicts them better by two standard errors
(:data:`mfrec.models.posterior.START_STDS`: synth-1pct 0.8036).

The stationary posterior itself overfits a log whose rows have a handful of ratings: the noise precision alpha
is drawn from the chain's own training error, which falls as the factors fit those few ratings, so the data weigh
more, and the factors fit them closer still. On amazon-music (median 4 ratings a user) alpha was 4.9 at sweep
200, a training error of 0.45 against 0.84 on the test ratings; myFM's chain does the same, slower (its test RMSE
0.8315 at 200 sweeps, 0.8587 at 400, 0.8765 at 800). So alpha is bounded: at most ``noise_bound`` (1.5) over the
mean squared error the bias baseline leaves of the training ratings, i.e. the model may take no more than a third
of what the biases leave for signal. The bound binds where the drift happens (amazon-music 0.8370 -> 0.8337,
yahoo-movies 0.9313 -> 0.9285) and on few logs besides (synth-dense 0.7460 -> 0.7476, synth-1pct 0.8036 -> 0.8047,
where a rank-8 truth makes the factors worth more than that); ml-100k, jester and boardgames end below it.

Each sweep draws, per side, the hyper-parameters, every row's (factor, bias) jointly (rows in
parallel), then that side's implicit embeddings (one coordinate at a time, the features in turn, see
:func:`~mfrec.kernels.bpmf.sample_implicit`), then each time-bias group, then the noise precision.
Every random number comes from one seeded generator and is drawn outside the kernels, so a seed
gives the same chain for any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfrec.exceptions import TrainingError
from mfrec.kernels.bpmf import (
    group_sums,
    implicit_sums,
    row_moments,
    row_targets,
    sample_implicit,
    sample_rows,
)
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.baselines import fit_biases

DAY = 86_400
_NO_GRAM = np.zeros((0, 0, 0), dtype=np.float64)
_NO_SUMS = np.zeros((0, 0), dtype=np.float64)
_NO_ROWS = np.zeros((0, 0), dtype=np.float64)

#: BayesianMF's default ``noise_bound``: the noise precision stays at most 1.5 / the bias baseline's training MSE
#: (module docstring). Of 1, 1.5 and 2 on twelve zoo logs (benchmarks/RESULTS.md, "Zoo, round six"), 1 was best on
#: nine of the ten real logs but cost jester 0.003 and the rank-8 synthetic logs 0.02; 2 moved only amazon-music.
NOISE_BOUND = 1.5
#: mfrec's bias baseline (``Biases()``): user and item biases shrunk by 5 and 3 pseudo-ratings.
BASELINE_BIAS_REGULARIZATION = (5.0, 3.0)


def normal_wishart(
    rows: np.ndarray, rng: np.random.Generator, k: int, more_rows: np.ndarray = _NO_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, precision) of a factor group's prior drawn given the first k columns of its current rows
    (``rows`` and ``more_rows`` together: users' and items' factors share one prior).

    Normal-Wishart hyper-prior with mu0 = 0, beta0 = 2, W0 = I, nu0 = k (Salakhutdinov & Mnih 2008).
    The Wishart draw is Bartlett's decomposition, in NumPy: scipy.stats costs ~1 ms a call in
    argument handling, which was a tenth of a sweep on ML-100k. The rows' moments come from one compiled
    pass (:func:`~mfrec.kernels.bpmf.row_moments`): stacking, a column mean and a BLAS product cost 0.4 ms
    a call, four calls a sweep.
    """
    n = rows.shape[0] + more_rows.shape[0]
    beta0, nu0 = 2.0, float(k)
    x_bar, scatter = row_moments(rows, more_rows, k)
    w_inv = np.eye(k) + scatter + (beta0 * n / (beta0 + n)) * np.outer(x_bar, x_bar)
    scale = np.linalg.inv(w_inv)
    chol = np.linalg.cholesky((scale + scale.T) / 2)
    df = nu0 + n
    bartlett = np.tril(rng.standard_normal((k, k)), -1)
    bartlett[np.diag_indices(k)] = np.sqrt(rng.chisquare(df - np.arange(k)))
    root = chol @ bartlett
    precision = root @ root.T
    mean_chol = np.linalg.cholesky(np.linalg.inv((beta0 + n) * precision))
    mean = n * x_bar / (beta0 + n) + mean_chol @ rng.standard_normal(k)
    return mean, precision


def bias_prior(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(mean, precision) of a bias group's prior drawn given its values: a Normal-Gamma hyper-prior.

    alpha0 = beta0 = gamma0 = 1, mu0 = 0, as myFM's (Rendle's Bayesian FM) defaults. The mean matters on skewed
    logs, where the typical row's bias is not the global mean's: a row with one rating shrinks towards it.
    """
    n = values.size
    centre = float(values.mean()) if n else 0.0
    spread = float(np.square(values - centre).sum()) + n * centre**2 / (n + 1.0)
    precision = float(rng.gamma(1.0 + (n + 1) / 2.0, 1.0 / (1.0 + spread / 2.0)))
    mean = float(values.sum() / (n + 1.0) + rng.standard_normal() / np.sqrt((n + 1.0) * precision))
    return mean, precision


def gamma_precision(values: np.ndarray, rng: np.random.Generator, a0: float = 1.0, b0: float = 1.0) -> float:
    """A Gamma(a0 + n/2, rate b0 + sum v^2 / 2) draw: the precision of zero-mean Gaussian ``values``."""
    return float(rng.gamma(a0 + values.size / 2.0, 1.0 / (b0 + float(np.square(values).sum()) / 2.0)))


@dataclass
class Side:
    """One side (users or items) of the sampler: its rows' CSR over the other side and its parameters.

    ``order`` maps this CSR's entries to the canonical rating order (the users' CSR); None for the users.
    ``implicit`` (the embeddings this side's rows sum over, one per row of the other side, plus a weight
    column) is None when this side has no implicit terms.
    """

    indptr: np.ndarray
    indices: np.ndarray
    order: np.ndarray | None
    factors: np.ndarray
    bias: np.ndarray
    implicit: np.ndarray | None
    coef: np.ndarray = field(init=False)
    implicit_sum: np.ndarray = field(init=False)
    implicit_bias: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n, k = self.factors.shape
        counts = np.diff(self.indptr).astype(np.float64)
        self.coef = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        self.implicit_sum = np.zeros((n, k))
        self.implicit_bias = np.zeros(n)
        if self.implicit is not None:
            self.gram = np.zeros((n, k + 1, k + 1))
            self.sums = np.zeros((n, k + 1))

    def effective(self) -> np.ndarray:
        """Explicit plus implicit factors: what multiplies the other side's effective factors."""
        return self.factors + self.implicit_sum

    def effective_bias(self) -> np.ndarray:
        return self.bias + self.implicit_bias


@dataclass
class Layout:
    """The ratings in the sampler's canonical order: the users' CSR (stable in input order), the items' CSR
    pointing into it, and each rating's position in the input (``order``)."""

    indptr_u: np.ndarray
    items_c: np.ndarray
    ratings_c: np.ndarray
    users_c: np.ndarray
    indptr_i: np.ndarray
    by_item: np.ndarray
    order: np.ndarray
    mu: float

    @classmethod
    def of(cls, user_idx: np.ndarray, item_idx: np.ndarray, ratings: np.ndarray, shape: tuple[int, int]) -> Layout:
        n_users, n_items = shape
        order = np.argsort(user_idx, kind="stable")
        indptr_u, items_c, ratings_c = csr_by_user(user_idx, item_idx, ratings, n_users)
        by_item = np.argsort(items_c, kind="stable")
        indptr_i = np.zeros(n_items + 1, np.int64)
        np.cumsum(np.bincount(items_c, minlength=n_items), out=indptr_i[1:])
        mu = float(ratings_c.mean())
        return cls(indptr_u, items_c, ratings_c, user_idx[order], indptr_i, by_item, order, mu)

    def bias_mse(self, biases: tuple[np.ndarray, np.ndarray] | None = None) -> float:
        """Mean squared error, on these ratings, of mfrec's bias baseline: (user, item) ``biases`` already fitted
        to them, or fitted here (:data:`BASELINE_BIAS_REGULARIZATION`)."""
        if biases is None:
            shape = (self.indptr_u.size - 1, self.indptr_i.size - 1)
            biases = fit_biases(
                self.users_c, self.items_c, self.ratings_c, self.mu, shape, BASELINE_BIAS_REGULARIZATION
            )
        user_bias, item_bias = biases
        residuals = self.ratings_c - self.mu - user_bias[self.users_c] - item_bias[self.items_c]
        return float(np.mean(residuals**2))

    def sides(
        self, factors: tuple[np.ndarray, np.ndarray], biases: tuple[np.ndarray, np.ndarray], implicit: tuple
    ) -> tuple[Side, Side]:
        """(users, items) over these ratings from a chain's first state; implicit: (Y or None, Z or None), zero."""
        users = Side(self.indptr_u, self.items_c, None, factors[0], biases[0], implicit[0])
        items = Side(
            self.indptr_i, self.users_c[self.by_item].astype(np.int32), self.by_item, factors[1], biases[1], implicit[1]
        )
        return users, items


@dataclass
class BiasGroup:
    """A group of biases indexed per rating (item x time bin, user x day): ``index`` in canonical order."""

    name: str
    index: np.ndarray
    values: np.ndarray


def time_groups(train: Any, layout: Layout, bins: int) -> tuple[list[BiasGroup], np.ndarray, np.ndarray | None]:
    """The (item, time bin) and (user, day) bias groups of ``train`` in ``layout``'s order, the sorted (user, day)
    keys, and the time grid [first day, bin width in days, bins, days spanned]; none with ``bins`` 0 or without
    timestamps."""
    if not bins or train.timestamps is None or len(train) == 0:
        return [], np.zeros(0, np.int64), None
    days = (train.timestamps[layout.order] // DAY).astype(np.int64)
    first, span = int(days.min()), int(days.max() - days.min()) + 1
    bins = min(bins, span)
    width = span / bins
    item_bin = layout.items_c.astype(np.int64) * bins + np.minimum(((days - first) / width).astype(np.int64), bins - 1)
    day_keys, day_index = np.unique(layout.users_c.astype(np.int64) * span + (days - first), return_inverse=True)
    groups = [
        BiasGroup("item-bin", item_bin, np.zeros(train.n_items * bins)),
        BiasGroup("user-day", day_index.astype(np.int64), np.zeros(day_keys.size)),
    ]
    return groups, day_keys, np.array([first, width, bins, span], np.float32)


def time_lookup(
    grid: np.ndarray,
    item_bin: np.ndarray,
    day_keys: np.ndarray,
    day_bias: np.ndarray,
    user_rows: np.ndarray,
    item_rows: np.ndarray,
    timestamps: Any,
) -> np.ndarray:
    """Item-bin plus user-day biases of each (user, item, time) on ``grid`` (:func:`time_groups`' time grid); no
    time means "now" (latest bin, no day)."""
    first, width, bins, span = grid
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


def noise_bound_precision(
    layout: Layout, bound: float | None, biases: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """The highest noise precision a chain on ``layout``'s ratings may draw: ``bound`` over the mean squared error
    that mfrec's bias baseline (``biases`` when already fitted there) leaves of them (None: no bound)."""
    if bound is None:
        return float(np.inf)
    return float(bound / max(layout.bias_mse(biases), 1e-12))


class Sampler:
    """The chain's state and its sweep. Arrays are float64 (the conditionals' sums are long)."""

    def __init__(
        self,
        users: Side,
        items: Side,
        ratings: np.ndarray,
        mu: float,
        groups: list[BiasGroup],
        rng: np.random.Generator,
        max_alpha: float = np.inf,
    ) -> None:
        self.users, self.items, self.groups, self.rng = users, items, groups, rng
        self.max_alpha = max_alpha
        self.centred = ratings.astype(np.float64) - mu  # canonical (users' CSR) order
        self.time_terms = np.zeros_like(self.centred)
        self.alpha = 2.0
        self.sse = np.nan
        self._values: tuple[np.ndarray, np.ndarray] | None = None

    def sweep(self) -> None:
        """Draw every parameter once; ``self.sse`` is the training squared error of the new state."""
        if self.groups or self._values is None:  # without time terms the targets' base never changes
            values = self.centred - self.time_terms
            self._values = values, values[self.items.order]
        values, item_values = self._values
        self._side(self.items, self.users, item_values, "item")
        self._side(self.users, self.items, values, "user")
        residuals = self._residuals(values)
        for group in self.groups:
            residuals += group.values[group.index]
            sums, counts = group_sums(residuals, group.index, group.values.size)
            precision = gamma_precision(group.values, self.rng) + self.alpha * counts
            group.values = self.alpha * sums / precision + self.rng.standard_normal(precision.size) / np.sqrt(precision)
            residuals -= group.values[group.index]
        if self.groups:
            self.time_terms = sum(g.values[g.index] for g in self.groups)
        # Not ``residuals @ residuals``: that is a threaded BLAS dot, whose threads cost ~6 ms a sweep on ml-100k
        # next to another busy process (OpenBLAS spins); einsum's own loop does not thread.
        self.sse = float(np.einsum("i,i->", residuals, residuals))
        alpha = float(self.rng.gamma(1.0 + residuals.size / 2.0, 1.0 / (1.0 + self.sse / 2.0)))
        # The bound (noise_bound_precision) truncates alpha's Gamma; with tens of thousands of ratings that Gamma is
        # within a fraction of a percent of its mode, so a draw above the bound is replaced by the bound.
        self.alpha = min(alpha, self.max_alpha)

    def _side(self, own: Side, other: Side, values: np.ndarray, name: str) -> None:
        rng, k = self.rng, own.factors.shape[1]
        other_factors, other_bias = other.effective(), other.effective_bias()
        # One prior for both sides' factors (module docstring), drawn given both as they are now.
        mean, precision = normal_wishart(self.users.factors, rng, k, self.items.factors)
        bias_mean, bias_precision = bias_prior(own.bias, rng)
        mean = np.append(mean, bias_mean)
        noise = rng.standard_normal((own.factors.shape[0], k + 1))
        status = np.zeros(own.factors.shape[0], np.int8)
        gram, sums = (own.gram, own.sums) if own.implicit is not None else (_NO_GRAM, _NO_SUMS)
        sample_rows(
            own.indptr, own.indices, values, own.implicit_bias, other_bias, own.implicit_sum, other_factors, mean,
            precision, bias_precision, self.alpha, noise, own.factors, own.bias, gram, sums, status,
        )  # fmt: skip
        self._check(status, f"a {name}'s (factors, bias)")
        if own.implicit is None:
            return
        mean, precision = normal_wishart(own.implicit, rng, k)
        weight_mean, weight_precision = bias_prior(own.implicit[:, k], rng)
        mean = np.append(mean, weight_mean)
        noise = rng.standard_normal(own.implicit.shape)
        failed = sample_implicit(
            other.indptr, other.indices, own.coef, own.gram, own.sums, own.implicit, mean, precision,
            weight_precision, self.alpha, noise,
        )  # fmt: skip
        if failed >= 0:
            self._check(np.array([failed]), f"an implicit {name} embedding", row=failed)
        implicit_sums(own.indptr, own.indices, own.coef, own.implicit, own.implicit_sum, own.implicit_bias)

    def _residuals(self, values: np.ndarray) -> np.ndarray:
        users, items = self.users, self.items
        out = np.empty_like(values)
        row_targets(
            users.indptr, users.indices, values, users.effective_bias(), items.effective_bias(), users.effective(),
            items.effective(), out,
        )  # fmt: skip
        return out

    @staticmethod
    def _check(status: np.ndarray, what: str, row: int | None = None) -> None:
        if row is None and not status.any():
            return
        where = row if row is not None else int(np.flatnonzero(status)[0])
        raise TrainingError(
            f"Gibbs sweep: the conditional of {what} was not positive definite (row {where}); the sampler diverged"
        )
