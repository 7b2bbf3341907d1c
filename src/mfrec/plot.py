"""Charts as matplotlib Figures (Agg backend, no display needed).

>>> fig = learning_curves({"sgd": model.history_}, baseline_rmse=0.94)  # doctest: +SKIP
>>> fig.savefig("curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mfrec.exceptions import ParameterError  # noqa: E402


def learning_curves(histories: dict[str, Sequence[dict[str, Any]]], *, baseline_rmse: float | None = None) -> Figure:
    """Train (dashed) and validation (solid) RMSE per epoch for each model; the baseline as a grey line."""
    if not histories or not any(histories.values()):
        raise ParameterError("learning_curves needs at least one non-empty history")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for index, (name, history) in enumerate(histories.items()):
        color = f"C{index}"
        epochs = [row["epoch"] for row in history]
        ax.plot(epochs, [row["train_rmse"] for row in history], "--", color=color, label=f"{name} train")
        if history and "val_rmse" in history[0]:
            ax.plot(epochs, [row["val_rmse"] for row in history], "-", color=color, label=f"{name} validation")
    if baseline_rmse is not None:
        ax.axhline(baseline_rmse, color="0.5", linestyle=":", label=f"biases baseline ({baseline_rmse:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


def metric_bars(results: dict[str, dict[str, Any]], metrics: Sequence[str] = ("rmse", "mae", "ndcg@10")) -> Figure:
    """One panel per metric, one bar per model, error bars from ``std`` when present."""
    if not results:
        raise ParameterError("metric_bars needs at least one model's results")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 4), dpi=110, squeeze=False)
    names = list(results)
    for ax, metric in zip(axes[0], metrics):
        values = [results[name][metric] for name in names]
        errors = [results[name].get("std", {}).get(metric, 0.0) for name in names]
        bars = ax.bar(names, values, yerr=errors if any(errors) else None, color=[f"C{i}" for i in range(len(names))],
                      capsize=3)  # fmt: skip
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
        ax.set_title(metric + (" (lower is better)" if metric in ("rmse", "mae") else " (higher is better)"), fontsize=10)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.margins(y=0.15)
    fig.tight_layout()
    return fig
