"""``mfrec train | evaluate | recommend | similar | datasets | demo``: thin wrappers over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mfrec.cli import auto as auto_cli
from mfrec.cli import datasets as datasets_cli
from mfrec.cli import engine as engine_cli
from mfrec.cli import pages as pages_cli
from mfrec.cli import predict as predict_cli
from mfrec.cli import serve as serve_cli
from mfrec.cli import tune as tune_cli
from mfrec.cli.coldstart import cold_start_command as _cold_start
from mfrec.cli.common import (
    FLAG,
    AsJson,
    Duplicates,
    Encoding,
    Epochs,
    Factors,
    ItemCol,
    LearningRate,
    ParamFile,
    ParamPairs,
    Quiet,
    RatingCol,
    RatingScale,
    Reg,
    Seed,
    Sep,
    Threads,
    Threshold,
    TimestampCol,
    UserCol,
    build_model,
    global_options,
    handle_errors,
    item_rating,
    model_flags,
    model_params,
    print_json,
    progress_bar,
    read_note,
    read_options,
    stderr,
    stdout,
    warm_kernels,
)
from mfrec.cli.tables import frame_table, metrics_table, reading_order, verdict, warm_cold_table
from mfrec.exceptions import ParameterError, UnknownIdError

app = typer.Typer(
    help="Matrix-factorization recommenders: train, evaluate, recommend, explain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(global_options)
app.add_typer(datasets_cli.app, name="datasets")

DataArg = Annotated[str, typer.Argument(metavar="DATA", help="Ratings file (CSV/TSV/Parquet) or MovieLens folder.")]
ModelDir = Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Folder of a saved model.")]


@app.command()
@handle_errors
def train(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to save the model in.")],
    model: auto_cli.TrainModelName = "sgd",
    factors: Factors = None,
    epochs: Epochs = None,
    lr: LearningRate = None,
    reg: Reg = None,
    threads: Threads = None,
    seed: Seed = None,
    params: ParamFile = None,
    param: ParamPairs = None,
    sep: Sep = None,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = "rating",
    timestamp_col: TimestampCol = None,
    rating_scale: RatingScale = None,
    duplicates: Duplicates = None,
    encoding: Encoding = None,
    json_output: AsJson = False,
    quiet: Quiet = False,
    ratings_log: Annotated[
        Path | None,
        typer.Option(
            help="Also train on the ratings logged by mfrec serve (its SQLite --db); the log wins on repeats."
        ),
    ] = None,
    engine: engine_cli.Engine = "local",
    master: engine_cli.Master = None,
    auto: auto_cli.AutoFlag = False,
    budget: auto_cli.AutoBudget = None,
) -> None:
    """Fit a model on DATA and save it to --output (--engine spark: als or implicit-als on Spark MLlib).

    Example: mfrec train ratings.csv --model sgd --factors 64 --epochs 20 -o model/
    """
    from mfrec.data import load

    flags = model_flags(factors, epochs, lr, reg, threads, seed)
    engine_cli.check_engine(engine, model)
    options = read_options(sep, user_col, item_col, rating_col, rating_scale, duplicates, encoding, timestamp_col)
    if engine == "spark":
        return engine_cli.train_on_spark(
            data, output, model, engine_cli.spark_params(flags, params, param), options, master, json_output, quiet
        )
    estimator = (
        None if model == "auto" else build_model(model, model_params(model, flags, params, param, also=("auto",)))
    )
    if not quiet:
        stderr.print(f"reading {data} ...")
    # With dates, a held-out choice (--auto, --model auto) holds out each user's latest ratings; time effects use them.
    dated = auto or estimator is None or timestamp_col is not None or getattr(estimator, "time_effects", False)
    interactions = load(data, with_timestamps=dated, order="user", **options)
    if ratings_log is not None:
        from mfrec.service.retrain import with_log

        interactions = with_log(interactions, ratings_log, duplicates=duplicates)
    if not quiet:
        stderr.print(read_note(interactions), markup=False)
    if estimator is None:
        estimator = auto_cli.choose_with_progress(interactions, quiet, flags, budget, params, param)
        model = estimator.held_out_["chosen"]
    else:
        auto_cli.fit_with_progress(estimator, interactions, model, quiet, auto, budget)
    estimator.save(output)
    last = estimator.history_[-1] if estimator.history_ else {}
    metric = auto_cli.training_metric(last) or "train_rmse"
    summary: dict[str, Any] = {
        "model": model,
        "params": estimator.get_params(),
        "output": str(output),
        "users": interactions.n_users,
        "items": interactions.n_items,
        "ratings": len(interactions),
        "fit_seconds": estimator.fit_seconds_,
        metric: last.get(metric),
        "epoch_seconds": [row.get("seconds") for row in estimator.history_],
        "held_out": getattr(estimator, "held_out_", None),
    }
    if json_output:
        print_json(summary)
    elif not quiet:
        stdout.print(f"trained {model} in {summary['fit_seconds']:.2f} s; saved to {output}")


@app.command()
@handle_errors
def evaluate(
    data: DataArg,
    protocol: Annotated[
        str,
        typer.Option(
            help="holdout | temporal | leave-last | kfold | ml100k-folds | ml100k-ua | ml100k-ub | cold-start"
        ),
    ] = "holdout",
    model: auto_cli.EvaluateModelName = "sgd",
    factors: Factors = None,
    epochs: Epochs = None,
    lr: LearningRate = None,
    reg: Reg = None,
    threads: Threads = None,
    seed: Seed = None,
    params: ParamFile = None,
    param: ParamPairs = None,
    k: Annotated[int, typer.Option("--k", help="Cut-off of the ranking metrics.")] = 10,
    threshold: Threshold = None,
    test_fraction: Annotated[float, typer.Option(help="Held-out share (holdout, temporal).")] = 0.2,
    n: Annotated[int, typer.Option("--n", help="Ratings held out per user (leave-last).")] = 1,
    folds: Annotated[int, typer.Option(help="Number of folds (kfold).")] = 5,
    split_seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    baselines: Annotated[bool, typer.Option(help="Also evaluate the baselines.", metavar=FLAG)] = True,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Save the run (metrics, curves, model) here for mfrec report; "
            "with cold-start, add the curve to this run."
        ),
    ] = None,
    cold_users: Annotated[int, typer.Option(help="Users held out entirely (cold-start).")] = 200,
    rank_users: Annotated[
        int,
        typer.Option(
            help="Rank a seeded sample of this many test users per split (ranking scores every item for each; 0 = all)."
        ),
    ] = 10_000,
    plot: Annotated[Path | None, typer.Option(help="Write the cold-start curve as a PNG here (cold-start).")] = None,
    sep: Sep = None,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = "rating",
    timestamp_col: TimestampCol = None,
    rating_scale: RatingScale = None,
    duplicates: Duplicates = None,
    encoding: Encoding = None,
    json_output: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Evaluate a model under a protocol, with the baselines alongside.

    Example: mfrec evaluate ../shared/data/ml-100k --protocol ml100k-folds --json
    """
    from mfrec.evaluation import BASELINES, make_splits, refuse_no_users
    from mfrec.evaluation import evaluate as run_evaluation
    from mfrec.models import make_model

    flags = model_flags(factors, epochs, lr, reg, threads, seed)
    if model == "auto":
        chosen: dict[str, Any] = {}
        make, warm = auto_cli.evaluation_chooser(protocol, flags, params, param)
    else:
        chosen = model_params(model, flags, params, param, also=("auto",))
        build_model(model, chosen)  # validate before spending time on data
        make, warm = (lambda: make_model(model, **chosen)), [make_model(model, **chosen)]
    reading = read_options(sep, user_col, item_col, rating_col, rating_scale, duplicates, encoding, timestamp_col)
    if protocol == "cold-start":
        args = (cold_users, split_seed, k, threshold, plot, run_dir, json_output, quiet, reading)
        return _cold_start(data, model, chosen, *args)
    full, splits = make_splits(
        data,
        protocol,
        test_fraction=test_fraction,
        n=n,
        folds=folds,
        seed=split_seed,
        keep_timestamps=run_dir is not None,  # only the run report reads them: 0.8 GB at 100M ratings
        **reading,
    )
    full = full if run_dir is not None else None  # 2 GB at 100M ratings, and the splits are what counts
    names = [model] + ([b for b in BASELINES if b != model] if baselines else [])
    warm_kernels(warm + [make_model(name) for name in names[1:]], quiet)
    results: dict[str, dict[str, Any]] = {}
    with progress_bar(quiet, "evaluating", len(names) * len(splits)) as advance:
        for name in names:
            factory = make if name == model else (lambda name=name: make_model(name))
            results[name] = run_evaluation(
                factory,
                splits,
                k=k,
                threshold=threshold,
                keep_first_model=run_dir is not None,
                on_fold=lambda fold, r, name=name: advance(1, note=f"{name} fold {fold + 1}"),
                max_users=rank_users or None,
            )
    if run_dir is not None:
        from mfrec.data.sources import load, resolve_source
        from mfrec.reports.run import write_run

        fitted = {name: result.pop("first_model") for name, result in results.items()}

        data_path = resolve_source(data)
        if full is None:  # the ml100k protocols read their fold files, not the whole set
            full = load(data, **reading)
        write_run(
            run_dir,
            full,
            results,
            fitted[model],
            protocol=protocol,
            k=k,
            data_path=data_path,
            histories={name: m.history_ for name, m in fitted.items() if m.history_},
        )
    refuse_no_users(results[model], model)  # metrics over 0 users would be NaN: one line, exit 2
    payload = {"model": model, "params": chosen, "protocol": protocol, "k": k, **results[model]}
    if baselines:
        payload["baseline"] = {"model": "baseline", **_brief(results["baseline"])} if "baseline" in results else None
        payload["baselines"] = {name: _brief(results[name]) for name in names[1:]}
    if json_output:
        print_json(payload)
    else:
        spread = f"{len(splits)} splits, mean" if len(splits) > 1 else "1 split"
        stdout.print(metrics_table(results, k, f"{protocol} on {data} ({spread})"))
        if any(result.get("ratings_cold") for result in results.values()):
            stdout.print(warm_cold_table(results))
        if line := verdict(results, model, k):
            stdout.print(line)
        if chosen_per_split := results[model].get("chosen"):
            stdout.print(f"auto chose, split by split: {', '.join(chosen_per_split)}")
        first = results[model]
        eligible, evaluated = first["users_eligible"], first["users_evaluated"]
        sample = f" (a seeded sample of {eligible:,})" if eligible > evaluated else ""
        stdout.print(
            f"ranking: {evaluated:,} user-folds evaluated{sample}, {first['users_skipped']} without a test "
            f"rating >= {first['threshold']:g} skipped, {first['users_cold']} absent from train skipped"
        )


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "per_fold"}


