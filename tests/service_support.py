"""Shared helpers of the service tests: a small saved model and a real server process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from mfrec.data import from_frame
from mfrec.models import MatrixFactorization

ROOT = Path(__file__).resolve().parents[1]


def small_data(seed: int = 0):
    """60 users x 30 titled items, 900 ratings on 1..5: enough for fold-in to move the top-10."""
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 61, 900)
    items = rng.integers(1, 31, 900)
    ratings = np.clip(np.round(3 + (items % 3) - 1 + rng.normal(0, 0.7, 900)), 1, 5)
    frame = pd.DataFrame({"user": users, "item": items, "rating": ratings}).drop_duplicates(["user", "item"])
    titles = pd.DataFrame({"title": [f"Film {i}" for i in range(1, 31)]}, index=pd.Index(range(1, 31), name="item"))
    return from_frame(frame, rating_scale=(1, 5), item_info=titles)


def save_small_model(path: Path, seed: int = 0, n_factors: int = 4) -> Path:
    model = MatrixFactorization(n_factors=n_factors, n_epochs=20, random_state=seed).fit(small_data(seed))
    return model.save(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``mfrec serve`` as a child process on a free loopback port; ``kill()`` sends SIGKILL."""

    def __init__(self, model_dir: Path, db: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mfrec", "serve", str(model_dir), "--db", str(db), "--port", str(self.port), *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer /health within 60 s")

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown handler runs
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
