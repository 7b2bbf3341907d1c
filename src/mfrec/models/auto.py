"""``auto=True``: a fit that tunes itself on a held-out fraction of the user's own data, then refits on all of it.

Generic over the models: a model opts in by declaring the ``auto`` parameter (:data:`AUTO`) and a class
attribute ``auto_space`` (name -> a list of choices or ``(low, high, "log" | "int" | "float")``, the
hyper-parameters that matter, regularisation first). :func:`tune` then

1. holds out :data:`AUTO_FRACTION` of the ratings: each user's latest when the data have timestamps, else a
   seeded random share (every user and item keeps one rating in train; :func:`~mfrec.models.holdout.hold_out`);
2. runs Optuna's TPE sampler over ``auto_space``; the first trial is the model's own fit, all its epochs (a
   warm start: the search is never worse than the defaults on the held-out ratings), every other trial of an
   iterative model stops early on validation RMSE (patience: a quarter of its epochs) and reports it per
   epoch, so the median pruner cuts hopeless trials;
3. stops after :data:`AUTO_TRIALS` trials or when the budget is spent (default: :data:`AUTO_COST` times the
   first trial's seconds, so the whole fit, refit included, costs about ``AUTO_COST + 1`` default fits);
4. returns the best values, with ``n_epochs`` set to the epoch where validation RMSE was best, or none (the
   model's own values stay) unless they beat the first trial by :data:`AUTO_MIN_Z` standard errors
   (:data:`AUTO_MIN_Z_LISTED` for a model that lists its few trials).

Two optional hooks change steps 2-3 for a model whose few candidates cost very differently or whose per-epoch
validation RMSE says nothing early on: a method ``auto_trials()`` (a list of parameter dicts, from the model's own
values) replaces the TPE search by exactly those trials after the first, in that order, still within the budget; a
class attribute ``auto_prune = False`` keeps its trials from the median pruner (each runs to its end).

:meth:`Recommender.fit` then sets them on the model (``auto_params_`` lists them) and refits on everything.
The held-out scores of the model, the bias baseline and popularity are kept in ``held_out_`` and a one-line
warning says when the model does not beat them (:func:`held_out_report`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mfrec.data.interactions import Interactions
from mfrec.exceptions import MfrecError, warn_user
from mfrec.models.holdout import hold_out
from mfrec.models.params import Param
from mfrec.models.pick import fit_ranker
from mfrec.models.registry import registered_class
from mfrec.ranking.topn import ndcg

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

AUTO = Param(
    "auto",
    bool,
    "fit tunes the hyper-parameters that matter (regularization first, then k; epochs by early stopping) on a "
    "held-out 10% of the data (each user's latest ratings when there are timestamps) with Optuna, then refits "
    "on everything.",
)
#: Share of the ratings held out to choose on.
AUTO_FRACTION = 0.1
#: At most this many trials (the first is the model's own values).
AUTO_TRIALS = 16
#: Default budget: this many times the first trial's seconds (the refit adds about one more fit).
AUTO_COST = 4.0
#: Trials before the median pruner may stop one, and epochs before it looks.
PRUNE_AFTER_TRIALS, PRUNE_AFTER_EPOCHS = 3, 2
#: The best trial replaces the model's own values only when it beats them by this many standard errors of the
#: paired per-rating difference on the held-out ratings: on the zoo's sparsest logs (a held-out tenth of 10,000
#: ratings) the best of 16 trials was often noise, and worse than the defaults on the test ratings.
AUTO_MIN_Z = 2.0
#: The same guard for a model that lists its few trials (``auto_trials``: BayesianMF's half and 1.5x the sweeps):
#: two pre-declared alternatives, not the best of a search, so the one-sided 5% test of each. The zoo's held-out z of
#: half the sweeps against the default (17 logs, the zoo's splits): amazon-music 1.81 (test RMSE 0.8370 -> 0.8319),
#: ml-100k-longtail 2.24 (taken at 2 too), synth-0.03pct 1.34, every other log 0.30 or less.
AUTO_MIN_Z_LISTED = 1.645

#: Users the held-out report scores (a seeded sample beyond that: the report must stay cheap at 100M ratings).
REPORT_USERS = 5_000

Progress = Callable[[int, float, dict[str, Any]], None]


def suggest(trial: Any, name: str, spec: Any) -> Any:
    """An Optuna trial's value for ``name`` from a search spec: a list of choices or (low, high, kind)."""
    if isinstance(spec, tuple):
        low, high, kind = spec
        if kind == "int":
            return trial.suggest_int(name, int(low), int(high))
        return trial.suggest_float(name, float(low), float(high), log=kind == "log")
    return trial.suggest_categorical(name, list(spec))


