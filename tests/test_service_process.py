"""The real server process on loopback: SIGKILL mid-stream loses no acknowledged rating; hot swap under load."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'mfrec[serve]'")
pytest.importorskip("uvicorn", reason="the service needs the 'serve' extra: pip install 'mfrec[serve]'")
import httpx  # noqa: E402
from service_support import Server, save_small_model  # noqa: E402

from mfrec.service.store import read_log  # noqa: E402

N_REQUESTS = 200
KILL_AFTER = 40


def rating_request(k: int) -> tuple[str, dict]:
    """Request k: user s<k> rates item 1 + k % 30 with a request id, so a retry can be recognised."""
    return f"s{k}", {"ratings": [{"item": 1 + k % 30, "rating": 1 + k % 5}], "request_id": f"req-{k}"}


def test_sigkill_mid_stream_loses_no_acknowledged_rating_and_retries_do_not_duplicate(tmp_path):
    model_dir = save_small_model(tmp_path / "model")
    db = tmp_path / "log.sqlite"
    server = Server(model_dir, db)
    acknowledged: list[int] = []
    killed = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for k in range(N_REQUESTS):
                user, payload = rating_request(k)
                try:
                    answer = client.post(f"/users/{user}/ratings", json=payload)
                except httpx.HTTPError:
                    return  # the server is gone: the rest were never acknowledged
                if 200 <= answer.status_code < 300:
                    acknowledged.append(k)
                if len(acknowledged) == KILL_AFTER:
                    killed.set()

    client_thread = threading.Thread(target=stream)
    try:
        client_thread.start()
        assert killed.wait(60), "the server acknowledged too few ratings"
        server.kill()  # while the client keeps streaming
        client_thread.join(30)
    finally:
        server.stop()
    assert KILL_AFTER <= len(acknowledged) < N_REQUESTS

    logged = read_log(db)
    for k in acknowledged:  # every 2xx is in the log, exactly once
        user, payload = rating_request(k)
        assert (logged["user"] == user).sum() == 1, user

    restarted = Server(model_dir, db)
    try:
        with httpx.Client(base_url=restarted.url, timeout=5) as client:
            # The client retries everything it sent (it cannot know what got through): no duplicates.
            for k in range(N_REQUESTS):
                user, payload = rating_request(k)
                assert client.post(f"/users/{user}/ratings", json=payload).status_code in (200, 201)
            for k in acknowledged[:: max(1, len(acknowledged) // 10)] + acknowledged[-1:]:
                user, payload = rating_request(k)
                body = client.get(f"/users/{user}/recommendations", params={"n": 30}).json()
                assert body["source"] == "fold-in", user
                assert payload["ratings"][0]["item"] not in [r["item"] for r in body["items"]]
            assert client.get("/model").json()["ratings_logged_since_training"] == N_REQUESTS
    finally:
        restarted.stop()
    final = read_log(db)
    assert len(final) == N_REQUESTS and final["user"].is_unique


def test_ten_hot_reloads_under_load_fail_no_request(tmp_path):
    model_dir = tmp_path / "model"
    save_small_model(model_dir, seed=0)
    (tmp_path / "token").write_text("s3cret\n")  # reloading always needs the token
    server = Server(model_dir, tmp_path / "log.sqlite", "--token-file", str(tmp_path / "token"))
    results: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for k in range(20_000):  # bounded, stopped early once the reloads are done
                if stop.is_set():
                    return
                try:
                    answer = client.get(f"/users/{1 + k % 60}/recommendations", params={"n": 10})
                    results.append(answer.status_code)
                    if answer.status_code != 200 or len(answer.json()["items"]) != 10:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    versions = set()
    try:
        for t in threads:
            t.start()
        with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": "Bearer s3cret"}) as admin:
            for reload in range(10):
                save_small_model(model_dir, seed=1 + reload, n_factors=4 + reload % 3)  # a new model each time
                answer = admin.post("/admin/reload")
                assert answer.status_code == 200, answer.text
                versions.add(answer.json()["version"])
            assert admin.get("/model").json()["reloads"] == 10
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        server.stop()
    assert failures == []
    assert len(results) > 0 and len(versions) >= 2


def test_two_workers_share_the_log_and_a_reload_reaches_both(tmp_path):
    """Each worker loads the model itself; a reload or a rating through one worker is seen by the other."""
    model_dir = tmp_path / "model"
    save_small_model(model_dir, seed=0)
    (tmp_path / "token").write_text("s3cret\n")  # reloading always needs the token
    server = Server(model_dir, tmp_path / "log.sqlite", "--workers", "2", "--token-file", str(tmp_path / "token"))

    def answers(path: str, tries: int = 400) -> dict[int, list]:
        """Bodies by worker pid, each request on a new connection, until both workers answered twice."""
        seen: dict[int, list] = {}
        for _ in range(tries):
            with httpx.Client(base_url=server.url, timeout=10) as fresh:  # a new connection may reach either worker
                pid = fresh.get("/health").json()["pid"]
                seen.setdefault(pid, []).append(fresh.get(path).json())
            if len(seen) == 2 and min(len(v) for v in seen.values()) >= 2:
                break
        return seen

    try:
        before = answers("/model")
        assert len(before) == 2, "the kernel never handed a connection to the second worker"
        old = {body["version"] for bodies in before.values() for body in bodies}
        assert len(old) == 1

        save_small_model(model_dir, seed=1, n_factors=6)
        reload = httpx.post(server.url + "/admin/reload", timeout=60, headers={"Authorization": "Bearer s3cret"})
        assert reload.status_code == 200
        after = answers("/model")
        assert len(after) == 2
        for bodies in after.values():  # every answer after the reload, in either worker, is the new model
            assert {b["version"] for b in bodies} != old and {b["params"]["n_factors"] for b in bodies} == {6}

        posted = httpx.post(
            server.url + "/users/walk-in/ratings",
            json={"ratings": [{"item": 3, "rating": 5}]},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert posted.status_code == 201
        recs = answers("/users/walk-in/recommendations?n=30")
        assert len(recs) == 2
        for bodies in recs.values():
            assert all(b["source"] == "fold-in" and 3 not in [r["item"] for r in b["items"]] for b in bodies)
    finally:
        server.stop()
