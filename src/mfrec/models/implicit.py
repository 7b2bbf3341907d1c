"""Models for implicit feedback (clicks, plays, purchases): weighted ALS and BPR.

Both read the same interactions as the rating models. The value column (a
rating, a play count, a dwell time; 1 when absent) becomes a confidence through
``confidence``, ``alpha`` and ``threshold``; scores are preferences, not ratings,
so ``predict`` returns them unclipped and rating metrics do not apply.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.idmap import plain
from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError
from mfrec.kernels.rows import unpadded
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.iterative import EpochLoop
from mfrec.models.params import (
    CG_STEPS,
    INIT_STD,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    REGULARIZATION,
    SOLVER,
    THRESHOLD,
    Param,
)
from mfrec.models.registry import registered
from mfrec.models.solvers import WeightedALS, constant_weights, init_factors, resolve_solver, transpose_pattern

CONFIDENCES = ("binary", "linear", "log")


class ImplicitRecommender(Recommender):
    """Shared by the implicit-feedback models: turning values into confidences, unclipped scores."""

    predicts_ratings: ClassVar[bool] = False
    score_kind: ClassVar[str] = "preference"
    n_factors: int
    n_epochs: int
    init_std: float
    n_threads: int | None
    random_state: int | None
    confidence: str
    alpha: float
    epsilon: float
    threshold: float | None

    def _positives(self, train: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user rows, item rows, w = confidence - 1) of the interactions that count as positive.

        ``threshold`` turns ratings into a signal: only values >= threshold are
        interactions. The weight is alpha (binary), alpha * v (linear) or
        alpha * log(1 + v / epsilon) (log, for heavy-tailed counts).
        """
        users, items, values = train.user_idx, train.item_idx, train.ratings
        if self.threshold is not None:
            keep = values >= self.threshold
            if not keep.any():
                raise DataError(f"no interaction has a value >= threshold {self.threshold}; lower threshold")
            users, items, values = users[keep], items[keep], values[keep]
        weights = self._weights(values)
        if (weights < 0).any():
            row = int(np.flatnonzero(weights < 0)[0])
            raise DataError(
                f"confidence must not be negative: value {values[row]} gives weight {weights[row]}; "
                "use confidence='binary' or a threshold for signed data"
            )
        return users, items, weights

    def _weights(self, values: np.ndarray) -> np.ndarray:
        """w = confidence - 1 of interaction values (see ``confidence``)."""
        if self.confidence == "binary":
            return np.full(values.shape[0], self.alpha, dtype=np.float32)
        if self.confidence == "linear":
            return (self.alpha * values).astype(np.float32)
        return (self.alpha * np.log1p(values / self.epsilon)).astype(np.float32)

    def _fold_in_weights(self, values: np.ndarray) -> np.ndarray:
        return np.maximum(self._weights(np.asarray(values, dtype=np.float64)), 0.0)


