"""``mfrec train --auto``: the fit that tunes itself (models/auto.py), its progress bar and what it tells the user."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mfrec.cli.common import FLAG, MODELS, progress_bar, stderr, warm_kernels
from mfrec.exceptions import ParameterError
from mfrec.models import make_model

AutoFlag = Annotated[
    bool,
    typer.Option(
        "--auto",
        help="Tune regularization, factors and epochs on a held-out 10% of DATA (each user's latest with timestamps; "
        "Optuna), then refit on all of it.",
        metavar=FLAG,
    ),
]
TrainModelName = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help=f"One of: {', '.join(MODELS)}; or auto: the rating model (sgd, als or bayesian) with the lowest "
        "held-out RMSE on DATA, then tuned as --auto does.",
    ),
]
AutoBudget = Annotated[
    float | None, typer.Option("--budget", help="Minutes --auto may search (default: about 4 default fits).")
]


def fit_with_progress(estimator: Any, data: Any, name: str, quiet: bool, auto: bool, budget: float | None) -> None:
    """Fit ``estimator`` on ``data`` with a progress bar: per epoch, or per trial and then per epoch with --auto."""
    warm_kernels([estimator], quiet)
    if auto:
        if "auto" not in estimator.param_names():
            raise ParameterError(f"{name} has no auto fit; --auto works for the rating models")
        estimator.set_params(auto=True)
    elif budget is not None:
        raise ParameterError("--budget is the time --auto may search; add --auto")
    seconds = None if budget is None else budget * 60
    planned = getattr(estimator, "planned_epochs", None)  # a model whose fit runs more than n_epochs (bayesian)
    total = None if auto else planned(len(data)) if planned else getattr(estimator, "n_epochs", None)
    label = f"tuning and training {name}" if auto else f"training {name}"
    with progress_bar(quiet, label, total) as advance:

        def trial(number: int, best: float, params: dict[str, Any]) -> None:
            advance(1, note=f"trial {number}: best held-out RMSE {best:.4f}")

        extra = {"auto_budget": seconds, "auto_progress": trial} if auto else {}
        estimator.fit(data, callback=lambda row: advance(1, note=_note(row)), **extra)
    if not quiet:
        print_tuning(estimator, auto)


def print_tuning(model: Any, auto: bool) -> None:
    """What auto chose (with ``auto``) and the held-out comparison, on stderr."""
    if auto:
        chosen = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                           for key, value in getattr(model, "auto_params_", {}).items())  # fmt: skip
        stderr.print(f"auto chose: {chosen or 'the defaults'}", markup=False)
    for line in held_out_lines(getattr(model, "held_out_", None)):
        stderr.print(line)


def training_metric(row: dict[str, Any]) -> str | None:
    """The history key of the model's training objective (train_rmse, train_loss, train_auc) in ``row``, if any."""
    return next((key for key in row if key.startswith("train_")), None)


def _note(row: dict[str, Any]) -> str:
    """The epoch's training objective for the progress bar."""
    key = training_metric(row)
    return "" if key is None else f"{key.replace('_', ' ')} {row[key]:.4f}"


def held_out_lines(report: dict[str, Any] | None) -> list[str]:
    """The held-out comparison a fit on a held-out fraction prints: model, bias baseline, popularity, warning."""
    if not report:
        return []
    lines = [f"held out {report['ratings']:,} ratings (selection scores: these chose the fit):"]
    if "rmse" in report:
        lines.append(f"  RMSE     {report['model']} {report['rmse']:.4f}   bias baseline {report['baseline_rmse']:.4f}")
    lines.append(
        f"  NDCG@10  {report['model']} {report['ndcg@10']:.4f}   popularity {report['popularity_ndcg@10']:.4f}"
    )
    if report.get("warning"):
        lines.append(f"warning: {report['warning']}")
    return lines


EvaluateModelName = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help=f"One of: {', '.join(MODELS)}; or auto: on each split's training part, the rating model (sgd, als or "
        "bayesian) with the lowest held-out RMSE, then tuned as --auto does (as mfrec train --model auto).",
    ),
]


def _refuse_fixed(flags: dict[str, Any], params: Any, pairs: Any) -> None:
    """--model auto chooses the hyper-parameters: only --threads and --seed may be given."""
    fixed = [flag for flag, value in flags.items() if value is not None and flag not in ("--threads", "--seed")]
    if fixed or params or pairs:
        given = ", ".join(fixed + (["--params"] if params else []) + (["--param"] if pairs else []))
        raise ParameterError(f"--model auto chooses the model and its hyper-parameters: drop {given}, or name a model")


def evaluation_chooser(protocol: str, flags: dict[str, Any], params: Any, pairs: Any) -> tuple[Any, list[Any]]:
    """``evaluate --model auto``: a factory of :class:`~mfrec.models.choose.ModelChooser` (one per split), and the
    candidates, whose kernels to compile first."""
    from mfrec.models.choose import CANDIDATES, ModelChooser

    if protocol == "cold-start":
        raise ParameterError("--model auto is not available with --protocol cold-start: name a model")
    _refuse_fixed(flags, params, pairs)
    seed = flags.get("--seed")
    options = {"n_threads": flags.get("--threads"), "random_state": 0 if seed is None else seed}
    return (lambda: ModelChooser(**options)), [make_model(name) for name in CANDIDATES]


def choose_with_progress(
    data: Any, quiet: bool, flags: dict[str, Any], budget: float | None, params: Any, pairs: Any
) -> Any:
    """``--model auto``: :func:`mfrec.models.choose.choose_model` with a progress bar; only --threads and --seed
    (and --budget) apply, since the hyper-parameters are what it chooses."""
    from mfrec.models.choose import CANDIDATES, choice_line, choose_model

    _refuse_fixed(flags, params, pairs)
    seed = flags.get("--seed")
    warm_kernels([make_model(name) for name in CANDIDATES], quiet)
    with progress_bar(quiet, "choosing and tuning a model", None) as advance:

        def scored(name: str, rmse: float) -> None:
            advance(1, note=f"{name}: held-out RMSE {rmse:.4f}")

        def trial(number: int, best: float, chosen: dict[str, Any]) -> None:
            advance(1, note=f"trial {number}: best held-out RMSE {best:.4f}")

        model = choose_model(
            data,
            CANDIDATES,
            n_threads=flags.get("--threads"),
            random_state=0 if seed is None else seed,
            budget_seconds=None if budget is None else budget * 60,
            on_candidate=scored,
            auto_progress=trial,
        )
    if not quiet:
        stderr.print(choice_line(model.held_out_), markup=False)
        print_tuning(model, auto=True)
    return model
