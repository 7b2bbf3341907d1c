"""The ratings log: every rating the service acknowledged, durable before the answer.

:class:`RatingStore` is the small interface the service needs; :class:`SQLiteStore`
is the embedded default (WAL journal, ``synchronous=FULL``: a committed rating
survives a process kill and a power cut). A server database can replace it by
implementing the same four methods.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from mfrec.exceptions import MfrecError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    item TEXT NOT NULL,
    rating REAL NOT NULL,
    logged_at REAL NOT NULL,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS ratings_user ON ratings (user);
CREATE TABLE IF NOT EXISTS user_requests (
    user TEXT NOT NULL,
    request_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    n_ratings INTEGER NOT NULL,
    logged_at REAL NOT NULL,
    PRIMARY KEY (user, request_id)
);
CREATE TABLE IF NOT EXISTS service_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class RequestConflict(MfrecError):
    """A ``request_id`` the same user already used with a different body: nothing is logged."""


def _digest(ratings: list[tuple[str, float]]) -> str:
    """What identifies a request's body: its (item, rating) pairs in order."""
    return hashlib.sha256(json.dumps([[str(i), float(r)] for i, r in ratings]).encode()).hexdigest()


@dataclass(frozen=True)
class Appended:
    """What :meth:`RatingStore.append` did: ``duplicate`` is True when the request id was seen before."""

    n_ratings: int
    duplicate: bool
    logged_at: float


@dataclass(frozen=True)
class LoggedRating:
    id: int
    user: str
    item: str
    rating: float
    logged_at: float


class RatingStore(Protocol):
    """What the service needs from a ratings log."""

    def append(self, user: str, ratings: list[tuple[str, float]], request_id: str | None = None) -> Appended:
        """Commit ``ratings`` durably (all or none); a repeated (user, ``request_id``) commits nothing, and
        raises :class:`RequestConflict` when its ratings differ from the first request's."""

    def since(self, after_id: int = 0, logged_after: float = 0.0) -> list[LoggedRating]:
        """Ratings with id > ``after_id`` logged after ``logged_after``, oldest first."""

    def count(self, logged_after: float = 0.0, after_id: int = 0) -> int:
        """How many ratings with id > ``after_id`` were logged after ``logged_after``."""

    def marker(self) -> object:
        """A cheap value that changes whenever anything (any process) committed to the store."""

    def generation(self) -> int:
        """The served model's generation: how many times any worker reloaded the model."""

    def bump_generation(self) -> int:
        """Increment the generation (durably) and return the new value."""

    def close(self) -> None: ...


class SQLiteStore:
    """The ratings log in one SQLite file (WAL, ``synchronous=FULL``), safe across threads and processes.

    Examples
    --------
    >>> import tempfile, os
    >>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "log.sqlite"))
    >>> store.append("alice", [("Inception", 5.0)], request_id="r1").duplicate
    False
    >>> store.append("alice", [("Inception", 5.0)], request_id="r1").duplicate
    True
    >>> store.count()
    1
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # One connection shared by the worker's threads, serialised by a lock: SQLite
        # writes are serialised anyway, and reads of a few rows are microseconds.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._lock = threading.Lock()
        self._commits = 0  # this connection's own commits: data_version only counts other connections'
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)

    def append(self, user: str, ratings: list[tuple[str, float]], request_id: str | None = None) -> Appended:
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if request_id is not None:
                    # Idempotency is per (user, request id): another user's id never drops these ratings.
                    digest = _digest(ratings)
                    seen = self._conn.execute(
                        "SELECT n_ratings, logged_at, digest FROM user_requests WHERE user = ? AND request_id = ?",
                        (user, request_id),
                    ).fetchone()
                    if seen is not None:
                        self._conn.execute("ROLLBACK")
                        if seen[2] != digest:
                            raise RequestConflict(
                                f"request_id {request_id!r} was already used by user {user!r} with other ratings "
                                f"({int(seen[0])} logged); use a new request_id for new ratings"
                            )
                        return Appended(int(seen[0]), True, float(seen[1]))
                    self._conn.execute(
                        "INSERT INTO user_requests VALUES (?, ?, ?, ?, ?)",
                        (user, request_id, digest, len(ratings), now),
                    )
                self._conn.executemany(
                    "INSERT INTO ratings (user, item, rating, logged_at, request_id) VALUES (?, ?, ?, ?, ?)",
                    [(user, item, float(value), now, request_id) for item, value in ratings],
                )
                self._conn.execute("COMMIT")
                self._commits += 1
            except RequestConflict:
                raise
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return Appended(len(ratings), False, now)

    def since(self, after_id: int = 0, logged_after: float = 0.0) -> list[LoggedRating]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, user, item, rating, logged_at FROM ratings WHERE id > ? AND logged_at > ? ORDER BY id",
                (after_id, logged_after),
            ).fetchall()
        return [LoggedRating(*row) for row in rows]

    def count(self, logged_after: float = 0.0, after_id: int = 0) -> int:
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT COUNT(*) FROM ratings WHERE id > ? AND logged_at > ?", (after_id, logged_after)
                ).fetchone()[0]
            )

    def marker(self) -> tuple[int, int]:
        # PRAGMA data_version changes when another connection (another worker) commits: one cheap call.
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0]), self._commits

    def generation(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM service_state WHERE key = 'generation'").fetchone()
        return 0 if row is None else int(row[0])

    def bump_generation(self) -> int:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO service_state VALUES ('generation', 1) "
                    "ON CONFLICT (key) DO UPDATE SET value = value + 1"
                )
                value = int(
                    self._conn.execute("SELECT value FROM service_state WHERE key = 'generation'").fetchone()[0]
                )
                self._conn.execute("COMMIT")
                self._commits += 1
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return value

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_log(path: str | Path, with_ids: bool = False) -> pd.DataFrame:
    """The whole ratings log as a DataFrame (user, item, rating, timestamp), e.g. to retrain with it.

    ``with_ids`` adds the log's ``id`` column (increasing): a model trained on the log records the
    last one, and the service folds in only what came after it. The file is opened read-only, so
    this never creates nor changes a log; it is read in one transaction (one snapshot).
    """
    uri = f"file:{Path(path).resolve()}?mode=ro"
    columns = "id, " * with_ids + "user, item, rating, logged_at AS timestamp"
    with sqlite3.connect(uri, uri=True) as conn:
        frame = pd.read_sql_query(f"SELECT {columns} FROM ratings ORDER BY id", conn)
    return frame
