"""The latent space of factor models (similar items and users, embeddings) and persistence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mfrec._validation import check_int
from mfrec.exceptions import ParameterError
from mfrec.kernels.topk import top_k

if TYPE_CHECKING:
    from mfrec.models.base import Recommender


class Latent:
    """Mixin: ``similar_items``, ``similar_users``, ``embeddings``, ``history_frame``, ``save`` / ``load``."""

    # ------------------------------------------------------------------ latent space

    def _require_factors(self, what: str) -> None:
        self._require_fitted()
        if self.n_factors_ == 0:
            raise ParameterError(f"{type(self).__name__} has no latent factors, so {what} is not defined for it")

    def _similar(self, vectors: np.ndarray, row: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        cosine = (vectors @ vectors[row]) / (norms * norms[row])
        allowed = np.ones(vectors.shape[0], dtype=bool)
        allowed[row] = False
        k = min(n, vectors.shape[0])
        items = np.empty((1, k), np.int32)
        scores = np.empty((1, k), np.float32)
        count = np.zeros(1, np.int32)
        empty_ptr = np.zeros(2, np.int64)
        top_k(
            cosine[None, :].astype(np.float32),
            np.zeros(1, np.int32),
            empty_ptr,
            np.zeros(0, np.int32),
            False,
            allowed,
            k,
            items,
            scores,
            count,
        )
        return items[0, : count[0]], scores[0, : count[0]], int(count[0])

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items closest to ``item`` by cosine similarity of their factors.

        Examples
        --------
        >>> model.similar_items("Inception", n=2)  # doctest: +SKIP
        """
        self._require_factors("similar_items")
        row = int(self.item_map_.lookup(item, what="item")[0])
        rows, sims, _ = self._similar(self.item_factors_, row, check_int("n", n, 1))
        frame = pd.DataFrame(
            {
                "item": np.repeat(self.item_map_.to_ids([row]), len(rows)),
                "similar_item": self.item_map_.to_ids(rows),
                "similarity": sims,
            }
        )
        if self.item_labels_ is not None:
            frame["title"] = self.item_labels_[rows]
        return frame

    def similar_users(self, user: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` users closest to ``user`` by cosine similarity of their factors."""
        self._require_factors("similar_users")
        row = int(self.user_map_.lookup(user, what="user")[0])
        rows, sims, _ = self._similar(self.user_factors_, row, check_int("n", n, 1))
        return pd.DataFrame(
            {
                "user": np.repeat(self.user_map_.to_ids([row]), len(rows)),
                "similar_user": self.user_map_.to_ids(rows),
                "similarity": sims,
            }
        )

    def embeddings(self, side: str = "item") -> pd.DataFrame:
        """Factors of ``side`` ("user" or "item") as a DataFrame indexed by the original ids."""
        self._require_factors("embeddings")
        if side not in ("user", "item"):
            raise ParameterError(f"side must be 'user' or 'item', got {side!r}")
        factors, id_map = (
            (self.user_factors_, self.user_map_) if side == "user" else (self.item_factors_, self.item_map_)
        )
        return pd.DataFrame(
            factors, index=pd.Index(id_map.ids, name=side), columns=[f"f{j}" for j in range(factors.shape[1])]
        )

    def history_frame(self) -> pd.DataFrame:
        """``history_`` as a DataFrame, one row per epoch."""
        return pd.DataFrame(self.history_)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Any) -> Any:
        """Write the model to the folder ``path`` (arrays + JSON, no pickle); return the path."""
        from mfrec.models.persistence import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path: Any) -> Recommender:
        """Read a model written by :meth:`save`."""
        from mfrec.models.persistence import load_model

        model = load_model(path)
        if not isinstance(model, cls):
            raise ParameterError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
