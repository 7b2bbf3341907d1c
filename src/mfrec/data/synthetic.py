"""Synthetic interactions with realistic structure, deterministic by seed.

Ratings follow ``mu + b_u + b_i + p_u . q_i + noise`` with low-rank taste, item
popularity and user activity drawn from power laws (a long tail, a few heavy
users), rounded to the rating scale. Users are generated in chunks, so a 100M
rating file is written without holding more than one chunk in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions
from mfrec.exceptions import DataError, ParameterError
from mfrec.kernels.synthetic import generate_chunk

_T_START = 1_500_000_000  # 2017-07-14, an arbitrary but fixed origin
_T_SPAN = 3 * 365 * 86_400


@dataclass(frozen=True)
class SyntheticSpec:
    n_users: int = 1_000
    n_items: int = 500
    n_ratings: int = 50_000
    n_factors: int = 8
    seed: int = 0
    rating_scale: tuple[float, float] = (1.0, 5.0)
    rating_step: float = 1.0
    global_mean: float = 3.55
    user_bias_std: float = 0.35
    item_bias_std: float = 0.45
    taste_std: float = 0.6  # std of p_u . q_i
    noise: float = 0.6
    popularity_exponent: float = 0.9  # Zipf exponent of item popularity
    activity_exponent: float = 0.7  # Zipf exponent of user activity
    min_per_user: int = 5

    def check(self) -> None:
        for name in ("n_users", "n_items", "n_ratings", "n_factors"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive int, got {value!r}")
        cap = self.n_users * (self.n_items // 2)
        if self.n_ratings > cap:
            raise ParameterError(
                f"n_ratings={self.n_ratings:,} is more than half the matrix allows "
                f"({self.n_users:,} users x {self.n_items:,} items / 2 = {cap:,})"
            )
        if self.min_per_user * self.n_users > self.n_ratings:
            raise ParameterError(
                f"n_ratings must be at least {self.min_per_user} per user ({self.min_per_user * self.n_users:,})"
            )


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights[rng.permutation(n)]


def _user_counts(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: power-law shares of n_ratings, at least min_per_user, at most half the items."""
    cap = max(spec.min_per_user, spec.n_items // 2)
    share = _zipf_weights(spec.n_users, spec.activity_exponent, rng)
    counts = np.full(spec.n_users, spec.min_per_user, dtype=np.int64)
    remaining = spec.n_ratings - counts.sum()
    while remaining > 0:
        room = counts < cap
        extra = np.floor(remaining * share * room / (share * room).sum()).astype(np.int64)
        if extra.sum() == 0:  # hand the last few out to the largest shares
            extra[np.argsort(-(share * room))[:remaining]] = 1
        counts = np.minimum(counts + extra, cap)
        remaining = spec.n_ratings - counts.sum()
    return counts


def _items(spec: SyntheticSpec, rng: np.random.Generator, item_factors: np.ndarray | None):
    weights = _zipf_weights(spec.n_items, spec.popularity_exponent, rng)
    factor_std = np.sqrt(spec.taste_std / np.sqrt(spec.n_factors))
    if item_factors is None:
        item_factors = rng.normal(0.0, factor_std, (spec.n_items, spec.n_factors))
    # Popular items are rated a little higher, as on every real catalogue.
    z = np.log(weights)
    z = (z - z.mean()) / (z.std() + 1e-12)
    item_bias = rng.normal(0.0, spec.item_bias_std, spec.n_items) * 0.8 + 0.2 * spec.item_bias_std * z
    return weights, np.ascontiguousarray(item_factors, dtype=np.float64), item_bias


def iter_chunks(
    spec: SyntheticSpec, *, chunk_ratings: int = 5_000_000, item_factors: np.ndarray | None = None
) -> Iterator[pd.DataFrame]:
    """Yield the synthetic interactions as DataFrames of ~``chunk_ratings`` rows (user, item, rating, timestamp)."""
    spec.check()
    root = np.random.SeedSequence(spec.seed)
    setup_seq, chunk_seq = root.spawn(2)
    rng = np.random.default_rng(setup_seq)
    counts = _user_counts(spec, rng)
    weights, q, item_bias = _items(spec, rng, item_factors)
    cdf = np.cumsum(weights)
    factor_std = np.sqrt(spec.taste_std / np.sqrt(spec.n_factors))
    stamp = np.full(spec.n_items, -1, dtype=np.int64)
    bounds = np.searchsorted(np.cumsum(counts), np.arange(chunk_ratings, counts.sum(), chunk_ratings), side="left")
    starts = np.concatenate([[0], bounds + 1])
    ends = np.concatenate([bounds + 1, [spec.n_users]])
    low, high = spec.rating_scale
    for chunk_id, (start, end) in enumerate(zip(starts, ends)):
        if start >= end:
            continue
        crng = np.random.default_rng(chunk_seq.spawn(chunk_id + 1)[-1])
        p = crng.normal(0.0, factor_std, (end - start, spec.n_factors))
        b_u = crng.normal(0.0, spec.user_bias_std, end - start)
        users, items, ratings, times = generate_chunk(
            int(crng.integers(2**31)),
            int(start),
            counts[start:end],
            p,
            b_u,
            q,
            item_bias,
            spec.global_mean,
            spec.noise,
            cdf,
            weights,
            low,
            high,
            spec.rating_step,
            float(_T_START),
            float(_T_SPAN),
            stamp,
        )
        yield pd.DataFrame({"user": users + 1, "item": items + 1, "rating": ratings, "timestamp": times})


def synthetic(
    n_users: int = 1_000, n_items: int = 500, n_ratings: int = 50_000, *, seed: int = 0, **kwargs
) -> Interactions:
    """Synthetic explicit ratings in memory (ids are 1-based ints).

    Examples
    --------
    >>> data = synthetic(200, 100, 4_000, seed=1)
    >>> len(data), data.rating_scale
    (4000, (1.0, 5.0))
    """
    spec = SyntheticSpec(n_users=n_users, n_items=n_items, n_ratings=n_ratings, seed=seed, **kwargs)
    return _to_interactions(spec, pd.concat(list(iter_chunks(spec)), ignore_index=True), name="synthetic")


def _to_interactions(spec: SyntheticSpec, frame: pd.DataFrame, name: str, **info) -> Interactions:
    # Every user and item id 1..n is present by construction except items nobody drew; keep the ones seen.
    users = frame["user"].to_numpy(np.int64)
    items = frame["item"].to_numpy(np.int64)
    item_present = np.flatnonzero(np.bincount(items, minlength=spec.n_items + 1))
    remap = np.full(spec.n_items + 1, -1, dtype=np.int32)
    remap[item_present] = np.arange(item_present.size, dtype=np.int32)
    return Interactions(
        user_idx=(users - 1).astype(np.int32),
        item_idx=remap[items],
        ratings=frame["rating"].to_numpy(np.float32),
        user_ids=IdMap(np.arange(1, spec.n_users + 1, dtype=np.int64)),
        item_ids=IdMap(item_present.astype(np.int64)),
        timestamps=frame["timestamp"].to_numpy(np.int64),
        rating_scale=tuple(map(float, spec.rating_scale)),
        name=name,
        **info,
    )


def write_parquet(path: str | Path, spec: SyntheticSpec, *, chunk_ratings: int = 5_000_000, progress=None) -> Path:
    """Write the synthetic set to Parquet chunk by chunk (memory stays ~ one chunk)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for frame in iter_chunks(spec, chunk_ratings=chunk_ratings):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            if progress:
                progress(len(frame))
    finally:
        if writer is not None:
            writer.close()
    return path


SYNTH_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": ",", ".tsv": "\t", ".tab": "\t"}


def synthetic_format(path: str | Path) -> str:
    """``"parquet"`` or the text separator that ``path``'s suffix names; DataError for any other suffix."""
    kind = SYNTH_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise DataError(
            f"cannot tell the format of {Path(path).name!r} from its suffix; use one of {', '.join(SYNTH_FORMATS)}"
        )
    return kind


def write_synthetic(path: str | Path, spec: SyntheticSpec, *, chunk_ratings: int = 5_000_000, progress=None) -> Path:
    """Write the synthetic set in the format ``path``'s suffix names: .parquet/.pq, .csv or .tsv; refuse others.

    Text files get a header (user, item, rating, timestamp) and are written chunk by chunk too.

    Examples
    --------
    >>> write_synthetic("small.csv", SyntheticSpec(n_users=50, n_items=20, n_ratings=500))  # doctest: +SKIP
    PosixPath('small.csv')
    """
    path = Path(path)
    kind = synthetic_format(path)
    if kind == "parquet":
        return write_parquet(path, spec, chunk_ratings=chunk_ratings, progress=progress)
    spec.check()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        for index, frame in enumerate(iter_chunks(spec, chunk_ratings=chunk_ratings)):
            frame.to_csv(handle, sep=kind, header=index == 0, index=False)
            if progress:
                progress(len(frame))
    return path


# --------------------------------------------------------------------------- the built-in "movies" set

MOVIE_GENRES = ["Action", "Comedy", "Drama", "Romance", "Sci-Fi", "Horror", "Animation", "Documentary"]
_ADJECTIVES = (
    "Silent Broken Golden Hidden Last Midnight Crimson Electric Wild Distant Frozen Burning Secret Lost Iron "
    "Velvet Hollow Bright Savage Quiet Restless Endless Little Northern Paper"
).split()
_NOUNS = (
    "Harbor Empire Garden Signal Horizon Mirror Voyage Kingdom Storm River Machine Orchard Station Frontier "
    "Lantern Circus Planet Winter Shadow Melody Canyon Letter Engine Island Promise"
).split()


def movies(seed: int = 0) -> Interactions:
    """A MovieLens-sized synthetic catalogue (943 users, ~1,650 titled movies, 100k ratings) with genres.

    Used by ``mfrec demo`` when MovieLens cannot be found. Taste follows genre, so
    factor models find real structure in it and the embedding map shows clusters.
    """
    spec = SyntheticSpec(n_users=943, n_items=1682, n_ratings=100_000, n_factors=len(MOVIE_GENRES), seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    genre = rng.integers(0, len(MOVIE_GENRES), spec.n_items)
    second = np.where(rng.random(spec.n_items) < 0.3, rng.integers(0, len(MOVIE_GENRES), spec.n_items), genre)
    factors = rng.normal(0.0, 0.12, (spec.n_items, len(MOVIE_GENRES)))
    factors[np.arange(spec.n_items), genre] += 0.75
    factors[np.arange(spec.n_items), second] += 0.35
    years = rng.integers(1950, 2024, spec.n_items)
    titles = [
        f"The {_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_NOUNS[rng.integers(len(_NOUNS))]} ({years[i]})"
        for i in range(spec.n_items)
    ]
    genres = [MOVIE_GENRES[g] if g == s else f"{MOVIE_GENRES[g]}|{MOVIE_GENRES[s]}" for g, s in zip(genre, second)]
    item_info = pd.DataFrame(
        {"title": titles, "genres": genres}, index=pd.Index(np.arange(1, spec.n_items + 1), name="item")
    )
    frame = pd.concat(list(iter_chunks(spec, item_factors=factors)), ignore_index=True)
    data = _to_interactions(spec, frame, name="synthetic-movies", item_info=item_info)
    return data
