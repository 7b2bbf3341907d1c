"""Bayesian personalised ranking (Rendle et al. 2009) on implicit feedback, parallel over disjoint blocks."""

from __future__ import annotations

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.kernels.bpr import bpr_epoch, regroup_cells, rows_in_order
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.base import EpochCallback
from mfrec.models.blocking import balanced_groups, grid_size
from mfrec.models.implicit import ImplicitRecommender
from mfrec.models.iterative import EpochLoop
from mfrec.models.params import (
    BIAS_REGULARIZATION,
    INIT_STD,
    LEARNING_RATE,
    N_BLOCKS,
    N_EPOCHS,
    N_FACTORS,
    N_THREADS,
    RANDOM_STATE,
    REGULARIZATION,
    THRESHOLD,
    Param,
)
from mfrec.models.registry import registered
from mfrec.models.solvers import init_factors


@registered
class BPR(EpochLoop, ImplicitRecommender):
    r"""Bayesian personalised ranking (Rendle et al. 2009): learn to rank interacted items first.

    Each step draws a user u, an item i that u interacted with and an item j that
    u did not, and raises :math:`\log \sigma(b_i - b_j + p_u \cdot (q_i - q_j))`.
    An epoch draws as many samples as there are interactions.

    Parameters
    ----------
    n_factors : int, default=64
    n_epochs : int, default=60
    learning_rate : float, default=0.03
    regularization : float, default=0.015
        L2 weight on user and item factors (per sample).
    bias_regularization : float, default=0.002
    negative_sampling : {"uniform", "popularity"}, default="uniform"
        Negatives drawn uniformly among items, or in proportion to their
        interaction counts (harder negatives, pushes popular items down: on
        ML-100k folds it halves NDCG@10, whose relevant items are mostly popular).
        Over the fit the draw covers the whole catalogue; within one epoch it is
        from the positive's item group, a random 1/B of the items drawn again
        every epoch (see ``n_blocks``).
    verify_negatives : bool, default=True
        Redraw a negative the user did interact with (matters on dense data).
    threshold : float, optional
        Only values >= threshold are interactions (e.g. 4 for "liked" ratings).
    init_std : float, default=0.1
    n_blocks : int, optional
        Users and items are split into this many groups for parallel training
        (see :mod:`mfrec.models.blocking`); by default sized so a group's item
        factors fit in L2. The user groups are fixed, the item groups drawn
        again every epoch; 1 is one block, a global sampler on one thread. The
        result depends on it, not on ``n_threads``.
    n_threads : int, optional
    random_state : int, default=0
        Seeds the groups, the initial factors and each block's random stream:
        results are identical for any ``n_threads``.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = BPR(n_factors=8, n_epochs=3).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.history_[-1]["train_auc"] > 0.5
    True
    """

    _saved_arrays = ("user_factors_", "item_factors_")
    # BPR has no confidences: every interaction weighs the same (fold-in's solve reads these).
    confidence = "binary"
    alpha = 0.0
    epsilon = 1.0

    param_spec = (
        N_FACTORS.but(search=[32, 64, 128]),
        N_EPOCHS.but(search=(30, 150, "int")),
        LEARNING_RATE.but(search=(0.005, 0.1, "log")),
        REGULARIZATION.but(doc="L2 weight on user and item factors (per sample).", search=(0.001, 0.05, "log")),
        BIAS_REGULARIZATION.but(doc="L2 weight on the item biases (per sample).", search=(0.0005, 0.05, "log")),
        Param(
            "negative_sampling",
            str,
            "Negatives drawn uniformly or in proportion to item popularity.",
            choices=("uniform", "popularity"),
        ),
        Param("verify_negatives", bool, "Redraw a negative the user did interact with."),
        THRESHOLD,
        INIT_STD,
        N_BLOCKS,
        N_THREADS,
        RANDOM_STATE,
    )

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 60,
        learning_rate: float = 0.03,
        regularization: float = 0.015,
        *,
        bias_regularization: float = 0.002,
        negative_sampling: str = "uniform",
        verify_negatives: bool = True,
        threshold: float | None = None,
        init_std: float = 0.1,
        n_blocks: int | None = None,
        n_threads: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.negative_sampling = negative_sampling
        self.verify_negatives = verify_negatives
        self.threshold = threshold
        self.init_std = init_std
        self.n_blocks = n_blocks
        self.n_threads = n_threads
        self.random_state = random_state

    def _fold_in_regularization(self) -> tuple[float, float]:
        # BPR learns no least-squares objective; fold-in fits one (confidence 1) on its item factors.
        return 1.0, 0.0

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        users, items, weights = self._positives(train)
        csr = csr_by_user(users, items, weights, train.n_users)
        del users, items, weights
        n_blocks = grid_size(train.n_items, k, self.n_blocks)
        self.n_blocks_ = n_blocks
        cells = _EpochCells(csr, train.n_items, n_blocks, rng, self.negative_sampling == "popularity")
        del csr
        # Rows padded and cache-line aligned for the kernel (kernels/rows.py); the same draws as unpadded,
        # in row chunks, so no float64 draw of the whole matrix exists (768 MB at 1M users and k = 64).
        P = init_factors(rng, self.init_std, train.n_users, k, aligned=True)
        Q = init_factors(rng, self.init_std, train.n_items, k, aligned=True)
        b_i = np.zeros(train.n_items, np.float32)
        self.n_threads_ = resolve_threads(self.n_threads)
        block_correct = np.zeros(n_blocks * n_blocks, np.int64)
        seed = int(self.random_state or 0)
        lr = np.float32(self.learning_rate)
        regs = (np.float32(self.regularization), np.float32(self.regularization), np.float32(self.bias_regularization))
        n_cells = max(1, cells.items.shape[0])

        def step(epoch: int) -> float:
            pool, pool_ptr = cells.regroup(rng)
            bpr_epoch(
                cells.users,
                cells.items,
                cells.block_ptr,
                cells.schedule(rng),
                pool,
                pool_ptr,
                P,
                Q,
                b_i,
                lr,
                *regs,
                self.verify_negatives,
                seed,
                epoch,
                block_correct,
            )
            auc = float(block_correct.sum() / n_cells)
            # A NaN score counts as "not ranked right", so a diverged fit keeps a finite AUC; every update
            # writes two item rows, so NaN or inf anywhere reaches Q within the epoch (checked: n_items x k).
            return auc if np.isfinite(Q.sum(dtype=np.float64) + b_i.sum(dtype=np.float64)) else float("nan")

        def publish() -> None:  # back to the original row order
            self.global_mean_ = 0.0
            self.user_factors_, self.item_factors_ = P[cells.user_row, :k], Q[:, :k].copy()
            self.user_bias_ = np.zeros(train.n_users, np.float32)
            self.item_bias_ = b_i.copy()

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, None, None, None, callback, publish, validation, metric="train_auc")
        publish()