@registered
class ImplicitALS(EpochLoop, ImplicitRecommender):
    r"""Weighted matrix factorization for implicit feedback (Hu, Koren & Volinsky 2008).

    Minimises :math:`\sum_{u,i} c_{ui} (p_{ui} - x_u \cdot y_i)^2 + \lambda (|X|^2 + |Y|^2)`
    over *all* cells: :math:`p_{ui}` is 1 where u interacted with i and 0 elsewhere,
    :math:`c_{ui} = 1 + w_{ui}` where observed and 1 elsewhere. The Gram-matrix
    trick means the zeros cost nothing per cell.

    Parameters
    ----------
    n_factors : int, default=64
    n_epochs : int, default=15
    regularization : float, default=30.0
        Not scaled by counts: it competes with Y^T Y, which grows with the other side.
    alpha : float, default=2.0
        Confidence scale; see ``confidence``.
    confidence : {"binary", "linear", "log"}, default="binary"
        ``w = alpha`` for every interaction, ``alpha * value`` (plays as confidence),
        or ``alpha * log(1 + value / epsilon)``.
    epsilon : float, default=1.0
    threshold : float, optional
        Only values >= threshold are interactions (e.g. 4 to read ratings as "liked").
    solver : {"auto", "cg", "cholesky"}, default="auto"
        "cg": ``cg_steps`` of conjugate gradient warm-started at the previous
        solution (Takacs et al. 2011); "cholesky": the exact solve, O(k^3) per row;
        "auto": "cg" when ``n_factors >= 32``, else "cholesky" (``solver_`` after ``fit``).
    cg_steps : int, default=3
    init_std : float, default=0.01
    n_threads : int, optional
    random_state : int, default=0

    Notes
    -----
    The ``implicit`` library scales confidence as ``alpha * value`` (no 1 +), so its
    ``alpha=a`` on binary data is this model's ``alpha=a - 1``.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = ImplicitALS(n_factors=8, n_epochs=3).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.recommend(model.user_map_.ids[0], n=2).columns.tolist()
    ['user', 'item', 'score', 'rank', 'source', 'score_kind']
    """

    supports_partial_fit = True

    _saved_arrays = ("user_factors_", "item_factors_")

    param_spec = (
        N_FACTORS.but(search=[16, 32, 64, 128]),
        N_EPOCHS.but(search=[10, 15, 25]),
        REGULARIZATION.but(
            doc="L2 weight on the factors, not scaled by counts.", low_open=True, search=(1.0, 100.0, "log")
        ),
        Param(
            "alpha",
            float,
            "Confidence scale: c = 1 + w, w from alpha by `confidence`.",
            low=0.0,
            search=(0.0, 10.0, "float"),
        ),
        Param(
            "confidence",
            str,
            "w = alpha (binary), alpha * value (linear) or alpha * log(1 + value / epsilon).",
            choices=CONFIDENCES,
        ),
        Param("epsilon", float, "Scale of the value in the log confidence.", low=0.0, low_open=True),
        THRESHOLD,
        SOLVER,
        CG_STEPS,
        INIT_STD,
        N_THREADS,
        RANDOM_STATE,
    )

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        regularization: float = 30.0,
        *,
        alpha: float = 2.0,
        confidence: str = "binary",
        epsilon: float = 1.0,
        threshold: float | None = None,
        solver: str = "auto",
        cg_steps: int = 3,
        init_std: float = 0.01,
        n_threads: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.alpha = alpha
        self.confidence = confidence
        self.epsilon = epsilon
        self.threshold = threshold
        self.solver = solver
        self.cg_steps = cg_steps
        self.init_std = init_std
        self.n_threads = n_threads
        self.random_state = random_state

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        by_user, by_item = self._csrs(train)
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        self.n_threads_ = resolve_threads(self.n_threads)
        self.solver_ = resolve_solver(self.solver, k)
        # Row chunks of the draw: no float64 copy of X (512 MB at 1M users and k = 64), the same numbers.
        # CG reads rows on cache lines, padded to whole vectors (see models/als.py); Cholesky keeps k.
        X = init_factors(rng, self.init_std, train.n_users, k, aligned=self.solver_ == "cg")
        Y = init_factors(rng, self.init_std, train.n_items, k, aligned=self.solver_ == "cg")
        sweep = WeightedALS(
            by_user, by_item, self.regularization, self.solver_, self.cg_steps, self.n_threads_, self._row_label
        )

        def publish() -> None:
            self._publish(unpadded(X, k), unpadded(Y, k))

        with num_threads(self.n_threads):
            self._run_epochs(
                self.n_epochs,
                lambda epoch: sweep.epoch(X, Y),
                None,
                None,
                None,
                callback,
                publish,
                validation,
                metric="train_loss",
            )
        publish()

    def _csrs(self, train: Interactions) -> tuple[tuple, tuple]:
        """The (indptr, indices, weights) CSRs of the positives by user and by item.

        Binary confidence on every interaction (the default) needs no copy: the by-user
        CSR is the training data's own and every cell shares one weight.
        """
        if self.confidence == "binary" and self.threshold is None:
            indptr, indices, _ = train.user_csr()
            weights = constant_weights(self.alpha, indices.shape[0])
            return (indptr, indices, weights), (*transpose_pattern(indptr, indices, train.n_items), weights)
        users, items, weights = self._positives(train)
        return csr_by_user(users, items, weights, train.n_users), csr_by_user(items, users, weights, train.n_items)

    def _row_label(self, side: str, row: int) -> str:
        return plain((self.user_map_ if side == "user" else self.item_map_).to_ids([row])[0])

    def _fold_in_regularization(self) -> tuple[float, float]:
        return float(self.regularization), 0.0

    def _publish(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.global_mean_ = 0.0
        self.user_factors_, self.item_factors_ = X, Y
        self.user_bias_ = np.zeros(X.shape[0], np.float32)
        self.item_bias_ = np.zeros(Y.shape[0], np.float32)