@app.command()
@handle_errors
def recommend(
    model_dir: ModelDir,
    user: Annotated[list[str] | None, typer.Option("--user", "-u", help="User id (repeat for several).")] = None,
    n: Annotated[int, typer.Option("--n", "-n", help="How many items per user.")] = 10,
    include_seen: Annotated[bool, typer.Option(help="Allow items the user already rated.", metavar=FLAG)] = False,
    rated: Annotated[
        list[str] | None,
        typer.Option("--rated", "-r", help="A new user's rating as ITEM=RATING (repeat; folded in, no retraining)."),
    ] = None,
    unknown: Annotated[str, typer.Option(help="An unknown --user gets: error | fallback (most popular).")] = "error",
    explain: Annotated[
        bool, typer.Option(help="Add 'because': the user's rated items behind each pick.", metavar=FLAG)
    ] = False,
    all_users: engine_cli.AllUsers = False,
    output: engine_cli.ParquetOut = None,
    engine: engine_cli.Engine = "local",
    master: engine_cli.Master = None,
    json_output: AsJson = False,
) -> None:
    """Top-N items for users of a saved model, for a new user given by --rated, or for --all users to Parquet.

    Example: mfrec recommend model/ -u 196 --explain; mfrec recommend model/ --all -o recs.parquet
    """
    from mfrec.models.persistence import load_model
    from mfrec.ranking import PICK_LIKE_NOTE, uses_ranker

    if all_users:
        return engine_cli.recommend_all(model_dir, output, n, user, include_seen, engine, master, json_output)
    model = load_model(model_dir)
    if rated:
        pairs = dict(item_rating(text) for text in rated)
        frame = model.recommend(
            user[0] if user else None, n, exclude_seen=not include_seen, new_user_ratings=pairs, explain=explain
        )
    else:
        if not user:
            raise ParameterError("give --user, or --rated ITEM=RATING for a new user")
        try:
            frame = model.recommend(user, n, exclude_seen=not include_seen, unknown=unknown, explain=explain)
        except UnknownIdError as exc:
            if unknown != "error":
                raise
            raise UnknownIdError(f"{exc}; pass --unknown fallback to answer it with the most popular items") from None
    if json_output:
        print_json({"recommendations": frame.to_dict(orient="records")})
        return
    stdout.print(frame_table(reading_order(frame)))
    if uses_ranker(model) and frame["score_kind"].eq("rating").any():  # the scores are not in rank order
        stdout.print(f"({PICK_LIKE_NOTE})", soft_wrap=False)  # wrapped like the table above it, not one long line
    if not rated:  # a known user with no row left has rated every item
        answered = set(frame["user"].astype(str)) if len(frame) else set()
        for nobody in (u for u in user if str(u) not in answered):
            stderr.print(
                f"user {nobody} has nothing left to recommend: they rated every item (--include-seen ranks those)"
            )


@app.command()
@handle_errors
def similar(
    model_dir: ModelDir,
    item: Annotated[str, typer.Option("--item", "-i", help="Item id.")],
    n: Annotated[int, typer.Option("--n", "-n", help="How many similar items.")] = 10,
    json_output: AsJson = False,
) -> None:
    """Items closest to ITEM in the latent space (cosine)."""
    from mfrec.models.persistence import load_model

    frame = load_model(model_dir).similar_items(item, n)
    if json_output:
        print_json({"similar": frame.to_dict(orient="records")})
    else:
        stdout.print(frame_table(frame))


app.command()(predict_cli.predict)
# Registered last, so --help lists the everyday commands first.
app.command()(tune_cli.tune)
app.command()(pages_cli.report)
app.command()(pages_cli.demo)
app.command()(serve_cli.serve)
