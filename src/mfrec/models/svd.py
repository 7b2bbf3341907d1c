"""The classical truncated SVD of a mean-imputed rating matrix: a baseline that shows why MF wins."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, svds

from mfrec.data.interactions import Interactions
from mfrec.exceptions import ParameterError
from mfrec.models.auto import AUTO
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.params import N_FACTORS, RANDOM_STATE, RANK_BY, Param
from mfrec.models.registry import registered


@registered
class TruncatedSVD(Recommender):
    r"""Rank-k SVD of the rating matrix with missing cells imputed (Sarwar et al. 2000).

    With ``impute="item"`` every missing cell takes its item's mean and each row is
    then centred by its user's mean; ``impute="user"`` swaps the roles. The filled
    matrix is dense, but it equals a sparse matrix plus a rank-2 term

    .. math:: F - m_u 1^T = M \circ (R - 1 m_i^T) + 1 m_i^T - m_u 1^T,

    so ``svds`` works on a ``LinearOperator`` and the m x n matrix is never built.
    Predictions are :math:`m_u + p_u \cdot q_i` with :math:`P = U\sqrt{S}, Q = V\sqrt{S}`.

    Imputation treats "unrated" as "rated average", which is exactly what MF
    avoids; on sparse data this baseline therefore loses to biased MF, and the
    evaluation table shows by how much.

    Parameters
    ----------
    n_factors : int, default=15
    impute : {"item", "user"}, default="item"
    random_state : int, default=0
        Seed of ARPACK's start vector (makes the result reproducible).
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = TruncatedSVD(n_factors=5).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.item_factors_.shape
    (200, 5)
    """

    _saved_arrays = ("user_factors_", "item_factors_", "singular_values_")

    param_spec = (
        N_FACTORS.but(doc="Rank k of the SVD (< min(users, items)).", search=[2, 5, 10, 15, 25, 40]),
        Param(
            "impute",
            str,
            "Missing cells take the item's mean (centred by users) or the user's.",
            choices=("item", "user"),
            search=["item", "user"],
        ),
        RANDOM_STATE.but(doc="Seed of ARPACK's start vector."),
        RANK_BY,
        AUTO,
    )
    #: What auto=True searches (models/auto.py).
    auto_space = {"n_factors": [2, 5, 10, 15, 25, 40]}

    def __init__(
        self,
        n_factors: int = 15,
        impute: str = "item",
        random_state: int | None = 0,
        *,
        rank_by: str = "pick-like",
        auto: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.impute = impute
        self.random_state = random_state
        self.rank_by = rank_by
        self.auto = auto

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        m, n = train.n_users, train.n_items
        if self.n_factors >= min(m, n):
            raise ParameterError(f"n_factors must be < min(users, items) = {min(m, n)}, got {self.n_factors}")
        mu = float(train.ratings.mean())
        r = train.ratings.astype(np.float64)
        user_mean = np.bincount(train.user_idx, r, m) / np.maximum(np.bincount(train.user_idx, minlength=m), 1)
        item_mean = np.bincount(train.item_idx, r, n) / np.maximum(np.bincount(train.item_idx, minlength=n), 1)
        # "fill" is the mean written into missing cells, "centre" the one subtracted from each cell.
        if self.impute == "item":
            fill_rows, fill_cols = np.ones(m), item_mean  # F = S + 1 m_i^T, centred by user means
            centre_rows, centre_cols = user_mean, np.ones(n)
            sparse_values = r - item_mean[train.item_idx]
        else:
            fill_rows, fill_cols = user_mean, np.ones(n)
            centre_rows, centre_cols = np.ones(m), item_mean
            sparse_values = r - user_mean[train.user_idx]
        S = sp.csr_matrix((sparse_values, (train.user_idx, train.item_idx)), shape=(m, n))

        def matvec(v: np.ndarray) -> np.ndarray:
            v = v.ravel()
            return S @ v + fill_rows * (fill_cols @ v) - centre_rows * (centre_cols @ v)

        def rmatvec(u: np.ndarray) -> np.ndarray:
            u = u.ravel()
            return S.T @ u + fill_cols * (fill_rows @ u) - centre_cols * (centre_rows @ u)

        operator = LinearOperator((m, n), matvec=matvec, rmatvec=rmatvec, dtype=np.float64)
        U, s, Vt = svds(operator, k=self.n_factors, random_state=self.random_state)
        order = np.argsort(-s)
        root = np.sqrt(s[order])
        self.singular_values_ = s[order].astype(np.float32)
        self.user_factors_ = (U[:, order] * root).astype(np.float32)
        self.item_factors_ = (Vt[order].T * root).astype(np.float32)
        self.global_mean_ = mu
        # The centring term becomes a bias: m_u for impute="item", m_i for impute="user".
        self.user_bias_ = ((user_mean - mu) if self.impute == "item" else np.zeros(m)).astype(np.float32)
        self.item_bias_ = ((item_mean - mu) if self.impute == "user" else np.zeros(n)).astype(np.float32)
