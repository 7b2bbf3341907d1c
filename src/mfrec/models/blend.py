"""A factor model blended with the bias baseline: ``w * model + (1 - w) * (mu + b_u + b_i)``, still a factor model.

The weight comes from held-out ratings (:func:`blend_weight`); :func:`blend_with_biases` then rewrites the fitted
arrays so that the model predicts the blend exactly, and ranks, saves and serves as before: the biases become
the weighted sum of both models' biases, every factor-like array (whose products form the interaction terms) is
scaled by sqrt(w) and every weight-like array (whose sums are linear terms) by w. Used by
:class:`~mfrec.models.bayesian.BayesianMF` (``blend=True``).

Examples
--------
>>> import numpy as np
>>> truth = np.array([4.0, 3.0, 5.0, 4.0])
>>> blend_weight(truth, truth + 0.5, truth - 0.5)  # the even mix is exact
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Arrays whose products with each other form the interaction terms (scaled by sqrt(w)), and arrays that enter
#: the prediction linearly (scaled by w); absent ones are skipped.
FACTOR_ARRAYS = (
    "user_factors_",
    "item_factors_",
    "implicit_item_factors_",
    "user_implicit_sums_",
    "implicit_user_factors_",
    "item_implicit_sums_",
)
LINEAR_ARRAYS = (
    "implicit_item_weights_",
    "implicit_user_weights_",
    "user_implicit_bias_",
    "item_implicit_bias_",
    "item_time_bias_",
    "user_day_bias_",
)


def blend_weight(truth: np.ndarray, model: np.ndarray, baseline: np.ndarray) -> float:
    """The w in [0, 1] whose ``w * model + (1 - w) * baseline`` has the least squared error on ``truth``.

    1 when the two predictions agree everywhere (nothing to choose between).
    """
    difference = np.asarray(model, np.float64) - np.asarray(baseline, np.float64)
    spread = float(difference @ difference)
    if spread <= 0.0:
        return 1.0
    weight = float((np.asarray(truth, np.float64) - baseline) @ difference) / spread
    return float(min(1.0, max(0.0, weight)))


def blend_with_biases(model: Any, weight: float, user_bias: np.ndarray, item_bias: np.ndarray) -> None:
    """Rewrite ``model``'s arrays so that it predicts ``weight * itself + (1 - weight) * (mu + user_bias +
    item_bias)`` (the same ``global_mean_``), its interaction terms included."""
    if weight >= 1.0:
        return
    root = np.float32(np.sqrt(weight))
    for name in FACTOR_ARRAYS:
        if getattr(model, name, None) is not None:
            setattr(model, name, np.ascontiguousarray(getattr(model, name) * root))
    for name in LINEAR_ARRAYS:
        if getattr(model, name, None) is not None:
            setattr(model, name, (getattr(model, name) * np.float32(weight)).astype(np.float32))
    model.user_bias_ = (weight * model.user_bias_ + (1.0 - weight) * user_bias).astype(np.float32)
    model.item_bias_ = (weight * model.item_bias_ + (1.0 - weight) * item_bias).astype(np.float32)
