"""The served model and the ratings logged since it was trained, swapped as one reference.

A request reads ``holder.fresh()`` once and works on that :class:`Served` to the
end, so a reload (which builds a complete new :class:`Served` and then assigns
one attribute) never changes the model under a request in flight.

Several worker processes can serve one model folder and one ratings log: each
loads the folder itself, and per request asks the store for its cheap change
marker; only when it moved does the worker read the new ratings and the model
generation, and reload when another worker's ``POST /admin/reload`` bumped it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numba
import numpy as np

from mfrec import ranking
from mfrec.models import Recommender
from mfrec.models.persistence import load_model, read_metadata
from mfrec.service.store import RatingStore

_thread = threading.local()


def single_threaded() -> None:
    """Numba kernels called from this request thread use one thread (set once per thread; the setting is thread-local).

    One list is microseconds of work: waking a parallel team for it costs more than it
    saves, and on a busy machine far more. Concurrency comes from concurrent requests
    (the kernels release the GIL) and from worker processes.
    """
    if not getattr(_thread, "single", False):
        numba.set_num_threads(1)
        _thread.single = True


@dataclass
class Served:
    """One loaded model plus the ratings logged for each user since its training, by item.

    Also the per-model lookups a request needs without pandas: id text -> row for
    users and items, each item's id as JSON and its title.
    """

    model: Recommender
    meta: dict[str, Any]
    trained_at: float
    version: str
    generation: int = 0
    logged: dict[str, dict[str, float]] = field(default_factory=dict)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    user_rows: dict[str, int] = field(default_factory=dict)
    item_rows: dict[str, int] = field(default_factory=dict)
    item_json: list[Any] = field(default_factory=list)
    titles: list[str] | None = None
    item_native: list[Any] = field(default_factory=list)
    item_ids: Any = None
    ranked: bool = False
    _popular: dict[tuple[int, bool], list[dict[str, Any]]] = field(default_factory=dict)
    _trained: dict[str, dict[Any, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        model = self.model
        # Ids arrive as URL text: the text of an integer id is its decimal spelling, as IdMap matches it.
        self.user_rows = {str(u): r for r, u in enumerate(model.user_map_.ids.tolist())}
        self.item_ids = model.item_map_.ids
        self.item_native = self.item_ids.tolist()
        self.item_json = [as_json_id(i) for i in self.item_native]
        self.item_rows = {str(i): r for r, i in enumerate(self.item_json)}
        self.titles = None if model.item_labels_ is None else model.item_labels_.tolist()
        # A rating model ranked by pick x like orders its lists by another score than the rating shown; the
        # lists here are ordered and shown as recommend() orders and shows them.
        self.ranked = bool(ranking.uses_ranker(model))

    def sync(self, store: RatingStore) -> None:
        """Take in the ratings other requests (or other worker processes) logged since the last sync.

        The first sync starts after the last log id the model was trained on (``last_id``, from its
        ``model.json``), never from a file time: copying or touching the folder changes nothing.
        """
        with self.lock:
            for row in store.since(self.last_id):
                self.logged.setdefault(row.user, {})[row.item] = row.rating
                self.last_id = row.id

    def ratings_of(self, user: str) -> dict[Any, float] | None:
        """Training ratings plus logged ones (the log wins) by the model's item ids, for a user with logged
        ratings; None for a user without. Logged items the model does not know are left out."""
        logged = self.logged.get(user)
        if logged is None:
            return None
        model = self.model
        combined: dict[Any, float] = {}
        if user in self.user_rows:
            if user not in self._trained:  # the training part never changes for this model: read it once
                seen = model.seen_items(model.user_map_.ids[self.user_rows[user]])
                self._trained[user] = dict(zip(seen.index.tolist(), seen.tolist(), strict=True))
            combined.update(self._trained[user])
        ids = self.item_native
        for item, rating in logged.items():
            row = self.item_rows.get(item)
            if row is not None:
                combined[ids[row]] = rating
        return combined

    def recommend(self, user: str, n: int, exclude_seen: bool = True, explain: bool = False) -> tuple[str, list[dict]]:
        """(source, items as JSON-ready dicts) for ``user``: the request path of ``GET recommendations``.

        Ranked by the public API, answered from the pre-built lookups (no DataFrame): a known
        user by :func:`mfrec.ranking.top_n_rows`; a user with new ratings by
        :meth:`Recommender.fold_in` and :func:`mfrec.ranking.top_of_scores`, as
        :meth:`Recommender.recommend` does; the popularity fallback is cached per model.
        Explanations go through :meth:`Recommender.recommend`.
        """
        single_threaded()
        model = self.model
        combined = self.ratings_of(user)
        row = self.user_rows.get(user)
        if explain:
            if combined is not None:
                frame = model.recommend(user, n=n, exclude_seen=exclude_seen, new_user_ratings=combined, explain=True)
            else:
                frame = model.recommend(
                    model.user_map_.ids[row] if row is not None else user,
                    n=n,
                    exclude_seen=exclude_seen,
                    unknown="fallback",
                    explain=True,
                )
            source = str(frame["source"].iloc[0]) if len(frame) else ("model" if row is not None else "popularity")
            return source, self._frame_json(frame)
        if combined is not None:
            folded = model.fold_in(combined)
            scores = ranking.score_folded(model, folded)  # what the list shows: the predicted rating (or the counts)
            order = ranking.rank_scores_folded(model, folded)
            rows, _ = ranking.top_of_scores(model, order, n, exclude=folded.item_rows if exclude_seen else None)
            kind = "popularity" if folded.source == "popularity" else model.score_kind
            return folded.source, self._rows_json(rows.tolist(), self._shown(scores[rows], kind))
        if row is not None:
            rows, scores, counts = ranking.top_n_rows(
                model, np.array([row], np.int32), n, exclude_seen=exclude_seen, n_threads=1
            )
            rows, scores = rows[0, : counts[0]], scores[0, : counts[0]]
            if self.ranked and rows.size:  # ordered by the ranker's score; show the predicted rating
                scores = model.predict(np.repeat(model.user_map_.ids[row : row + 1], rows.size), self.item_ids[rows])
            return "model", self._rows_json(rows.tolist(), self._shown(scores))
        key = (n, exclude_seen)
        if key not in self._popular:
            frame = model.recommend(user, n=n, exclude_seen=exclude_seen, unknown="fallback")
            self._popular[key] = self._frame_json(frame)
        return "popularity", self._popular[key]

    def _shown(self, scores: np.ndarray, kind: str | None = None) -> list[float]:
        """Scores as ``recommend`` shows them: predicted ratings clipped to the scale, like ``predict``."""
        if (kind or self.model.score_kind) == "rating":
            scores = np.clip(scores, *self.model.rating_scale_)
        return scores.tolist()

    def _rows_json(self, rows: list[int], scores: list[float], because: list[str] | None = None) -> list[dict]:
        titles = self.titles
        return [
            {
                "item": self.item_json[r],
                "score": s,
                "rank": k + 1,
                "title": None if titles is None else titles[r],
                "because": None if because is None else because[k],
            }
            for k, (r, s) in enumerate(zip(rows, scores, strict=True))
        ]

    def _frame_json(self, frame: Any) -> list[dict]:
        rows = [self.item_rows[str(as_json_id(i))] for i in frame["item"].tolist()]
        because = frame["because"].tolist() if "because" in frame else None
        return self._rows_json(rows, frame["score"].astype(float).tolist(), because)


def load_served(model_dir: Path, store: RatingStore, generation: int = 0) -> Served:
    """Load the model in ``model_dir`` completely, warm it, and fold in the ratings logged since its training."""
    meta = read_metadata(model_dir)
    stamp = (model_dir / "model.json").stat().st_mtime
    model = load_model(model_dir)
    single_threaded()
    # One call of each path compiles / pages in what the first real request would otherwise pay for.
    model.recommend(new_user_ratings={}, n=1)
    if len(model.user_map_):
        ranking.top_n_rows(model, np.zeros(1, np.int32), 1, n_threads=1)
    trained_at = float(meta.get("trained_at") or stamp)
    version = f"{meta['model']}-{datetime.fromtimestamp(stamp, UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
    # A model trained with --ratings-log holds the log up to this id; one trained without it holds none of it.
    served = Served(model, meta, trained_at, version, generation, last_id=trained_log_id(meta))
    served.sync(store)
    return served


def trained_log_id(meta: dict[str, Any]) -> int:
    """The last ratings-log id the saved model was trained on (0: none of the log)."""
    value = meta.get("ratings_log_id")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class ModelHolder:
    """Holds the current :class:`Served`; :meth:`reload` swaps in a new one atomically, in every worker."""

    def __init__(self, model_dir: str | Path, store: RatingStore):
        self.model_dir = Path(model_dir)
        self.store = store
        self._reload_lock = threading.Lock()
        self._marker: object = store.marker()
        self.current: Served = load_served(self.model_dir, store, store.generation())
        self.reloads = 0

    def fresh(self) -> Served:
        """The current :class:`Served`, first brought up to date with the store when it changed.

        A generation bumped by another worker's reload makes this worker load the model
        folder too (one request waits for it; the others in flight finish on the old model).
        """
        single_threaded()
        marker = self.store.marker()
        if marker != self._marker:
            generation = self.store.generation()
            if generation != self.current.generation:
                with self._reload_lock:
                    generation = self.store.generation()
                    if generation != self.current.generation:
                        self._swap(load_served(self.model_dir, self.store, generation))
            self.current.sync(self.store)
            self._marker = marker
        return self.current

    def reload(self) -> Served:
        """Load the model folder again and swap it in; requests in flight keep the old one.

        The folder is loaded before the generation is bumped, so a broken folder changes nothing.
        """
        with self._reload_lock:
            fresh = load_served(self.model_dir, self.store)
            fresh.generation = self.store.bump_generation()
            self._swap(fresh)
            return fresh

    def _swap(self, fresh: Served) -> None:
        self.current = fresh  # a single reference assignment: atomic for every reader
        self.reloads += 1


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def as_json_id(value: Any) -> Any:
    """A model id as JSON: numpy integers become int, the rest str."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return str(value)
