"""``mfrec tune``: a time-bounded search of one model's hyper-parameters, scored by cross-validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mfrec.cli.common import AsJson, ModelName, Quiet, Seed, handle_errors, print_json, progress_bar, stdout
from mfrec.exceptions import ParameterError
from mfrec.models import MODELS

DataArg = Annotated[
    str, typer.Argument(metavar="DATA", help="Ratings file (CSV/TSV/Parquet), MovieLens folder or dataset name.")
]


@handle_errors
def tune(
    data: DataArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="JSON file for the best parameters (read by train --params).")
    ],
    model: ModelName = "sgd",
    budget: Annotated[float, typer.Option(help="Minutes to search for.")] = 10.0,
    protocol: Annotated[str, typer.Option(help="How candidates are scored (see evaluate).")] = "kfold",
    metric: Annotated[
        str | None,
        typer.Option(help="rmse | mae | ndcg@10 | precision@10 | ... (default: rmse, or ndcg@10 for implicit models)"),
    ] = None,
    folds: Annotated[int, typer.Option(help="Number of folds (kfold).")] = 5,
    jobs: Annotated[int | None, typer.Option(help="Candidates in parallel (default: cores).")] = None,
    max_candidates: Annotated[int | None, typer.Option(help="Stop after this many candidates.")] = None,
    seed: Seed = None,
    json_output: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Search a model's hyper-parameters within a time budget; writes the best to --output.

    The model's defaults are the first candidate, so the result is never worse than them; then Optuna's TPE
    sampler (the engine of train --auto) proposes candidates from the scores so far. The scores printed are
    selection scores: the candidates were chosen on them; check the winner on data it was not chosen on.
    Example: mfrec tune ../shared/data/ml-100k --protocol ml100k-folds --model sgd --budget 10 -o best.json
    """
    import json

    from mfrec.evaluation import make_splits
    from mfrec.evaluation.selection import optuna_search

    if model not in MODELS:
        raise ParameterError(f"unknown model {model!r}; choose one of {sorted(MODELS)}")
    if metric is None:
        metric = "rmse" if MODELS[model].predicts_ratings else "ndcg@10"
    elif metric in ("rmse", "mae") and not MODELS[model].predicts_ratings:
        raise ParameterError(
            f"{model} scores preferences, not ratings, so {metric} does not apply; use --metric ndcg@10"
        )
    _, splits = make_splits(data, protocol, folds=folds, seed=seed or 0)
    lower = metric in ("rmse", "mae")
    best = [float("inf") if lower else float("-inf")]

    with progress_bar(quiet, f"tuning {model}", max_candidates) as advance:  # a time budget alone: a count

        def report(params: dict[str, Any], score: float) -> None:
            best[0] = min(best[0], score) if lower else max(best[0], score)
            advance(1, note=f"best {metric} {best[0]:.4f}")

        result = optuna_search(
            model,
            None,
            splits,
            seed=seed or 0,
            metric=metric,
            budget_seconds=budget * 60,
            max_candidates=max_candidates,
            n_jobs=jobs,
            on_result=report,
        )
    payload = {
        "model": model,
        "protocol": protocol,
        "folds": len(splits),
        "budget_minutes": budget,
        "engine": "optuna-tpe",
        "scores_are": "selection scores (the candidates were chosen on them)",
        **result.to_dict(),
    }
    output.write_text(json.dumps(payload, indent=2))
    if json_output:
        print_json(payload)
    else:
        spread = "(1 split)" if result.best_std is None else f"± {result.best_std:.4f}"
        stdout.print(
            f"best {metric} (selection score) {result.best_score:.4f} {spread} over {len(result.candidates)} "
            f"candidates; parameters written to {output}"
        )
        stdout.print(f"  {result.best_params or '(the defaults)'}")
        stdout.print(f"train with them: mfrec train DATA --model {model} --params {output} -o MODEL_DIR")
