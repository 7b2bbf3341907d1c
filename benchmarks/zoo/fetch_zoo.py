"""Build the data zoo: real rating logs from other domains plus logs derived from ml-100k and the generator.

usage: python benchmarks/zoo/fetch_zoo.py [--only NAME ...] [--force] [--mirror DIR] [--mirrors ROOT]

Every log ends up as ``benchmarks/.data/zoo/<name>.parquet`` (columns ``user, item, rating[, timestamp]``, ids as
strings) with ``<name>.json`` beside it (domain, kind, scale, liked level, source). One real log is implicit
feedback (``kind: "implicit"``: steam's ``rating`` column holds hours played, no scale, no liked level); the
rating-model zoo (bench_zoo.py) skips it and ``bench_playcount.py`` reads it. ``benchmarks/.data`` is git-ignored:
nothing here is ever committed, only the recipe and the checksums (``benchmarks/zoo/CHECKSUMS``).

Most real logs come from the public repository caserec/Datasets-for-Recommender-Systems (A. Fortes' reduced copies
of public research logs), read at a pinned commit from a local git copy of it: ``--mirror DIR`` or ``$ZOO_MIRROR``
(default: the snapshot folder ``/work/.mirror/caserec+Datasets-for-Recommender-Systems/repo``). To make one:
``git clone https://github.com/caserec/Datasets-for-Recommender-Systems DIR``. The check logs of round four
(``x-wines``, ``boardgames``: ``"use": "check"`` in their json, never used to choose a default) come from other
repositories (``repo`` in their entry), read from ``--mirrors ROOT`` / ``$ZOO_MIRRORS`` (default ``/work/.mirror``)
as ``ROOT/<owner>+<name>/repo`` or ``ROOT/<owner>+<name>``: ``git clone https://github.com/<owner>/<name>
ROOT/<owner>+<name>``. The raw bytes are copied to ``benchmarks/.data/zoo/raw/`` on first use and checked against
CHECKSUMS; a log whose source is missing is skipped with a message, never replaced by something else.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ZOO = HERE.parent / ".data" / "zoo"
RAW = ZOO / "raw"
CHECKSUMS = HERE / "CHECKSUMS"
ML100K = HERE.parent.parent.parent / "shared" / "data" / "ml-100k"
CASEREC = "caserec/Datasets-for-Recommender-Systems"
DEFAULT_MIRROR = Path("/work/.mirror/caserec+Datasets-for-Recommender-Systems/repo")
DEFAULT_MIRRORS = Path("/work/.mirror")  # the other repositories: ROOT/<owner>+<name>[/repo]
CHECK_ONLY = "check only: not used to choose defaults (check log, added round four)"
HEAD = "4180b4dc4103452c591a1718560d29bdf1f48540"  # 2023-08-28
OLD = "82b08c787a6b50d78129b9df842285b89bc05b85"  # the last commit that still has the reduced .dat files

#: The real logs: where the raw bytes are (repo, commit, path[, member of a zip]) and how to read them.
REAL = {
    "anime": dict(
        domain="anime (MyAnimeList)",
        commit=HEAD,
        path="Processed Datasets/Anime/anime.zip",
        member="anime/anime_ratings.dat",
        header=True,
        scale=(1.0, 10.0),
        step=1.0,
        licence="Kaggle 'Anime Recommendations Database' (CooperUnion, MyAnimeList API data); reduced to 5,000 "
        "random users by A. Fortes (seed 123); research use",
    ),
    "book-crossing": dict(
        domain="books (Book-Crossing, explicit 1-10 only)",
        commit=HEAD,
        path="Processed Datasets/BookCrossing/book_crossing.zip",
        member="book_crossing/book_ratings.dat",
        header=True,
        scale=(1.0, 10.0),
        step=1.0,
        licence="Book-Crossing (Ziegler et al., WWW'05): free for research use when acknowledged; reduced by A. Fortes",
    ),
    "jester": dict(
        domain="jokes (Jester, -10..10 mapped to 0.5..5 in halves)",
        commit=OLD,
        path="Processed Datasets/Jester/jester_reduce.dat",
        header=False,
        scale=(0.5, 5.0),
        step=0.5,
        licence="Jester (Goldberg et al., UC Berkeley): free for research use; reduced and rescaled by A. Fortes",
    ),
    "yahoo-music": dict(
        domain="music (Yahoo! Music artists)",
        commit=OLD,
        path="Processed Datasets/Yahoo Music/user_music_ratings_reduce_v1_0.dat",
        header=False,
        scale=(1.0, 5.0),
        step=1.0,
        licence="Yahoo! Webscope R-series: research use under Yahoo's data agreement; do not redistribute",
    ),
    "yahoo-movies": dict(
        domain="movies (Yahoo! Movies, not MovieLens)",
        commit=OLD,
        path="Processed Datasets/YahooMovies/user_movie_ratings_reduce_v1_0.dat",
        header=False,
        scale=(1.0, 5.0),
        step=1.0,
        licence="Yahoo! Webscope R4: research use under Yahoo's data agreement; do not redistribute",
    ),
    "amazon-music": dict(
        domain="music (Amazon digital music reviews' stars)",
        commit=OLD,
        path="Processed Datasets/Amazon/new_user_rated_music.dat",
        header=False,
        scale=(1.0, 5.0),
        step=1.0,
        licence="Amazon review data (McAuley et al., UCSD): research use; reduced by A. Fortes",
    ),
    "steam": dict(
        domain="video games (Steam, hours played: implicit feedback)",
        kind="implicit",
        value="hours played (0.1 and up; no scale)",
        commit=HEAD,  # the same blob as at OLD, where it was added
        path="Processed Datasets/Steam/steam.zip",
        member="steam/game_play.dat",
        header=True,
        scale=None,
        step=None,
        licence="Kaggle 'Steam Video Games' (Tamber, from public Steam data); ids renumbered and plays split from "
        "purchases by A. Fortes; research use",
    ),
    # Round four: check logs only (never used to choose a default), from other repositories and other scales.
    "x-wines": dict(
        domain="wine (X-Wines Slim: Vivino-style 5-star wine ratings, 1-5 in halves, dated)",
        repo="rogerioxavier/X-Wines",
        commit="6082668ce552912497a8ec0836655497502e383f",  # 2023-01-25; Dataset/last/ was deleted at 63b4c09f
        path="Dataset/last/XWines_Slim_1K_wines_150K_ratings.zip",
        member="XWines_Slim_150K_ratings.csv",
        sep=",",
        columns=["UserID", "WineID", "Rating", "Date"],  # user, item, rating, timestamp (Date: "YYYY-MM-DD hh:mm:ss")
        scale=(1.0, 5.0),
        step=0.5,
        use=CHECK_ONLY,
        licence="X-Wines (R. X. de Azambuja, A. J. Morais, V. Filipe, Big Data Cogn. Comput. 7(1):20, 2023): CC0 1.0 "
        "Universal (the repository's LICENSE); the paper is to be cited by users of the data",
    ),
    "boardgames": dict(
        domain="board games (BoardGameGeek, 199 heavy raters x 402 games; ratings on a continuous 1-10 scale)",
        repo="maxmccord/pdx-data-science",
        commit="411baf561eb8a98abbe5dc877a8f3a5b81ae7af9",  # 2017-11-19; the same blob since 2934268c added it
        path="recommendation_engine/data/boardgame-elite-users.csv",
        sep=",",
        columns=["user_id", "game_id", "rating"],
        scale=(1.0, 10.0),
        step=None,  # continuous: 19% of the ratings are not whole points (7.5, 6.8, 4.284, 1.00001 ...)
        use=CHECK_ONLY,
        licence="public BoardGameGeek user ratings compiled by Matt Borthwick (PDX Data Science group); the "
        "repository states no licence: research/benchmark use only, never redistributed",
    ),
}

#: Logs made from what the project has: ml-100k, its thinned copies, and the synthetic generator.
DERIVED = {
    "ml-100k": "movies (MovieLens 100k, the set the defaults were chosen on)",
    "ml-100k-keep30": "ml-100k, 30% of each user's ratings kept (seed 0)",
    "ml-100k-keep10": "ml-100k, 10% of each user's ratings kept (at least 2, seed 0)",
    "ml-100k-longtail": "ml-100k, the 5% most rated items whole, every other item cut to <= 5 random ratings",
    "synth-dense": "synthetic 1,000 x 500, 50k ratings (10%)",
    "synth-1pct": "synthetic 5,000 x 2,000, 100k ratings (1%)",
    "synth-sparse": "synthetic 20,000 x 10,000, 200k ratings (0.1%)",
    "synth-mnar": "synthetic 5,000 x 2,000: 300k drawn, a rating r kept with prob. ((r-1)/4)^2 (picks follow taste)",
    "synth-0.03pct": "synthetic 60,000 x 20,000, 360k ratings (0.03%: the sparsest density of shared/UNSEEN-DATA.md)",
}


def liked_level(low: float, high: float, step: float | None) -> float | None:
    """The "liked" level: 4 on 1-5 and 0.5-5, 3 on 0.5-4 (UNSEEN-DATA.md); on any other scale the point 3/4 of
    the way up the scale, rounded up to the scale's step (1-10 -> 8, -10..10 -> 5), to a whole point on a
    continuous scale (step None: boardgames' 1-10 -> 8, as on the integer 1-10 logs). None for implicit feedback
    (no scale: every play is an interaction)."""
    if low is None:
        return None
    known = {(1.0, 5.0): 4.0, (0.5, 5.0): 4.0, (0.5, 4.0): 3.0}
    if (low, high) in known:
        return known[(low, high)]
    step = step or 1.0
    return float(low + np.ceil((0.75 * (high - low)) / step - 1e-9) * step)


def read_checksums() -> dict[str, str]:
    if not CHECKSUMS.exists():
        return {}
    out = {}
    for line in CHECKSUMS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()[:2]
            out[name] = digest
    return out


def mirror_of(spec: dict, mirror: Path, mirrors: Path) -> Path:
    """The local git copy holding the log's source: ``mirror`` for caserec, else ``mirrors/<owner>+<name>[/repo]``."""
    repo = spec.get("repo", CASEREC)
    if repo == CASEREC:
        return mirror
    folder = mirrors / repo.replace("/", "+")
    return folder / "repo" if (folder / "repo").exists() else folder


def raw_bytes(name: str, spec: dict, mirror: Path) -> bytes | None:
    """The source file's bytes: from the raw cache, else from the git copy at the pinned commit; None if neither."""
    cached = RAW / f"{name}{Path(spec['path']).suffix}"
    if cached.exists():
        return cached.read_bytes()
    if not (mirror / "HEAD").exists() and not (mirror / ".git").exists():
        return None
    done = subprocess.run(["git", "-C", str(mirror), "show", f"{spec['commit']}:{spec['path']}"], capture_output=True)
    if done.returncode != 0 or not done.stdout:
        return None
    RAW.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(done.stdout)
    return done.stdout


def real_frame(spec: dict, blob: bytes) -> pd.DataFrame:
    """user, item, rating[, timestamp] in file order (duplicates kept: bench_zoo keeps the last of each pair).
    caserec's files: tab-separated, the first three columns. Others name their ``columns`` (user, item, rating and
    optionally a date, read as Unix seconds) and ``sep``."""
    if "member" in spec:
        blob = zipfile.ZipFile(io.BytesIO(blob)).read(spec["member"])
    columns = spec.get("columns")
    if columns is None:
        frame = pd.read_csv(
            io.BytesIO(blob), sep="\t", header=0 if spec["header"] else None, usecols=[0, 1, 2], dtype=str, engine="c"
        )
    else:
        frame = pd.read_csv(io.BytesIO(blob), sep=spec["sep"], usecols=columns, dtype=str, engine="c")[columns]
    frame.columns = ["user", "item", "rating", "timestamp"][: frame.shape[1]]
    frame["rating"] = frame["rating"].astype(float)
    if "timestamp" in frame.columns:
        when = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
        frame["timestamp"] = ((when - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)).astype(np.int64)
    return frame


def ml100k_frame() -> pd.DataFrame | None:
    path = ML100K / "u.data"
    if not path.exists():
        return None
    frame = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "timestamp"], dtype=str)
    return frame.astype({"rating": float, "timestamp": np.int64})


