"""User and item attributes (side information) turned into numeric feature vectors.

A table keyed by the original ids (its index) with any mix of columns:

* numeric or boolean columns are standardised (missing values become the mean);
* text columns whose values hold ``|`` are multi-hot (``"Action|Comedy"``: genres, tags);
* other text columns are one-hot (unseen or missing categories give all zeros);
* text columns with more than ``max_categories`` distinct values (titles, zip codes)
  are left out, since one-hot codes of near-unique values carry nothing that generalises.

The encoder keeps what it learned as JSON, so a saved model encodes new rows the
same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mfrec.exceptions import DataError

MULTI_SEPARATOR = "|"


class AttributeEncoder:
    """Columns -> float32 features, plus a constant 1 (the intercept) as the last feature.

    Examples
    --------
    >>> users = pd.DataFrame({"age": [20, 40], "job": ["artist", "doctor"]}, index=["u1", "u2"])
    >>> encoder = AttributeEncoder.fit(users)
    >>> encoder.feature_names
    ['age', 'job=artist', 'job=doctor', 'intercept']
    >>> encoder.transform(pd.DataFrame({"age": [30], "job": ["artist"]})).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """

    def __init__(self, columns: list[dict[str, Any]]):
        self.columns = columns

    @classmethod
    def fit(cls, frame: pd.DataFrame, *, max_categories: int = 50) -> AttributeEncoder:
        if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
            raise DataError("attributes must be a DataFrame indexed by id with at least one column")
        columns: list[dict[str, Any]] = []
        for name in frame.columns:
            values = frame[name]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                numbers = values.astype(float)
                mean = float(numbers.mean()) if numbers.notna().any() else 0.0
                std = float(numbers.std(ddof=0)) if numbers.notna().sum() > 1 else 0.0
                columns.append({"name": str(name), "kind": "numeric", "mean": mean, "std": std or 1.0})
                continue
            text = values.dropna().astype(str)
            if text.str.contains(MULTI_SEPARATOR, regex=False).any():
                tokens = sorted({t for row in text for t in row.split(MULTI_SEPARATOR) if t})
                if 0 < len(tokens) <= max_categories:
                    columns.append({"name": str(name), "kind": "multi", "categories": tokens})
                continue
            categories = sorted(text.unique().tolist())
            if 0 < len(categories) <= max_categories:
                columns.append({"name": str(name), "kind": "category", "categories": categories})
        if not columns:
            raise DataError(
                f"no usable attribute column among {list(map(str, frame.columns))} "
                f"(text columns need at most {max_categories} distinct values)"
            )
        return cls(columns)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for column in self.columns:
            if column["kind"] == "numeric":
                names.append(column["name"])
            else:
                names += [f"{column['name']}={c}" for c in column["categories"]]
        return [*names, "intercept"]

    def transform(self, frame: pd.DataFrame | dict[str, Any]) -> np.ndarray:
        """float32[n_rows, n_features]; columns the encoder knows but ``frame`` lacks count as missing."""
        if isinstance(frame, dict):
            frame = pd.DataFrame([frame])
        parts = []
        n = len(frame)
        for column in self.columns:
            values = frame[column["name"]] if column["name"] in frame.columns else pd.Series([np.nan] * n)
            if column["kind"] == "numeric":
                numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
                scaled = (numbers - column["mean"]) / column["std"]
                parts.append(np.nan_to_num(scaled, nan=0.0)[:, None])
                continue
            categories = {c: j for j, c in enumerate(column["categories"])}
            block = np.zeros((n, len(categories)))
            for row, value in enumerate(values.to_numpy()):
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                tokens = str(value).split(MULTI_SEPARATOR) if column["kind"] == "multi" else [str(value)]
                for token in tokens:
                    j = categories.get(token)
                    if j is not None:
                        block[row, j] = 1.0
            parts.append(block)
        parts.append(np.ones((n, 1)))
        return np.hstack(parts).astype(np.float32)

    def to_json(self) -> list[dict[str, Any]]:
        return self.columns

    @classmethod
    def from_json(cls, columns: list[dict[str, Any]]) -> AttributeEncoder:
        return cls(columns)


def ridge_map(features: np.ndarray, targets: np.ndarray, regularization: float) -> np.ndarray:
    """W minimising |features W - targets|^2 + regularization |W|^2 (the intercept is not penalised)."""
    gram = features.T.astype(np.float64) @ features
    penalty = np.full(features.shape[1], regularization)
    penalty[-1] = 0.0  # the intercept column is last
    gram[np.diag_indices_from(gram)] += penalty + 1e-9
    return np.linalg.solve(gram, features.T.astype(np.float64) @ targets).astype(np.float32)
