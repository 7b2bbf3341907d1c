"""The served model and the ratings logged since it was trained, swapped as one reference.

A request reads ``holder.current`` once and works on that :class:`Served` to the
end, so a reload (which builds a complete new :class:`Served` and then assigns
one attribute) never changes the model under a request in flight.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mfrec.models import Recommender
from mfrec.persistence import load_model, read_metadata
from mfrec.service.store import RatingStore


@dataclass
class Served:
    """One loaded model plus the ratings logged for each user since its training, by item."""

    model: Recommender
    meta: dict[str, Any]
    trained_at: float
    version: str
    logged: dict[str, dict[str, float]] = field(default_factory=dict)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sync(self, store: RatingStore) -> None:
        """Take in the ratings other requests (or other worker processes) logged since the last sync."""
        with self.lock:
            for row in store.since(self.last_id, self.trained_at):
                self.logged.setdefault(row.user, {})[row.item] = row.rating
                self.last_id = row.id

    def ratings_of(self, user: str) -> dict[str, float] | None:
        """Training ratings plus logged ones of a user with logged ratings (the log wins); None otherwise."""
        logged = self.logged.get(user)
        if logged is None:
            return None
        model = self.model
        combined: dict[str, float] = {}
        row = model.user_map_.lookup([user], missing="negative")[0]
        if row >= 0 and hasattr(model, "seen_ratings_"):
            start, stop = model.seen_indptr_[row], model.seen_indptr_[row + 1]
            items = model.item_map_.to_ids(model.seen_indices_[start:stop])
            combined.update(zip((str(i) for i in items), model.seen_ratings_[start:stop].tolist(), strict=True))
        combined.update(logged)
        return combined


def load_served(model_dir: Path, store: RatingStore) -> Served:
    """Load the model in ``model_dir`` completely, warm it, and fold in the ratings logged since its training."""
    meta = read_metadata(model_dir)
    stamp = (model_dir / "model.json").stat().st_mtime
    model = load_model(model_dir)
    # One call compiles / pages in what the first real request would otherwise pay for.
    model.recommend(new_user_ratings={}, n=1)
    trained_at = float(meta.get("trained_at") or stamp)
    version = f"{meta['model']}-{datetime.fromtimestamp(stamp, UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
    served = Served(model, meta, trained_at, version)
    served.sync(store)
    return served


class ModelHolder:
    """Holds the current :class:`Served`; :meth:`reload` swaps in a new one atomically."""

    def __init__(self, model_dir: str | Path, store: RatingStore):
        self.model_dir = Path(model_dir)
        self.store = store
        self._reload_lock = threading.Lock()
        self.current: Served = load_served(self.model_dir, store)
        self.reloads = 0

    def reload(self) -> Served:
        """Load the model folder again and swap it in; requests in flight keep the old one."""
        with self._reload_lock:
            fresh = load_served(self.model_dir, self.store)
            self.current = fresh  # a single reference assignment: atomic for every reader
            self.reloads += 1
            return fresh


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def as_json_id(value: Any) -> Any:
    """A model id as JSON: numpy integers become int, the rest str."""
    if isinstance(value, (np.integer, int)):
        return int(value)
    return str(value)