def keep_per_user(frame: pd.DataFrame, fraction: float, minimum: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    shuffled = frame.iloc[order]
    rank = shuffled.groupby("user", sort=False).cumcount().to_numpy()
    size = shuffled.groupby("user", sort=False)["item"].transform("size").to_numpy()
    keep = rank < np.maximum(minimum, np.round(fraction * size))
    return shuffled[keep].sort_index()


def long_tail(frame: pd.DataFrame, head_fraction: float = 0.05, cap: int = 5, seed: int = 0) -> pd.DataFrame:
    counts = frame["item"].value_counts()
    head = set(counts.index[: int(round(head_fraction * len(counts)))])
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    rank = shuffled.groupby("item", sort=False).cumcount().to_numpy()
    keep = shuffled["item"].isin(head).to_numpy() | (rank < cap)
    return shuffled[keep].sort_index()


def synthetic_frame(users: int, items: int, ratings: int, mnar: bool = False) -> pd.DataFrame:
    from mfrec.data import synthetic

    data = synthetic(users, items, ratings, seed=0)
    frame = data.to_frame()
    if mnar:  # keep a rating r with probability ((r - 1) / 4) ** 2: people mostly rate what they like
        rng = np.random.default_rng(0)
        keep = rng.random(len(frame)) < ((frame["rating"].to_numpy() - 1.0) / 4.0) ** 2
        frame = frame[keep]
        # the generator's minimum of 5 a user is lost in the thinning: drop users left with fewer than 5
        frame = frame[frame.groupby("user")["item"].transform("size") >= 5]
    out = frame[["user", "item", "rating", "timestamp"]].copy()
    out["user"], out["item"] = out["user"].astype(str), out["item"].astype(str)
    return out


def derived_frame(name: str) -> tuple[pd.DataFrame | None, tuple[float, float], float, str]:
    if name.startswith("ml-100k"):
        base = ml100k_frame()
        source = f"{ML100K}/u.data (never committed)"
        if base is None:
            return None, (1.0, 5.0), 1.0, source
        frame = {
            "ml-100k": lambda f: f,
            "ml-100k-keep30": lambda f: keep_per_user(f, 0.3, 2),
            "ml-100k-keep10": lambda f: keep_per_user(f, 0.1, 2),
            "ml-100k-longtail": long_tail,
        }[name](base)
        return frame, (1.0, 5.0), 1.0, source
    shapes = {
        "synth-dense": (1_000, 500, 50_000, False),
        "synth-1pct": (5_000, 2_000, 100_000, False),
        "synth-sparse": (20_000, 10_000, 200_000, False),
        "synth-mnar": (5_000, 2_000, 300_000, True),
        "synth-0.03pct": (60_000, 20_000, 360_000, False),
    }
    users, items, ratings, mnar = shapes[name]
    return synthetic_frame(users, items, ratings, mnar), (1.0, 5.0), 1.0, "mfrec.data.synthetic(seed=0)"


def write(name: str, frame: pd.DataFrame, meta: dict) -> dict:
    ZOO.mkdir(parents=True, exist_ok=True)
    frame = frame.reset_index(drop=True)
    frame.to_parquet(ZOO / f"{name}.parquet", index=False)
    users, items = frame["user"].nunique(), frame["item"].nunique()
    meta.update(
        name=name,
        users=int(users),
        items=int(items),
        ratings=int(len(frame)),
        unique_pairs=int(len(frame.drop_duplicates(["user", "item"]))),
        density=float(len(frame) / (users * items)),
        timestamps="timestamp" in frame.columns,
        liked=liked_level(*(meta["scale"] or (None, None)), meta["step"]),
    )
    (ZOO / f"{name}.json").write_text(json.dumps(meta, indent=1))
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of the logs to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild logs that already exist")
    parser.add_argument("--mirror", default=os.environ.get("ZOO_MIRROR", str(DEFAULT_MIRROR)))
    parser.add_argument(
        "--mirrors",
        default=os.environ.get("ZOO_MIRRORS", str(DEFAULT_MIRRORS)),
        help="folder of the other repositories' git copies, as <owner>+<name>[/repo]",
    )
    args = parser.parse_args()
    mirrors = Path(args.mirrors)
    expected = read_checksums()
    wanted = args.only or [*REAL, *DERIVED]
    lines, built = [], []
    for name in wanted:
        if name not in REAL and name not in DERIVED:
            sys.exit(f"unknown log {name!r}; known: {', '.join([*REAL, *DERIVED])}")
        if (ZOO / f"{name}.parquet").exists() and (ZOO / f"{name}.json").exists() and not args.force:
            meta = json.loads((ZOO / f"{name}.json").read_text())
            if meta.get("sha256"):
                lines.append(f"{meta['sha256']}  {name}  {meta['source']}")
            built.append(meta)
            print(f"{name}: already built ({ZOO / name}.parquet)")
            continue
        if name in REAL:
            spec = REAL[name]
            repo, mirror = spec.get("repo", CASEREC), mirror_of(spec, Path(args.mirror), mirrors)
            blob = raw_bytes(name, spec, mirror)
            source = f"github:{repo}@{spec['commit']}:{spec['path']}" + (
                f"!{spec['member']}" if "member" in spec else ""
            )
            if blob is None:
                print(
                    f"{name}: SKIPPED, source not found: {source}\n"
                    f"  (no raw copy in {RAW} and no git copy at {mirror}; clone {repo} there or pass "
                    f"{'--mirror' if repo == CASEREC else '--mirrors'})",
                    file=sys.stderr,
                )
                continue
            digest = hashlib.sha256(blob).hexdigest()
            if name in expected and expected[name] != digest:
                print(f"{name}: WARNING sha256 {digest} differs from CHECKSUMS {expected[name]}", file=sys.stderr)
            frame = real_frame(spec, blob)
            meta = dict(
                domain=spec["domain"],
                kind=spec.get("kind", "explicit"),
                **({"value": spec["value"]} if "value" in spec else {}),
                scale=spec["scale"],
                step=spec["step"],
                source=source,
                sha256=digest,
                licence=spec["licence"],
                real=True,
                **({"use": spec["use"]} if "use" in spec else {}),
            )
        else:
            frame, scale, step, source = derived_frame(name)
            if frame is None:
                print(f"{name}: SKIPPED, {source} not found", file=sys.stderr)
                continue
            meta = dict(
                domain=DERIVED[name], kind="explicit", scale=scale, step=step, source=source, sha256="", real=False
            )
        meta = write(name, frame, meta)
        built.append(meta)
        if meta["sha256"]:
            lines.append(f"{meta['sha256']}  {name}  {meta['source']}")
        values = f"scale {meta['scale']}, liked >= {meta['liked']}" if meta["scale"] else f"implicit: {meta['value']}"
        print(
            f"{name}: {meta['users']:,} users x {meta['items']:,} items, {meta['ratings']:,} ratings "
            f"(density {meta['density']:.3%}), {values}"
        )
    if lines and not args.only:
        header = "# sha256 of each real log's raw file (as stored in its source repository)  name  source\n"
        CHECKSUMS.write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
