"""The epoch loop shared by iterative models: history, validation, early stopping, restore-best."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.exceptions import TrainingError
from mfrec.kernels.predict import score_pairs
from mfrec.models.base import EpochCallback
from mfrec.models.holdout import hold_out
from mfrec.ranking.topn import ndcg

Snapshot = Any


class EpochLoop:
    """Mixin: the epoch loop of iterative models (history, callback, per-epoch NDCG, divergence check)."""

    history_: list[dict[str, Any]]

    def _run_epochs(
        self,
        n_epochs: int,
        step: Callable[[int], float],
        validation_rmse: Callable[[], float] | None,
        snapshot: Callable[[], Snapshot] | None,
        restore: Callable[[Snapshot], None] | None,
        callback: EpochCallback | None,
        publish: Callable[[], None] | None = None,
        validation: Interactions | None = None,
        metric: str = "train_rmse",
    ) -> None:
        """Call ``step(epoch)`` (returns the training ``metric``) up to ``n_epochs`` times, recording history.

        ``publish`` writes the current parameters to the fitted attributes; it is
        called when ``fit(track_ndcg=K)`` asks for a ranking metric per epoch, which
        needs a usable model mid-training. Early stopping applies to models with an
        ``early_stopping`` parameter that is on, given ``validation_rmse``; ``snapshot``
        and ``restore`` keep the best epoch's state.
        """
        stopping = bool(getattr(self, "early_stopping", False)) and validation_rmse is not None
        keep_best = stopping and snapshot is not None and restore is not None and getattr(self, "restore_best", False)
        track = getattr(self, "_track_ndcg", None) if validation is not None and publish is not None else None
        best, best_epoch, best_state, stale = np.inf, 0, None, 0
        epoch = 0
        for epoch in range(1, n_epochs + 1):
            started = time.perf_counter()
            value = step(epoch)
            row: dict[str, Any] = {"epoch": epoch, metric: float(value), "seconds": time.perf_counter() - started}
            if not np.isfinite(row[metric]):
                raise TrainingError(
                    f"{type(self).__name__} diverged in epoch {epoch} ({metric} {row[metric]}); "
                    "lower the learning rate or raise regularization"
                )
            if validation_rmse is not None:
                row["val_rmse"] = float(validation_rmse())
            if track:
                publish()
                row[f"val_ndcg@{track}"] = ndcg(self, validation, track)
            self.history_.append(row)
            if callback:
                callback(row)
            if not stopping:
                continue
            if row["val_rmse"] < best - 1e-6:
                best, best_epoch, stale = row["val_rmse"], epoch, 0
                if keep_best:
                    best_state = snapshot()
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.n_epochs_run_ = epoch
        self.best_epoch_ = best_epoch or epoch
        if best_state is not None and best_epoch != epoch:
            restore(best_state)  # type: ignore[misc]


class EarlyStopping(EpochLoop):
    """Mixin for models trained epoch by epoch that can stop early.

    Models using it accept ``early_stopping``, ``validation_fraction``, ``patience``
    and ``restore_best``. With ``early_stopping=True`` and no ``validation`` passed
    to ``fit``, a seeded ``validation_fraction`` of the training ratings is held
    out; training stops once validation RMSE has not improved for ``patience``
    epochs, and with ``restore_best`` the parameters of the best epoch are kept.
    ``best_epoch_`` and ``n_epochs_run_`` record what happened.

    The held-out fraction never removes a user or an item from the model: for
    every user and every item one rating (chosen at random) always stays in
    training, so each id given to ``fit`` is known afterwards (the held-out share
    is therefore slightly below ``validation_fraction`` on very sparse data, and
    when nothing can be held out a warning says so and all epochs run).
    ``random_state=None`` draws the held-out ratings afresh on every fit.
    """

    early_stopping: bool
    validation_fraction: float
    patience: int
    restore_best: bool
    random_state: int | None
    history_: list[dict[str, Any]]

    def _prepare_validation(
        self, train: Interactions, validation: Interactions | None
    ) -> tuple[Interactions, Interactions | None]:
        if self.early_stopping and validation is None:
            return hold_out(train, self.validation_fraction, np.random.default_rng(self.random_state))
        return train, validation

    def _factor_hooks(
        self,
        arrays: tuple[np.ndarray, ...],
        biases: tuple[np.ndarray, np.ndarray],
        mu: np.float32,
        validation: Interactions | None,
        rows: tuple[np.ndarray, np.ndarray] | None = None,
        fallback: float | None = None,
    ) -> tuple[Callable[[], float] | None, Callable[[], Snapshot], Callable[[Snapshot], None]]:
        """``validation_rmse``, ``snapshot`` and ``restore`` for a model whose state is ``arrays``.

        ``arrays`` starts with the factors P and Q and holds everything to save and
        restore; ``biases`` are the (user, item) bias vectors used for scoring.
        ``rows`` maps original rows to training rows when training renumbers them.
        ``fallback``: the prediction for an unknown user or item, for models without biases.
        """
        P, Q = arrays[0], arrays[1]
        validation_rmse = None
        if validation is not None:
            users, items = self._validation_rows(validation)
            if rows is not None:
                users = np.where(users >= 0, rows[0][np.maximum(users, 0)], -1).astype(np.int32)
                items = np.where(items >= 0, rows[1][np.maximum(items, 0)], -1).astype(np.int32)
            predicted = np.empty(len(validation), np.float32)
            low, high = self.rating_scale_  # type: ignore[attr-defined]

            def validation_rmse() -> float:
                score_pairs(users, items, P, Q, biases[0], biases[1], mu, predicted)
                if fallback is not None:
                    predicted[(users < 0) | (items < 0)] = fallback
                return float(np.sqrt(np.mean((np.clip(predicted, low, high) - validation.ratings) ** 2)))

        def snapshot() -> Snapshot:
            return tuple(array.copy() for array in arrays)

        def restore(state: Snapshot) -> None:
            for target, saved in zip(arrays, state):
                target[...] = saved

        return validation_rmse, snapshot, restore