class _EpochCells:
    """BPR's block layout: user groups fixed for the fit, item groups drawn again every epoch (issue 30).

    Users are renumbered so each group is a contiguous run of training rows (``user_row[u]``: the training
    row of original row u); items keep their rows. The interactions are kept by user (items sorted within
    each user) and :func:`~mfrec.kernels.bpr.regroup_cells` lays them out block by block for each epoch's
    item groups: O(interactions), in parallel over the user groups.
    """

    def __init__(
        self,
        csr: tuple[np.ndarray, np.ndarray, np.ndarray],
        n_items: int,
        n_blocks: int,
        rng: np.random.Generator,
        by_popularity: bool,
    ) -> None:
        indptr, indices, _ = csr
        self.n_blocks = n_blocks
        user_group = balanced_groups(np.diff(indptr), n_blocks, rng)
        order = np.argsort(user_group, kind="stable")
        self.user_row = np.empty(order.shape[0], np.int32)
        self.user_row[order] = np.arange(order.shape[0], dtype=np.int32)
        self.indptr, self.indices = rows_in_order(indptr, indices, order.astype(np.int32))
        self.user_starts = np.searchsorted(user_group[order], np.arange(n_blocks + 1)).astype(np.int64)
        self.item_counts = np.bincount(indices, minlength=n_items)
        self.by_popularity = by_popularity
        self.block_ptr = np.zeros(n_blocks * n_blocks + 1, np.int64)
        self.users = np.empty(indices.shape[0], np.int32)
        self.items = np.empty(indices.shape[0], np.int32)

    def regroup(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw this epoch's item groups and lay the cells out; returns the negatives' pool and its pointers."""
        item_group = balanced_groups(self.item_counts, self.n_blocks, rng)
        regroup_cells(self.indptr, self.indices, self.user_starts, item_group, self.block_ptr, self.users, self.items)
        pool = np.argsort(item_group, kind="stable").astype(np.int32)  # each group's items, once each
        sizes = np.bincount(item_group, minlength=self.n_blocks)
        if self.by_popularity:  # once per interaction
            weights = self.item_counts[pool]
            pool = np.repeat(pool, weights)
            sizes = np.bincount(item_group, weights=self.item_counts, minlength=self.n_blocks).astype(np.int64)
        return pool, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def schedule(self, rng: np.random.Generator) -> np.ndarray:
        """int64[B, B]: in sub-epoch s, user group b works on item group schedule[s, b]."""
        shifts = rng.permutation(self.n_blocks)
        return (np.arange(self.n_blocks)[None, :] + shifts[:, None]) % self.n_blocks
