"""Model selection: cross-validation, grid and random search, with a time budget.

Candidates are scored on the same splits and compared on the mean of one metric.
Searches run candidates in worker processes, one numba thread each, so
``n_jobs`` candidates at a time use ``n_jobs`` cores and never more.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mfrec.data.split import Split
from mfrec.evaluation.evaluate import evaluate
from mfrec.exceptions import ParameterError
from mfrec.models import MODELS, Recommender, make_model
from mfrec.models.params import search_space

LOWER_IS_BETTER = {"rmse", "mae"}

#: Default search spaces for ``random_search`` / ``mfrec tune``, from each model's ``param_spec``
#: (``Param.search``): lists are sampled uniformly, (low, high, "log") tuples log-uniformly,
#: (low, high, "int") as integers, (low, high, "float") uniformly.
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    name: search_space(cls) for name, cls in MODELS.items() if search_space(cls)
}


def clone(model: Recommender, **overrides: Any) -> Recommender:
    """A new, unfitted model of the same class with the same (or overridden) parameters."""
    return type(model)(**{**model.get_params(), **overrides})


def cross_validate(
    model: Recommender, splits: Sequence[Split], *, k: int = 10, threshold: float = 4.0
) -> dict[str, Any]:
    """Fit a clone of ``model`` on each split and score it; mean, std and per-fold metrics.

    Examples
    --------
    >>> from mfrec.data import synthetic, kfold
    >>> from mfrec.models import Biases
    >>> result = cross_validate(Biases(), list(kfold(synthetic(300, 100, 5_000), 3)))
    >>> result["folds"]
    3
    """
    return evaluate(lambda: clone(model), list(splits), k=k, threshold=threshold)


def _near(
    space: dict[str, Any], best: dict[str, Any], rng: np.random.Generator, spread: float = 0.25
) -> dict[str, Any]:
    """A candidate around ``best``: continuous values jittered on a log scale, choices kept with p=0.7."""
    params = {}
    for name, spec in space.items():
        value = best.get(name)
        if isinstance(spec, tuple):
            low, high, kind = spec
            if value is None:
                value = (low * high) ** 0.5 if kind == "log" else (low + high) / 2
            if kind == "int":
                params[name] = int(np.clip(round(value + rng.normal(0, spread * (high - low) / 2)), low, high))
            elif kind == "log" or value > 0:
                params[name] = float(np.clip(value * np.exp(rng.normal(0, spread)), low, high))
            else:
                params[name] = float(np.clip(value + rng.normal(0, spread * (high - low)), low, high))
        else:
            keep = value in spec and rng.random() < 0.7
            params[name] = value if keep else spec[int(rng.integers(len(spec)))]
    return params


def _sample(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    params = {}
    for name, spec in space.items():
        if isinstance(spec, tuple):
            low, high, kind = spec
            if kind == "log":
                params[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            elif kind == "int":
                params[name] = int(rng.integers(low, high + 1))
            else:
                params[name] = float(rng.uniform(low, high))
        else:
            params[name] = spec[int(rng.integers(len(spec)))]
    return params


@dataclass
class SearchResult:
    """What a search found: the best parameters, their score, and every candidate tried."""

    metric: str
    best_params: dict[str, Any] = field(default_factory=dict)
    best_score: float = float("nan")
    best_std: float | None = float("nan")  # None when scored on one split: a spread over one value is undefined
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def add(self, params: dict[str, Any], result: dict[str, Any], seconds: float) -> None:
        score = result[self.metric]
        std = result["std"][self.metric] if result.get("folds", 2) > 1 else None
        row = {"params": params, "score": score, "std": std, "seconds": seconds}
        # Ranking models have no rating metrics: keep whichever of these the candidate was scored on.
        row.update({key: result[key] for key in ("rmse", "mae") if key in result})
        self.candidates.append(row)
        better = score < self.best_score if self.metric in LOWER_IS_BETTER else score > self.best_score
        if not self.candidates[:-1] or better:
            self.best_params, self.best_score, self.best_std = params, score, std

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "best_score": self.best_score,
            "best_std": self.best_std,
            "params": self.best_params,
            "candidates": self.candidates,
        }


# Worker-process state: the splits are sent once per worker, not once per candidate.
_WORKER_SPLITS: list[Split] = []


def _init_worker(splits: list[Split]) -> None:
    global _WORKER_SPLITS
    _WORKER_SPLITS = splits


def score_candidate(
    name: str, params: dict[str, Any], splits: Sequence[Split], *, k: int = 10, threshold: float = 4.0
) -> tuple[dict[str, Any], float]:
    """Cross-validate one candidate, ``make_model(name, **params)``, on ``splits``: (mean/std metrics, seconds).

    What every search runs per candidate; callers that schedule candidates elsewhere
    (``mfrec.spark.tune`` runs them as Spark tasks) use it too.
    """
    started = time.perf_counter()
    model = make_model(name, **params)
    result = evaluate(lambda: clone(model), list(splits), k=k, threshold=threshold)
    result.pop("per_fold", None)
    return result, time.perf_counter() - started


def _score_candidate(name: str, params: dict[str, Any], k: int, threshold: float) -> tuple[dict[str, Any], float]:
    return score_candidate(name, params, _WORKER_SPLITS, k=k, threshold=threshold)


def _check_model(name: str) -> None:
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")


def _single_threaded(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if "n_threads" in MODELS[name].param_names():
        return {**params, "n_threads": 1}
    return params


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Start worker processes without re-running the caller's script in them.

    A spawned worker normally imports ``__main__`` again, so a script without an
    ``if __name__ == "__main__":`` guard would re-run its search in every worker.
    The workers only call functions of this module, so they need nothing from
    ``__main__``: hiding its file and spec while a worker starts keeps it out.
    (``fork`` would avoid the re-run too, but a process that has already run a
    numba kernel on the GNU OpenMP threading layer aborts its forked children.)
    """
    main = sys.modules.get("__main__")
    saved = {key: main.__dict__[key] for key in ("__file__", "__spec__") if main is not None and key in main.__dict__}
    try:
        for key in saved:
            setattr(main, key, None) if key == "__spec__" else delattr(main, key)
        yield
    finally:
        for key, value in saved.items():
            setattr(main, key, value)