def _inside(value: Any, spec: Any) -> Any:
    """``value`` moved into the range ``spec`` (a default of 0 where the search is log-uniform from 0.1)."""
    if isinstance(spec, tuple):
        return type(value)(min(max(value, spec[0]), spec[1]))
    return value if value in spec else spec[0]


def _rmse(model: Recommender, data: Interactions) -> float:
    return float(np.sqrt(squared_errors(model, data).mean()))


def squared_errors(model: Recommender, data: Interactions) -> np.ndarray:
    """(prediction - rating)^2 of each rating in ``data`` (its ids mapped back), as float64."""
    users = data.user_ids.to_ids(data.user_idx)
    items = data.item_ids.to_ids(data.item_idx)
    return (np.asarray(model.predict(users, items), dtype=np.float64) - data.ratings) ** 2


def _clearly_better(own: np.ndarray, best: np.ndarray, min_z: float = AUTO_MIN_Z) -> bool:
    """Whether ``best``'s squared errors beat ``own``'s (the same held-out ratings) by ``min_z`` standard errors of
    the paired difference."""
    gain = own - best
    spread = float(gain.std(ddof=1)) / math.sqrt(gain.size) if gain.size > 1 else math.inf
    return float(gain.mean()) > min_z * spread


def tune(
    model: Recommender,
    data: Interactions,
    *,
    budget_seconds: float | None = None,
    max_trials: int | None = None,
    progress: Progress | None = None,
    first_fit: Recommender | None = None,
) -> dict[str, Any]:
    """The values of ``type(model).auto_space`` that fit a held-out fraction of ``data`` best (see the module).

    Returns ``{"params": ..., "score": validation RMSE, "trials": n, "pruned": n, "seconds": s}``.
    ``progress(trial_number, best_rmse, params)`` is called after every trial. ``first_fit``: the first trial,
    already fitted (the model's own values, ``rank_by="rating"``, on :func:`held_out_split`'s training part, as
    :func:`mfrec.models.choose.choose_model` fits each candidate); the default budget is then counted from its
    ``fit_seconds_``.
    """
    import optuna

    space: dict[str, Any] = dict(getattr(type(model), "auto_space", {}))
    listed: list[dict[str, Any]] | None = model.auto_trials() if hasattr(model, "auto_trials") else None
    prune = getattr(type(model), "auto_prune", True)
    seed = _seed(model)
    train, valid = held_out_split(data, seed)
    if valid is None or not space:
        return {"params": {}, "score": float("nan"), "trials": 0, "pruned": 0, "seconds": 0.0}
    # Candidates rank by rating: the "will pick" part does not move RMSE, and the best one gets it at the end.
    base = {**model.get_params(), "auto": False, **({"rank_by": "rating"} if "rank_by" in model.get_params() else {})}
    iterative = "early_stopping" in base
    started = time.perf_counter()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_AFTER_EPOCHS)
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    study.enqueue_trial({name: _inside(base[name], space[name]) for name in space if base.get(name) is not None})
    if budget_seconds is None and first_fit is not None:
        budget_seconds = AUTO_COST * float(first_fit.fit_seconds_)  # type: ignore[attr-defined]
    deadline = [budget_seconds]
    best_model: dict[str, Any] = {}
    first: dict[str, Any] = {}

    def objective(trial: Any) -> float:
        if listed is not None:
            params = dict(listed[trial.number - 1]) if trial.number else {}
        else:
            params = {name: suggest(trial, name, spec) for name, spec in space.items()}
        if trial.number == 0:  # the model's own values exactly (the search space may not reach a default of 0)
            params = {}
        trial.set_user_attr("params", params)
        # The first trial is the model's own fit, all its epochs: stopped early it is not what the defaults give,
        # and every other trial must beat it by AUTO_MIN_Z standard errors. The others stop early, with a patience
        # of a quarter of their epochs: SGD's validation RMSE sits on a plateau while its factors grow from their
        # small start (15-19 epochs without a new best at 80 epochs on synth-mnar, ml-100k and anime), which a
        # patience of 5 took for convergence (on synth-mnar the defaults stopped after epoch 1 at 0.6933, where
        # 80 epochs reach 0.6889, and a worse trial passed the guard).
        stopping = {}
        if iterative and trial.number != 0:
            stopping = {"early_stopping": True, "patience": max(base["patience"], base["n_epochs"] // 4)}
        if trial.number == 0 and first_fit is not None:
            errors = squared_errors(first_fit, valid)
            first.update(errors=errors, model=first_fit)
            best_model.update(score=float(np.sqrt(errors.mean())), model=first_fit, errors=errors)
            return best_model["score"]
        candidate = type(model)(**{**base, **params, **stopping})

        def report(row: dict[str, Any]) -> None:
            if prune and "val_rmse" in row:
                trial.report(row["val_rmse"], row["epoch"])
                if trial.should_prune():
                    raise optuna.TrialPruned()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            candidate.fit(train, validation=valid, callback=report)
        trial.set_user_attr("best_epoch", int(getattr(candidate, "best_epoch_", 0)))
        errors = squared_errors(candidate, valid)
        score = float(np.sqrt(errors.mean()))
        if trial.number == 0:
            first.update(errors=errors, model=candidate)
        if score < best_model.get("score", math.inf):
            best_model.update(score=score, model=candidate, errors=errors)
        return score

    def after(study: Any, trial: Any) -> None:
        if deadline[0] is None and trial.number == 0:
            deadline[0] = AUTO_COST * (time.perf_counter() - started)
        if progress is not None:
            best = study.best_value if any(t.value is not None for t in study.trials) else math.nan
            progress(trial.number + 1, best, study.best_params if not math.isnan(best) else {})
        if time.perf_counter() - started >= (deadline[0] or math.inf):
            study.stop()

    try:
        n_trials = max_trials or AUTO_TRIALS
        if listed is not None:
            n_trials = min(n_trials, 1 + len(listed))
        study.optimize(objective, n_trials=n_trials, callbacks=[after], catch=(MfrecError,))
    finally:
        optuna.logging.set_verbosity(previous)
    if not best_model:  # every trial failed (a data-dependent limit: k >= the number of items, ...)
        return {"params": {}, "score": float("nan"), "trials": len(study.trials), "pruned": 0, "seconds": 0.0}
    best = study.best_trial
    params = dict(best.user_attrs["params"]) if best.number != 0 else {}
    if iterative and best.number != 0 and best.user_attrs.get("best_epoch"):
        params["n_epochs"] = int(best.user_attrs["best_epoch"])
    score = float(best.value)
    min_z = AUTO_MIN_Z if listed is None else AUTO_MIN_Z_LISTED
    if best.number != 0 and first and not _clearly_better(first["errors"], best_model["errors"], min_z):
        params, score, best_model["model"] = {}, float(np.sqrt(first["errors"].mean())), first["model"]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return {
        "params": params,
        "score": score,
        "trials": len(study.trials),
        "pruned": int(pruned),
        "seconds": time.perf_counter() - started,
        "held_out": held_out_report(_with_ranker(best_model["model"], model), train, valid),
    }


def _seed(model: Recommender) -> int:
    """The seed of ``model``'s held-out split: its ``random_state``, 0 without one."""
    state = model.get_params().get("random_state")
    return 0 if state is None else int(state)


def held_out_split(data: Interactions, seed: int) -> tuple[Interactions, Interactions | None]:
    """(train, held out): the split auto chooses on, :data:`AUTO_FRACTION` of ``data`` (:func:`hold_out`)."""
    return hold_out(data, AUTO_FRACTION, np.random.default_rng(seed))


def _with_ranker(candidate: Recommender, model: Recommender) -> Recommender:
    """``candidate`` ranking the way ``model`` will (its "will pick" part fitted when ``model`` ranks pick x like)."""
    rank_by = model.get_params().get("rank_by")
    if rank_by is not None and rank_by != candidate.rank_by:  # type: ignore[attr-defined]
        candidate.rank_by = rank_by  # type: ignore[attr-defined]
        fit_ranker(candidate)
    return candidate


def liked_level(scale: tuple[float, float]) -> float:
    """The rating a user "liked" on ``scale``: 4 on 1-5 and 0.5-5, 3 on 0.5-4, 8 on 1-10."""
    low, high = scale
    return float(round(low + 0.75 * (high - low)))


def _some_users(data: Interactions, limit: int = REPORT_USERS) -> Interactions:
    """``data`` restricted to a seeded sample of ``limit`` of its users (all of them when there are fewer)."""
    present = np.unique(data.user_idx)
    if present.size <= limit:
        return data
    keep = np.zeros(data.n_users, dtype=bool)
    keep[np.random.default_rng(0).choice(present, limit, replace=False)] = True
    return data.subset(keep[data.user_idx], name=data.name)


def held_out_report(model: Recommender, train: Interactions, valid: Interactions) -> dict[str, Any]:
    """Validation RMSE / NDCG@10 of ``model`` (fitted on ``train``) beside the bias baseline's and popularity's.

    Warns in one line when the model does not beat them (the baselines are fitted here, on ``train``).
    """
    name = type(model).__name__
    valid = _some_users(valid)
    # As evaluate does: on a click log (counts, one value) every interaction is relevant, not 3/4 of the counts.
    implicit = train.is_implicit and len(valid.ratings)
    liked = float(valid.ratings.min()) if implicit else liked_level(model.rating_scale_)  # type: ignore[attr-defined]
    baseline = registered_class("Biases")(rank_by="rating")  # type: ignore[misc]
    popularity = registered_class("Popularity")()  # type: ignore[misc]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline.fit(train)
        popularity.fit(train)
    report: dict[str, Any] = {"model": name, "ratings": len(valid)}
    if model.predicts_ratings:
        report["rmse"], report["baseline_rmse"] = _rmse(model, valid), _rmse(baseline, valid)
    # The fitted model counts the held-out pairs as seen (they are never recommended); scored here, its lists
    # may hold them, as the baselines' do: the training pairs alone are excluded (train's rows are the model's).
    seen = model.seen_indptr_, model.seen_indices_, model.seen_ratings_  # type: ignore[attr-defined]
    model.seen_indptr_, model.seen_indices_, model.seen_ratings_ = train.user_csr()  # type: ignore[attr-defined]
    try:
        report["ndcg@10"] = ndcg(model, valid, 10, threshold=liked)
    finally:
        model.seen_indptr_, model.seen_indices_, model.seen_ratings_ = seen  # type: ignore[attr-defined]
    report["popularity_ndcg@10"] = ndcg(popularity, valid, 10, threshold=liked)
    problems = []  # differences that print as 0.000 are not worth a warning
    if model.predicts_ratings and report["rmse"] - report["baseline_rmse"] >= 0.0005:
        problems.append(f"{report['rmse'] - report['baseline_rmse']:.3f} RMSE worse than the bias baseline")
    if report["popularity_ndcg@10"] - report["ndcg@10"] >= 0.0005:
        problems.append(f"{report['popularity_ndcg@10'] - report['ndcg@10']:.3f} NDCG@10 below popularity")
    report["warning"] = None
    if problems:
        advice = "try auto=True (mfrec train --auto) or a larger regularization"
        if getattr(model, "auto", False):  # it was tuned already
            advice = "try the bayesian model (it learns its regularization), or the baseline for this data"
        report["warning"] = f"{name} is {' and '.join(problems)} on {len(valid):,} held-out ratings; {advice}"
        warn_user(report["warning"])
    return report
