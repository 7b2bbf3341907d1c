"""``mfrec train --model auto``: choose the rating model on the user's own data, then tune it (``auto=True``).

The zoo (benchmarks/RESULTS.md, "Zoo") has no model that is best on every log: the Bayesian model is on most,
ALS on the sparsest synthetic one, and the best of the others' tuned fits stays 0.005-0.09 RMSE behind the best
default on most logs. So :func:`choose_model`

1. holds out the split ``auto`` chooses on (:func:`mfrec.models.auto.held_out_split`: each user's latest 10% with
   timestamps, else a seeded random 10%);
2. fits each of :data:`CANDIDATES` with its defaults on the rest and scores its RMSE on the held-out ratings;
3. keeps the lowest, tunes it with its own ``auto`` search, whose first trial is the fit of step 2 (not run again),
   and refits it on everything.

What comes back is an ordinary fitted model of the chosen class (save, load, serve, fold in as usual), with
``held_out_["candidates"]`` (each candidate's held-out RMSE: selection scores, not test scores) and
``held_out_["chosen"]``.

Examples
--------
>>> from mfrec.data import synthetic
>>> model = choose_model(synthetic(300, 200, 6_000, seed=0), candidates=("sgd", "als"))
>>> sorted(model.held_out_["candidates"]), model.held_out_["chosen"] in ("sgd", "als")
(['als', 'sgd'], True)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from mfrec.data import load
from mfrec.exceptions import MfrecError, ParameterError
from mfrec.models import MODELS, make_model
from mfrec.models.auto import held_out_split, squared_errors, tune
from mfrec.models.base import Recommender

#: The rating models ``--model auto`` chooses among, cheapest first (the first wins a tie): SGD and ALS are the
#: fastest, the Bayesian model the most accurate on most of the zoo.
CANDIDATES = ("sgd", "als", "bayesian")

#: Called with (candidate name, its held-out RMSE) after each candidate's fit.
ChoiceProgress = Callable[[str, float], None]


def choose_model(
    data: Any,
    candidates: tuple[str, ...] = CANDIDATES,
    *,
    n_threads: int | None = None,
    random_state: int = 0,
    budget_seconds: float | None = None,
    on_candidate: ChoiceProgress | None = None,
    auto_progress: Callable[[int, float, dict[str, Any]], None] | None = None,
    **read_options: Any,
) -> Recommender:
    """The candidate with the lowest held-out RMSE, tuned (``auto=True``) and fitted on all of ``data``.

    ``budget_seconds``: what the chosen model's search may take (default: about 4 of its fits, as ``auto``).
    ``read_options`` go to :func:`mfrec.data.load`, as for ``fit``.
    """
    unknown = [name for name in candidates if name not in MODELS]
    if unknown or not candidates:
        raise ParameterError(f"unknown candidate model(s) {unknown}; choose rating models of {sorted(MODELS)}")
    not_rating = [name for name in candidates if "auto" not in MODELS[name]().param_names()]
    if not_rating:
        raise ParameterError(f"{not_rating} cannot be chosen by held-out RMSE: the candidates must be rating models")
    data = load(data, **read_options)
    if data.is_implicit:
        raise ParameterError(
            "--model auto chooses among rating models by held-out RMSE; these data have no ratings (a click, play "
            "or purchase log): use implicit-als or bpr"
        )
    started = time.perf_counter()
    train, valid = held_out_split(data, random_state)
    common = {"n_threads": n_threads, "random_state": random_state}
    scores: dict[str, float] = {}
    fits: dict[str, Recommender] = {}
    if valid is not None:
        for name in candidates:
            candidate = make_model(name, **common, rank_by="rating")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    candidate.fit(train)
            except MfrecError as error:  # a data-dependent limit (more factors than items ...): not a candidate
                warnings.warn(f"--model auto left out {name}: {error}", stacklevel=2)
                continue
            scores[name] = float(np.sqrt(squared_errors(candidate, valid).mean()))
            fits[name] = candidate
            if on_candidate is not None:
                on_candidate(name, scores[name])
    # Too few ratings to hold any out (or every candidate failed): the first candidate, tuned as far as it can be.
    chosen = min(scores, key=lambda name: scores[name]) if scores else candidates[0]
    model = make_model(chosen, **common)
    if chosen in fits:
        # The winner's search starts from the fit just scored; the others are dropped before it runs.
        first = fits.pop(chosen)
        fits.clear()
        tuned = tune(model, data, budget_seconds=budget_seconds, progress=auto_progress, first_fit=first)
        model.set_params(**tuned["params"]).fit(data)
        model.set_params(auto=True)  # what it is: a tuned fit (a refit with these params tunes again)
        model.auto_params_, model.auto_result_ = tuned["params"], tuned
        model.held_out_ = dict(tuned.get("held_out") or {})
    else:
        model.set_params(auto=True).fit(data, auto_budget=budget_seconds, auto_progress=auto_progress)
        model.held_out_ = dict(model.held_out_ or {})
    model.held_out_["candidates"] = {name: round(score, 6) for name, score in scores.items()}
    model.held_out_["chosen"] = chosen
    model.fit_seconds_ = time.perf_counter() - started  # the whole choice, as auto's fit_seconds_ counts its search
    return model


class ModelChooser:
    """:func:`choose_model` as an estimator for evaluation protocols: ``fit`` returns the model it chooses and
    tunes on the data given (a model of the chosen class, not this object), so each split chooses on its own
    training part.

    >>> from mfrec.data import synthetic
    >>> ModelChooser(candidates=("sgd", "als")).fit(synthetic(300, 200, 6_000, seed=0)).held_out_["chosen"]
    'als'
    """

    def __init__(
        self,
        candidates: tuple[str, ...] = CANDIDATES,
        *,
        n_threads: int | None = None,
        random_state: int = 0,
        budget_seconds: float | None = None,
    ) -> None:
        self.candidates = candidates
        self.n_threads = n_threads
        self.random_state = random_state
        self.budget_seconds = budget_seconds

    def fit(self, data: Any) -> Recommender:
        return choose_model(
            data,
            self.candidates,
            n_threads=self.n_threads,
            random_state=self.random_state,
            budget_seconds=self.budget_seconds,
        )


def choice_line(report: dict[str, Any] | None) -> str | None:
    """One line for the user: which model was chosen, on which held-out RMSEs (selection scores)."""
    if not report or "chosen" not in report:
        return None
    scores = report.get("candidates") or {}
    listed = ", ".join(f"{name} {score:.4f}" for name, score in sorted(scores.items(), key=lambda kv: kv[1]))
    if not listed:
        return f"model chosen: {report['chosen']} (too few ratings to hold out: the first candidate)"
    return f"model chosen: {report['chosen']} (held-out RMSE, selection scores: {listed})"