def search(
    name: str,
    candidates: Callable[[SearchResult], dict[str, Any] | None],
    splits: Sequence[Split],
    *,
    metric: str = "rmse",
    budget_seconds: float | None = None,
    max_candidates: int | None = None,
    n_jobs: int | None = None,
    k: int = 10,
    threshold: float = 4.0,
    on_result: Callable[[dict[str, Any], float], None] | None = None,
) -> SearchResult:
    """Score candidates from ``candidates(result_so_far)`` (None = exhausted) until the budget or count runs out.

    Parallel in ``n_jobs`` worker processes (default: the number of cores), each
    candidate single-threaded. A candidate still running when the budget ends is
    waited for; none is started after it. Workers are started without importing
    the calling script, so a plain script needs no ``if __name__ == "__main__":``
    guard (models must be built-in names of ``mfrec.models.MODELS``).
    """
    _check_model(name)
    if metric in LOWER_IS_BETTER and not MODELS[name].predicts_ratings:
        raise ParameterError(f"{name} scores preferences, not ratings, so {metric} does not apply; use ndcg@{k}")
    n_jobs = n_jobs or os.cpu_count() or 1
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    result = SearchResult(metric)
    started_count = 0

    def more() -> bool:
        in_time = deadline is None or time.monotonic() < deadline
        return in_time and (max_candidates is None or started_count < max_candidates)

    context = multiprocessing.get_context("spawn")  # numba's thread pools are not fork-safe
    with ProcessPoolExecutor(n_jobs, mp_context=context, initializer=_init_worker, initargs=(list(splits),)) as pool:
        running: dict[Future, dict[str, Any]] = {}
        exhausted = False
        while True:
            while not exhausted and len(running) < n_jobs and more():
                params = candidates(result)
                if params is None:
                    exhausted = True
                    break
                with _main_hidden():  # submit() is where the pool starts a worker
                    future = pool.submit(_score_candidate, name, _single_threaded(name, params), k, threshold)
                running[future] = params
                started_count += 1
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                params = running.pop(future)
                scores, seconds = future.result()
                result.add(params, scores, seconds)
                if on_result:
                    on_result(params, scores[metric])
    return result


