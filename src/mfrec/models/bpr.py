"""Bayesian personalised ranking (Rendle et al. 2009) on implicit feedback, parallel over disjoint blocks."""

from __future__ import annotations

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.kernels.bpr import bpr_epoch, sort_user_runs
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.base import EpochCallback
from mfrec.models.blocking import block_layout, grid_size
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
    verify_negatives : bool, default=True
        Redraw a negative the user did interact with (matters on dense data).
    threshold : float, optional
        Only values >= threshold are interactions (e.g. 4 for "liked" ratings).
    init_std : float, default=0.1
    n_blocks : int, optional
        Users and items are split into this many groups for parallel training
        (see :mod:`mfrec.models.blocking`); by default sized so a group's item
        factors fit in L2. The result depends on it, not on ``n_threads``.
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
        layout = block_layout(csr, train.n_items, n_blocks, rng)
        del csr
        layout.values = np.empty(0, np.float32)  # BPR reads no values
        sort_user_runs(layout.block_ptr, layout.users, layout.items)
        if self.negative_sampling == "popularity":
            # Training rows of a group are contiguous, so sorting the cells' items groups them.
            pool = np.sort(layout.items)
            pool_ptr = np.searchsorted(pool, layout.item_starts).astype(np.int64)
        else:
            pool, pool_ptr = np.empty(0, np.int32), np.zeros(n_blocks + 1, np.int64)
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
        n_cells = max(1, layout.items.shape[0])

        def step(epoch: int) -> float:
            bpr_epoch(
                layout.users,
                layout.items,
                layout.block_ptr,
                layout.schedule(rng),
                layout.item_starts,
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
            self.user_factors_, self.item_factors_ = P[layout.user_row, :k], Q[layout.item_row, :k]
            self.user_bias_ = np.zeros(train.n_users, np.float32)
            self.item_bias_ = b_i[layout.item_row]

        with num_threads(self.n_threads):
            self._run_epochs(self.n_epochs, step, None, None, None, callback, publish, validation, metric="train_auc")
        publish()
