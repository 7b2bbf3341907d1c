"""Charts as matplotlib Figures (Agg backend, no display needed), deterministic for the same input.

>>> fig = learning_curves({"sgd": model.history_}, baseline_rmse=0.94)  # doctest: +SKIP
>>> fig.savefig("curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mfrec.data.interactions import Interactions
from mfrec.exceptions import ParameterError
from mfrec.models.base import Recommender

matplotlib.rcParams["svg.hashsalt"] = "mfrec"  # stable output for the same input


def learning_curves(
    histories: dict[str, Sequence[dict[str, Any]]],
    *,
    baseline_rmse: float | None = None,
    metric: str = "rmse",
) -> Figure:
    """Train (dashed) and validation (solid) RMSE per epoch for each model; the baseline as a grey line.

    The baseline (a held-out RMSE) is drawn only when there is a validation curve to compare it
    with; the title says which curves the chart holds.

    Epochs without a validation figure (e.g. Bayesian MF's burn-in) are left out of
    the validation line. ``metric="ndcg@10"`` adds a second panel with the validation
    NDCG@10 recorded by ``fit(validation=..., track_ndcg=10)``.
    """
    if metric != "rmse":
        key = f"val_{metric}"
        if not any(row.get(key) is not None for history in histories.values() for row in history):
            raise ParameterError(f"no {key!r} in the histories; fit with validation=... and track_ndcg=K")
    if not histories or not any(histories.values()):
        raise ParameterError("learning_curves needs at least one non-empty history")
    panels = 1 if metric == "rmse" else 2
    fig, axes = plt.subplots(1, panels, figsize=(8 * panels, 5), dpi=110, squeeze=False)
    ax = axes[0, 0]
    for index, (name, history) in enumerate(histories.items()):
        color = f"C{index}"
        epochs = [row["epoch"] for row in history]
        if panels == 2:
            ranked = [row for row in history if row.get(f"val_{metric}") is not None]
            axes[0, 1].plot(
                [row["epoch"] for row in ranked],
                [row[f"val_{metric}"] for row in ranked],
                "-",
                color=color,
                label=f"{name} validation",
            )
        if "train_rmse" not in history[0]:  # implicit models train on another objective
            continue
        ax.plot(epochs, [row["train_rmse"] for row in history], "--", color=color, label=f"{name} train")
        validated = [row for row in history if row.get("val_rmse") is not None]
        if validated:
            ax.plot(
                [row["epoch"] for row in validated],
                [row["val_rmse"] for row in validated],
                "-",
                color=color,
                label=f"{name} validation",
            )
    validated = any(row.get("val_rmse") is not None for history in histories.values() for row in history)
    # The baseline's RMSE is measured on held-out ratings: drawn only beside a validation curve, never
    # against a train curve alone, which it would flatter.
    if baseline_rmse is not None and validated:
        ax.axhline(baseline_rmse, color="0.5", linestyle=":", label=f"biases baseline, held out ({baseline_rmse:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(
        "RMSE per epoch: train (dashed) and validation (solid)"
        if validated
        else "Train RMSE per epoch (fitted without a validation set)"
    )
    ax.grid(alpha=0.3)
    # Where the curves leave room: a fixed corner sat on the validation curve and the baseline on some logs.
    ax.legend(loc="best", framealpha=0.85, edgecolor="none")
    if panels == 2:
        axes[0, 1].set_xlabel("epoch")
        axes[0, 1].set_ylabel(metric.upper())
        axes[0, 1].set_title(f"Validation {metric.upper()}")
        axes[0, 1].grid(alpha=0.3)
        axes[0, 1].legend(loc="best", framealpha=0.85, edgecolor="none")
    fig.tight_layout()
    return fig


def metric_bars(results: dict[str, dict[str, Any]], metrics: Sequence[str] = ("rmse", "mae", "ndcg@10")) -> Figure:
    """One panel per metric, one bar per model, error bars from ``std`` when present."""
    if not results:
        raise ParameterError("metric_bars needs at least one model's results")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 4), dpi=110, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        names = [name for name in results if metric in results[name]]  # implicit models have no RMSE
        values = [results[name][metric] for name in names]
        errors = [results[name].get("std", {}).get(metric, 0.0) for name in names]
        bars = ax.bar(
            names, values, yerr=errors if any(errors) else None, color=[f"C{i}" for i in range(len(names))], capsize=3
        )
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
        ax.set_title(
            metric + (" (lower is better)" if metric in ("rmse", "mae") else " (higher is better)"), fontsize=10
        )
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.margins(y=0.15)
    spread = any(any(result.get("std", {}).get(m) for m in metrics) for result in results.values())
    fig.suptitle(
        "Held-out metrics by model"
        + (" (mean over splits; error bars: standard deviation)" if spread else " (one split)"),
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def cold_start_curve(curve: Sequence[dict[str, Any]], *, k: int = 10) -> Figure:
    """RMSE and NDCG@k against the number of revealed ratings, one line per method (cold-start protocol)."""
    if not curve:
        raise ParameterError("cold_start_curve needs the rows of mfrec.evaluation.cold_start_curve")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    methods = list(dict.fromkeys(row["method"] for row in curve))
    for index, method in enumerate(methods):
        rows = sorted((row for row in curve if row["method"] == method), key=lambda row: row["revealed"])
        shown = [row["revealed"] for row in rows]
        for ax, key in zip(axes, ("rmse", f"ndcg@{k}")):
            ax.plot(shown, [row[key] for row in rows], "o-", color=f"C{index}", label=method)
    for ax, title in zip(axes, ("RMSE (lower is better)", f"NDCG@{k} (higher is better)")):
        ax.set_xlabel("ratings revealed per held-out user")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Cold start: {curve[0]['users']} users unseen in training", fontsize=11)
    fig.tight_layout()
    return fig


def spectrum(data: Interactions, *, n_values: int = 100, chosen_k: int | None = None) -> Figure:
    """Singular values of the mean-centred rating matrix, with cumulative explained variance and k marked.

    The matrix is centred by the global mean on the observed cells only (missing cells
    stay zero, i.e. "at the mean") and decomposed sparsely with ``svds``; the share of
    variance is relative to the squared Frobenius norm, the total over all ranks.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    values = data.ratings.astype(np.float64) - data.ratings.mean()
    matrix = sp.csr_matrix((values, (data.user_idx, data.item_idx)), shape=(data.n_users, data.n_items))
    if chosen_k is not None:  # always show the chosen rank, with some of the tail after it
        n_values = max(n_values, chosen_k + 20)
    n_values = int(min(n_values, min(matrix.shape) - 1))
    if n_values < 1:
        raise ParameterError("the rating matrix is too small for a spectrum")
    singular = np.sort(svds(matrix, k=n_values, random_state=0, return_singular_vectors=False))[::-1]
    share = np.cumsum(singular**2) / float(values @ values)
    fig, left = plt.subplots(figsize=(8, 5), dpi=110)
    ranks = np.arange(1, n_values + 1)
    left.plot(ranks, singular, color="C0", marker="o", markersize=2.5, label="singular value")
    left.set_xlabel("rank")
    left.set_ylabel("singular value", color="C0")
    right = left.twinx()
    right.plot(ranks, share * 100, color="C1", label="cumulative variance explained")
    right.set_ylabel("cumulative variance explained (%)", color="C1")
    right.set_ylim(0, 100)
    if chosen_k is not None and 1 <= chosen_k <= n_values:
        left.axvline(chosen_k, color="0.4", linestyle=":")
        on_right = chosen_k > n_values / 2  # keep the label inside the plot, away from the right axis
        right.annotate(
            f"k = {chosen_k}: {share[chosen_k - 1]:.0%} of variance",
            (chosen_k, share[chosen_k - 1] * 100),
            xytext=(-8 if on_right else 8, 8),
            textcoords="offset points",
            fontsize=9,
            ha="right" if on_right else "left",
        )
    left.set_title(f"Singular-value spectrum of the centred rating matrix ({data.name or 'data'})")
    left.grid(alpha=0.3)
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(lines, labels, loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


def _first_token(value: Any) -> str:
    text = str(value) if isinstance(value, str) and value else "unknown"
    return text.split("|")[0]


def embedding_map(
    model: Recommender,
    *,
    side: str = "item",
    color_by: pd.Series | None = None,
    labels: pd.Series | None = None,
    n_labels: int = 25,
    max_points: int = 5000,
) -> Figure:
    """Factors projected to 2-D by PCA, coloured by a metadata column, the most popular points labelled.

    ``color_by`` and ``labels`` are Series indexed by the original ids (e.g. an item's
    first genre and its title); multi-valued strings like "Action|Comedy" are coloured
    by their first value. Labels are placed greedily, most popular first, and a label
    that would overlap one already drawn is skipped, so the text stays legible.
    """
    embeddings = model.embeddings(side)
    counts = (
        pd.Series(model.item_counts_, index=embeddings.index)
        if side == "item"
        else pd.Series(np.diff(model.seen_indptr_), index=embeddings.index)
    )
    if len(embeddings) > max_points:  # keep the most popular, which are the ones people recognise
        embeddings = embeddings.loc[counts.sort_values(ascending=False).index[:max_points]]
    X = embeddings.to_numpy(np.float64)
    X = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    xy = X @ vt[:2].T
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    if color_by is not None:
        groups = color_by.reindex(embeddings.index).map(_first_token)
        palette = plt.get_cmap("tab20")
        for index, (group, members) in enumerate(sorted(groups.groupby(groups).groups.items())):
            rows = embeddings.index.get_indexer(members)
            ax.scatter(xy[rows, 0], xy[rows, 1], s=10, alpha=0.6, color=palette(index % 20), label=group)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, markerscale=2)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=10, alpha=0.6)
    if labels is not None and n_labels > 0:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        placed = []
        order = counts.reindex(embeddings.index).to_numpy().argsort()[::-1]
        for row in order[: n_labels * 4]:
            if len(placed) >= n_labels:
                break
            label = str(labels.get(embeddings.index[row], embeddings.index[row]))
            label = label if len(label) <= 40 else label[:38].rstrip() + "…"
            text = ax.annotate(label, xy[row], xytext=(3, 3), textcoords="offset points", fontsize=7.5, color="0.15")
            box = text.get_window_extent(renderer).expanded(1.05, 1.15)
            if any(box.overlaps(other) for other in placed) or not ax.get_window_extent(renderer).contains(
                box.x1, box.y1
            ):
                text.remove()
            else:
                placed.append(box)
    variance = np.linalg.svd(X, compute_uv=False) ** 2
    share = variance[:2] / variance.sum()
    ax.set_xlabel(f"PC 1 ({share[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.0%} of variance)")
    ax.set_title(f"{side.capitalize()} embeddings, PCA to 2-D")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return fig


def recommended_popularity(model: Recommender, *, k: int = 10, max_users: int = 2_000) -> Figure:
    """Popularity of recommended items against the catalogue: who gets into the top-``k`` lists?

    Two cumulative distributions over the number of training ratings of an item (log
    scale): the catalogue's items, and the items in the top-``k`` lists of up to
    ``max_users`` users (a seeded sample; one entry per list slot, ranked as ``recommend`` ranks). A
    recommender stuck on obscure items sits left of the catalogue; a popularity chart
    sits at the far right.
    """
    from mfrec.ranking import sampled_top_items

    slots, drawn = sampled_top_items(model, k, n_users=max_users)
    popularity = np.maximum(model.item_counts_, 1)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for index, (label, values) in enumerate(
        (("catalogue items", popularity), (f"recommended items (top-{k} of {drawn} users)", popularity[slots]))
    ):
        shown = np.sort(values)
        ax.step(
            shown,
            np.arange(1, shown.size + 1) / max(1, shown.size),
            where="post",
            color=f"C{index}",
            label=f"{label}: median {np.median(values):.0f}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("training ratings of the item (log scale)")
    ax.set_ylabel("share of items at or below")
    ax.set_title(f"{type(model).__name__}: popularity of recommended items against the catalogue", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
