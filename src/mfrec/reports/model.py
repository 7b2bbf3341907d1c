"""The report on a saved model folder: what the model is, how it trained, its factors, what it recommends.

``mfrec report MODEL_DIR`` needs nothing but the folder ``mfrec train -o`` (or ``model.save``)
wrote: no data, no run. The page shows the model's parameters and sizes, the learning curve
from the per-epoch history saved with it, its factors (norms against popularity, the share of
variance per direction, a 2-D map of the items) and how popular the items it recommends are
compared with the catalogue (top-10 lists of a seeded sample of users, seen items excluded).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mfrec.models.base import Recommender
from mfrec.models.persistence import load_model
from mfrec.ranking import sampled_top_items
from mfrec.reports.html import facts_table, figure_sections, html_page

#: Users whose top-N lists the popularity section draws (a seeded sample on larger models).
SAMPLE_USERS = 2000


def recommendation_popularity(model: Recommender, k: int = 10, *, n_users: int = SAMPLE_USERS, seed: int = 0) -> dict:
    """How popular the items in ``model``'s top-``k`` lists are, for a seeded sample of its users.

    Returns the recommended item rows (flat), the training count of every item, the share
    of the catalogue recommended at least once (``coverage``), the share of recommendations
    going to the 10% most popular items (``top10_share``) and the number of users drawn.
    """
    recommended, drawn = sampled_top_items(model, k, n_users=n_users, seed=seed)
    popularity = np.asarray(model.item_counts_, dtype=np.int64)
    top = np.argsort(-popularity, kind="stable")[: max(1, int(np.ceil(0.1 * len(popularity))))]
    return {
        "recommended": recommended,
        "item_counts": popularity,
        "coverage": float(np.unique(recommended).size / max(1, len(popularity))),
        "top10_share": float(np.isin(recommended, top).mean()) if recommended.size else float("nan"),
        "users": drawn,
        "k": k,
    }


def popularity_chart(summary: dict) -> Any:
    """Cumulative share of recommendations and of training interactions over items ranked by popularity."""
    import matplotlib.pyplot as plt

    counts = summary["item_counts"]
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    times = np.bincount(summary["recommended"], minlength=len(counts))[order]
    x = np.arange(1, len(order) + 1) / len(order)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), dpi=110)
    left.plot(x, np.cumsum(times) / max(1, times.sum()), label=f"top-{summary['k']} recommendations")
    left.plot(x, np.cumsum(counts[order]) / max(1, counts.sum()), "--", label="training interactions")
    left.plot([0, 1], [0, 1], ":", color="0.5", label="uniform")
    left.set_xlabel("items, most popular first (share of catalogue)")
    left.set_ylabel("cumulative share")
    left.set_title("Where recommendations go")
    left.legend(loc="lower right", frameon=False)
    percentile = 100.0 * rank[summary["recommended"]] / max(1, len(order) - 1)
    right.hist(percentile, bins=20, range=(0, 100), color="C0", alpha=0.8)
    right.set_xlabel("popularity rank of a recommended item (percentile, 0 = most popular)")
    right.set_ylabel("recommendations")
    right.set_title(f"{summary['users']:,} users' lists: coverage {summary['coverage']:.1%}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def factor_chart(model: Recommender) -> Any:
    """Item factor norms against training popularity, and the share of variance per principal direction."""
    import matplotlib.pyplot as plt

    Q = np.asarray(model.item_factors_, dtype=np.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), dpi=110)
    left.scatter(np.asarray(model.item_counts_) + 1, np.linalg.norm(Q, axis=1), s=6, alpha=0.4)
    left.set_xscale("log")
    left.set_xlabel("training interactions of the item + 1")
    left.set_ylabel("‖q_i‖")
    left.set_title("Item factor norm against popularity")
    centred = Q - Q.mean(axis=0)
    variance = np.linalg.svd(centred, compute_uv=False) ** 2
    share = variance / max(variance.sum(), np.finfo(float).tiny)
    shown = share[:50]
    right.bar(np.arange(1, len(shown) + 1), shown, color="C1")
    right.set_xlabel("principal direction of the item factors")
    right.set_ylabel("share of variance")
    right.set_title(f"{Q.shape[1]} factors: how many carry signal")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def history_chart(history: list[dict[str, Any]]) -> Any:
    """One panel per quantity recorded per epoch (RMSE train and validation together, loss, AUC, NDCG); None if none."""
    import matplotlib.pyplot as plt

    columns = [c for c in dict.fromkeys(key for row in history for key in row) if c not in ("epoch", "seconds")]
    groups = [[c for c in columns if c.endswith("rmse")]] + [[c] for c in columns if not c.endswith("rmse")]
    groups = [g for g in groups if g]
    if not groups:  # a history of timings only: nothing to draw
        return None
    fig, axes = plt.subplots(1, len(groups), figsize=(7 * len(groups), 4.5), dpi=110, squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for column in group:
            rows = [row for row in history if row.get(column) is not None]
            style = "--" if column.startswith("train") else "-"
            ax.plot([row["epoch"] for row in rows], [row[column] for row in rows], style, label=column)
        ax.set_xlabel("epoch")
        ax.set_title(" / ".join(group))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def build_model_report(folder: str | Path, images: str | Path | None = None, *, k: int = 10) -> str:
    """The HTML of the report on a saved model folder (see the module docstring)."""
    from mfrec.reports import plots as plot

    model = load_model(folder)
    name = type(model).__name__
    popularity = recommendation_popularity(model, k)
    labels = None if model.item_labels_ is None else pd.Series(model.item_labels_, index=model.item_map_.ids)
    charts = {
        "Learning curve": history_chart(model.history_),
        "Factors": factor_chart(model) if model.n_factors_ else None,
        "Item embeddings": plot.embedding_map(model, labels=labels) if model.n_factors_ else None,
        "Popularity of recommendations": popularity_chart(popularity),
    }
    fit_seconds = getattr(model, "fit_seconds_", None)
    facts = [
        ("model", name),
        ("users", f"{len(model.user_map_):,}"),
        ("items", f"{len(model.item_map_):,}"),
        ("training interactions", f"{int(np.asarray(model.item_counts_).sum()):,}"),
        ("factors", str(model.n_factors_)),
        ("scores", model.score_kind),
        ("rating scale", _scale_text(model)),
        ("epochs recorded", str(len(model.history_))),
        ("fit time", "—" if fit_seconds is None else f"{fit_seconds:.1f} s"),
        (f"catalogue coverage@{k}", f"{popularity['coverage']:.1%}"),
        (f"share of top-{k} slots going to the 10% most popular items", f"{popularity['top10_share']:.1%}"),
    ]
    params = [(key, repr(value)) for key, value in model.get_params().items()]
    title = f"mfrec model report: {html.escape(name)} ({html.escape(Path(folder).name)})"
    return html_page(
        title,
        f"""<section id="model"><h2>Model</h2>{facts_table(facts)}</section>
<section id="parameters"><h2>Hyper-parameters</h2>{facts_table(params) if params else "<p>None.</p>"}</section>
{figure_sections(charts, images)}""",
    )


def _scale_text(model: Any) -> str:
    """The rating scale and how it was set: "1–5 (inferred: 1-5)" or "(1.0, 10.0) (declared)"."""
    source = getattr(model, "rating_scale_source_", None)
    return f"{tuple(model.rating_scale_)}" + (f" ({source})" if source else "")
