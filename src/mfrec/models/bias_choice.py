"""Choosing a rating model's bias penalties on the user's own later ratings.

The users' and items' bias penalties (in pseudo-ratings) that suit one log do not suit another: on the zoo
(benchmarks/RESULTS.md, "Zoo") a 0.04%-dense log wanted 8 and 8, book-crossing 5 and 8, ML-100k 8 and 1,
yahoo-music 1 and 12. Fixed constants (4 for users and 2.4 for items in sgd and als) left sgd, als and nmf
worse than the bias baseline itself on the sparsest log. Bias-only fits cost a few passes over the ratings,
so a model can afford to try a grid of pairs on a held-out slice at every fit.
"""

from __future__ import annotations

import itertools

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.models.baselines import fit_biases
from mfrec.models.holdout import held_out_mask
from mfrec.models.params import Param
from mfrec.models.solvers import ITEM_BIAS_SHARE

#: The constructor parameter of the models that use it (declared here, as AUTO is in models/auto.py).
CHOOSE_BIAS_REGULARIZATION = Param(
    "choose_bias_regularization",
    bool,
    "Choose the user and item bias penalties on held-out ratings (models/bias_choice.py) at each fit.",
)
#: Pseudo-ratings tried for each side (49 pairs).
BIAS_GRID = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0)
#: Share of each user's ratings held out (their latest when the log has timestamps).
HELD_OUT_FRACTION = 0.1
#: Fewer held-out ratings than this: too little evidence to move off the reference.
MIN_HELD_OUT = 200
#: The choice is made on a seeded sample of whole users holding at most this many ratings (30,000 held out):
#: about 2 s of bias fits at most (0.6 s at 100,000 ratings; a 2M sample took 14 s).
MAX_RATINGS = 300_000
#: Standard errors by which a pair must beat the reference on the held-out ratings.
MARGIN_SE = 2.0


def choose_bias_regularization(
    data: Interactions, reference: tuple[float, float], random_state: int | None = 0
) -> tuple[float, float]:
    """(user, item) bias penalties for ``data``: the grid pair that best predicts held-out ratings, or ``reference``.

    Each pair of :data:`BIAS_GRID` x :data:`BIAS_GRID` (and ``reference``) is fitted as a bias model on the rest
    and scored on :data:`HELD_OUT_FRACTION` of each user's ratings, their latest when ``data`` has timestamps
    (:func:`~mfrec.models.holdout.held_out_mask`). The best pair replaces ``reference`` only when its squared
    errors beat the reference's by more than :data:`MARGIN_SE` standard errors (paired, per held-out rating).
    With one standard error sgd lost 0.0075 RMSE on the zoo's ML-100k long-tail subsample, where the best pair
    led sgd's own constants by 1.06 standard errors on 2,600 held-out ratings; the pairs chosen at two (the
    0.04%-dense log 4.3, book-crossing 2.9, amazon-music 2.4, yahoo-music 2.4) all held on the zoo's test ratings.

    Examples
    --------
    >>> from mfrec.data import from_arrays
    >>> data = from_arrays([1, 1, 2, 2], [1, 2, 1, 2], [5.0, 3.0, 4.0, 2.0])
    >>> choose_bias_regularization(data, (4.0, 2.4))  # four ratings: nothing to choose on
    (4.0, 2.4)
    """
    # The grid's scores depend on the data alone: auto's trials, which try other references on one training set,
    # share them (Interactions.derived), and only the reference is fitted again.
    key = ("bias_choice", random_state, data.timestamps is None, data.rating_scale)
    held_out = data.derived(key, lambda: _HeldOutBiases(data, random_state))
    if held_out.target.size < MIN_HELD_OUT:
        return reference
    errors = {reference: held_out.errors(reference), **held_out.grid}  # the reference first: it wins ties
    best = min(errors, key=lambda pair: float(errors[pair].mean()))
    gain = errors[reference] - errors[best]
    standard_error = float(gain.std(ddof=1)) / np.sqrt(gain.size)
    return best if float(gain.mean()) > MARGIN_SE * standard_error else reference


class _HeldOutBiases:
    """The held-out slice of one data set and the squared errors of every grid pair's bias model on it."""

    def __init__(self, data: Interactions, random_state: int | None) -> None:
        rng = np.random.default_rng(random_state)
        if len(data) > MAX_RATINGS:
            data = data.subset(_user_sample(data.user_idx, data.n_users, MAX_RATINGS, rng))
        held = held_out_mask(data, HELD_OUT_FRACTION, rng)
        kept = ~held
        self.rows = (data.user_idx[kept], data.item_idx[kept], data.ratings[kept])
        self.shape = (data.n_users, data.n_items)
        self.mu = float(self.rows[2].mean(dtype=np.float64)) if kept.any() else 0.0
        self.held = (data.user_idx[held], data.item_idx[held])
        self.target = data.ratings[held].astype(np.float64)
        self.scale = data.rating_scale
        enough = self.target.size >= MIN_HELD_OUT
        self.grid = {pair: self.errors(pair) for pair in itertools.product(BIAS_GRID, BIAS_GRID)} if enough else {}

    def errors(self, pair: tuple[float, float]) -> np.ndarray:
        """Squared errors on the held-out ratings of the bias model fitted with ``pair`` on the rest.

        Ten half-steps from zero, as the models' own bias start: warm starts from the previous pair converged
        further than the reference's fit and favoured the grid (anime: 2.2 standard errors where 1.6 is right).
        Clipped to the scale, as the models predict: on a log of mostly 5s that decides between pairs.
        """
        b_u, b_i = fit_biases(*self.rows, self.mu, self.shape, pair)
        users, items = self.held
        return np.square(self.target - np.clip(self.mu + b_u[users] + b_i[items], *self.scale))


def _user_sample(users: np.ndarray, n_users: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """bool mask of the rows of a seeded random set of whole users holding at most ``limit`` ratings."""
    counts = np.bincount(users, minlength=n_users)
    order = rng.permutation(n_users)
    taken = order[: max(1, int(np.searchsorted(np.cumsum(counts[order]), limit, side="right")))]
    chosen = np.zeros(n_users, dtype=bool)
    chosen[taken] = True
    return chosen[users]


def own_bias_constants(model: object) -> tuple[float, float]:
    """The model's own (user, item) bias constants: ``constant_bias_regularization`` and the items' share of it."""
    constant = float(model.constant_bias_regularization)
    return constant, constant * ITEM_BIAS_SHARE


def fit_bias_constants(model: object, train: Interactions) -> tuple[float, float]:
    """Set and return ``model.bias_regularization_``, the (user, item) bias penalties of this fit.

    The model's ``constant_bias_regularization`` for users and :data:`~mfrec.models.solvers.ITEM_BIAS_SHARE` of it
    for items, unless ``choose_bias_regularization`` finds a better pair on held-out ratings.
    """
    reference = pair = own_bias_constants(model)
    if getattr(model, "choose_bias_regularization", False) and getattr(model, "biased", True):
        pair = choose_bias_regularization(train, reference, model.random_state)
    model.bias_regularization_ = np.array(pair, np.float32)
    return pair