def sample_candidates(
    name: str, count: int, *, space: dict[str, Any] | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """``count`` candidates for ``name``: the defaults first, then draws from ``space`` (default: its search space)."""
    _check_model(name)
    space = SEARCH_SPACES.get(name, {}) if space is None else space
    rng = np.random.default_rng(seed)
    return [{}] + [_sample(space, rng) for _ in range(count - 1)]


def grid_search(name: str, grid: dict[str, Sequence[Any]], splits: Sequence[Split], **options: Any) -> SearchResult:
    """Every combination of ``grid`` (or as many as the budget allows, in order)."""
    combos = iter(itertools.product(*grid.values()))
    return search(name, lambda _: next((dict(zip(grid, c)) for c in combos), None), splits, **options)


def random_search(
    name: str,
    space: dict[str, Any] | None,
    splits: Sequence[Split],
    *,
    seed: int = 0,
    refine: float = 0.3,
    **options: Any,
) -> SearchResult:
    """Candidates sampled from ``space`` (default: ``SEARCH_SPACES[name]``); the model's defaults go first.

    After the ``refine`` share of the budget (time, or candidate count) has been
    spent exploring, candidates are drawn around the best one so far: a simple
    local search that finds more in the same time than sampling blindly.
    """
    _check_model(name)
    space = SEARCH_SPACES.get(name, {}) if space is None else space
    rng = np.random.default_rng(seed)
    defaults = MODELS[name]().get_params()
    budget, limit = options.get("budget_seconds"), options.get("max_candidates")
    started, drawn = time.monotonic(), [0]

    def exploring() -> bool:
        if budget is not None:
            return time.monotonic() - started < refine * budget
        return limit is None or drawn[0] < refine * limit

    def candidates(result: SearchResult) -> dict[str, Any]:
        drawn[0] += 1
        if drawn[0] == 1:
            return {}
        if exploring() or not result.candidates:
            return _sample(space, rng)
        return _near(space, {**defaults, **result.best_params}, rng)

    return search(name, candidates, splits, **options)


def optuna_search(
    name: str,
    space: dict[str, Any] | None,
    splits: Sequence[Split],
    *,
    seed: int = 0,
    **options: Any,
) -> SearchResult:
    """Candidates proposed by Optuna's TPE sampler (the engine of ``auto=True``); the model's defaults go first.

    Each candidate is cross-validated on ``splits`` in a worker process like every search here, and its mean
    score is told back to the study, so later proposals concentrate where the scores are good. The scores are
    selection scores: the candidates were chosen on them.
    """
    import optuna

    from mfrec.models.auto import suggest

    _check_model(name)
    space = SEARCH_SPACES.get(name, {}) if space is None else space
    metric = options.get("metric", "rmse")
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    asked: dict[int, Any] = {}
    told = options.pop("on_result", None)
    first = [True]

    def candidates(result: SearchResult) -> dict[str, Any]:
        if first[0]:  # the defaults, so the result is never worse than them
            first[0] = False
            return {}
        trial = study.ask()
        params = {key: suggest(trial, key, spec) for key, spec in space.items()}
        asked[id(params)] = trial
        return params

    def on_result(params: dict[str, Any], score: float) -> None:
        trial = asked.pop(id(params), None)
        if trial is not None:
            study.tell(trial, float(score))
        if told:
            told(params, score)

    try:
        return search(name, candidates, splits, on_result=on_result, **options)
    finally:
        optuna.logging.set_verbosity(previous)
