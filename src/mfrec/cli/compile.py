"""Kernel compilation, made visible and kept out of the CLI's timings.

numba compiles each kernel on its first call and caches the machine code on disk
(``cache=True``), so a kernel is compiled once per install or upgrade (10-20 s the first time a command needs
kernels it has not compiled yet: training another model, evaluating with the baselines, an editable install
beside a regular one).
:func:`compile_notice` says so when it happens (the CLI prints it); :func:`warm_up` triggers it
on a tiny data set before the real fit, so a reported fit time measures training, not compiling.
In library use every compilation of an mfrec kernel is logged at INFO on the ``mfrec`` logger
(:func:`mfrec.kernels.compile_log.log_compilations`, registered when :mod:`mfrec.kernels` is imported); a disk-cache hit
is not a compilation and logs nothing:

>>> import logging  # doctest: +SKIP
>>> logging.basicConfig(level=logging.INFO)  # doctest: +SKIP
>>> model.partial_fit(todays_ratings)  # doctest: +SKIP
INFO:mfrec:compiling numba kernel mfrec.kernels.cg.cg_rows (first use after an install only: cached on disk after)

>>> with compile_notice(print):  # doctest: +SKIP
...     warm_up([MatrixFactorization()])
compiling kernels (once: cached on disk for the next runs)…
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba.core import event

from mfrec.exceptions import MfrecError

NOTICE = "compiling kernels (once: cached on disk for the next runs)…"


class _FirstCompile(event.Listener):
    """Calls ``say`` once, when numba starts compiling (a disk-cache hit is not a compile and stays silent)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.compiled = 0

    def on_start(self, event_: event.Event) -> None:
        if self.compiled == 0:
            self.say(NOTICE)
        self.compiled += 1

    def on_end(self, event_: event.Event) -> None:
        pass


@contextmanager
def compile_notice(say: Callable[[str], None]) -> Iterator[_FirstCompile]:
    """Within the block, the first kernel compilation calls ``say(NOTICE)``; ``.compiled`` counts them."""
    listener = _FirstCompile(say)
    with event.install_listener("numba:compile", listener):
        yield listener


def _tiny(seed: int = 0):
    from mfrec.data import from_arrays

    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(40), 15)
    items = np.concatenate([rng.choice(30, 15, replace=False) for _ in range(40)])
    ratings = rng.integers(1, 6, users.size).astype(np.float32)
    return from_arrays(users, items, ratings, np.arange(users.size), rating_scale=(1, 5), name="warm-up")


def warm_up(models: Sequence[Any], *, validation: bool = False, track_ndcg: int | None = None) -> None:
    """Fit a copy of each model (same parameters, one epoch) on 600 tiny ratings, compiling what its fit calls.

    ``validation`` / ``track_ndcg`` warm the per-epoch evaluation too, as ``fit(validation=...,
    track_ndcg=...)`` would use it. The models themselves are not touched.
    """
    from mfrec.data import random_split

    data = _tiny()
    train, test = random_split(data, 0.2, seed=0)
    for model in models:
        params = model.get_params()
        if "n_epochs" in params:
            params["n_epochs"] = 2 if "burn_in" in params else 1  # Bayesian MF needs a sample after burn-in
        if "burn_in" in params:
            params["burn_in"] = 1
        params.pop("early_stopping", None)  # one epoch: nothing to stop; early stopping's own path is tiny
        kwargs: dict[str, Any] = {}
        if validation:
            kwargs["validation"] = test
            if track_ndcg:
                kwargs["track_ndcg"] = track_ndcg
        try:
            copy = type(model)(**params).fit(train, **kwargs)
            # Every tiny user: past tiles.PRUNE_MIN_USERS, so the pruned pick x like path compiles too.
            copy.recommend(train.user_ids.ids, n=3)
        except MfrecError:
            # The tiny set cannot take these parameters (e.g. SVD with more factors than its 30 items):
            # skip it, and let the real fit compile what it needs or report the problem itself.
            continue
