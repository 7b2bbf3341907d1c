"""The HTTP service through FastAPI's TestClient: endpoints, validation, idempotency, fold-in, reload."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'mfrec[serve]'")
from fastapi.testclient import TestClient  # noqa: E402
from service_support import ROOT, save_small_model, small_data  # noqa: E402

from mfrec.models import MatrixFactorization  # noqa: E402
from mfrec.service import create_app  # noqa: E402
from mfrec.service.retrain import with_log  # noqa: E402
from mfrec.service.schemas import MAX_BATCH, MAX_N  # noqa: E402
from mfrec.service.store import SQLiteStore, read_log  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_small_model(tmp_path_factory.mktemp("svc") / "model")


@pytest.fixture
def client(model_dir, tmp_path) -> TestClient:
    return TestClient(create_app(model_dir, tmp_path / "log.sqlite"))


def test_the_readme_serving_path_raises_no_deprecation_warning(model_dir, tmp_path):
    """Build the app, answer, take a rating and fold it in, with every deprecation warning an error.

    Starlette's TestClient warned (StarletteDeprecationWarning, a UserWarning) when it ran on ``httpx``
    instead of ``httpx2``; it warns once, on first import, so this runs in a fresh interpreter.
    """
    code = f"""
import warnings
warnings.simplefilter("error", DeprecationWarning)
warnings.simplefilter("error", PendingDeprecationWarning)
from fastapi.exceptions import FastAPIDeprecationWarning
from starlette.exceptions import StarletteDeprecationWarning
warnings.simplefilter("error", FastAPIDeprecationWarning)
warnings.simplefilter("error", StarletteDeprecationWarning)
from fastapi.testclient import TestClient
from mfrec.service import create_app
with TestClient(create_app({str(model_dir)!r}, {str(tmp_path / "log.sqlite")!r})) as client:
    assert client.get("/users/7/recommendations", params={{"n": 3}}).json()["source"] == "model"
    rating = {{"ratings": [{{"item": 1, "rating": 5}}], "request_id": "r-1"}}
    assert client.post("/users/walk-in/ratings", json=rating).status_code < 300
    assert client.get("/users/walk-in/recommendations").json()["source"] == "fold-in"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def recs(client, user, **params):
    response = client.get(f"/users/{user}/recommendations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_model_describe_the_served_model(client):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/model").json()
    assert info["model"] == "MatrixFactorization"
    assert info["params"]["n_factors"] == 4
    assert info["data"]["n_users"] == 60 and info["data"]["has_titles"] is True
    assert info["ratings_logged_since_training"] == 0


def test_known_user_gets_model_recommendations_with_titles_and_never_seen_items(client, model_dir):
    from mfrec.models import Recommender

    model = Recommender.load(model_dir)
    body = recs(client, 7, n=5, explain=True)
    assert body["source"] == "model" and body["score_kind"] == "rating"  # the scores are predicted ratings
    expected = model.recommend(7, n=5)
    assert [r["item"] for r in body["items"]] == expected["item"].tolist()
    assert [r["score"] for r in body["items"]] == pytest.approx(expected["score"].tolist(), rel=1e-5)
    assert [r["rank"] for r in body["items"]] == [1, 2, 3, 4, 5]
    assert all(r["title"].startswith("Film ") and r["because"] for r in body["items"])


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_the_fast_request_path_answers_exactly_what_recommend_answers(client, model_dir, exclude_seen):
    from mfrec.models import Recommender

    model = Recommender.load(model_dir)
    for user in (1, 7, 60):
        body = recs(client, user, n=12, exclude_seen=exclude_seen)
        expected = model.recommend(user, n=12, exclude_seen=exclude_seen)
        assert [r["item"] for r in body["items"]] == expected["item"].tolist()
        assert [r["score"] for r in body["items"]] == pytest.approx(expected["score"].tolist(), rel=1e-6)
        assert [r["title"] for r in body["items"]] == expected["title"].tolist()
    fallback = model.recommend("nobody", n=4, unknown="fallback")
    assert [r["item"] for r in recs(client, "nobody", n=4)["items"]] == fallback["item"].tolist()


def test_unknown_user_gets_the_popularity_fallback_and_says_so(client):
    body = recs(client, "nobody", n=3)
    assert body["source"] == "popularity" and len(body["items"]) == 3
    assert body["score_kind"] == "popularity"  # the scores are training counts, not ratings


def test_posted_ratings_are_logged_and_folded_in_at_once(client):
    before = recs(client, "newbie", n=10)
    top = before["items"][0]["item"]
    answer = client.post(
        "/users/newbie/ratings", json={"ratings": [{"item": top, "rating": 1}, {"item": 3, "rating": 5}]}
    )
    assert answer.status_code == 201 and answer.json()["accepted"] == 2
    after = recs(client, "newbie", n=10)
    assert after["source"] == "fold-in"
    assert top not in [r["item"] for r in after["items"]]  # rated items are excluded from then on
    assert client.get("/model").json()["ratings_logged_since_training"] == 2


def test_known_user_with_new_ratings_is_folded_in_from_training_plus_new_ratings(client, model_dir):
    from mfrec.models import Recommender

    model = Recommender.load(model_dir)
    client.post("/users/7/ratings", json={"ratings": [{"item": 2, "rating": 5}]})
    body = recs(client, 7, n=30)
    assert body["source"] == "fold-in"
    seen = set(model.seen_items(7).index.tolist()) | {2}
    assert seen.isdisjoint(r["item"] for r in body["items"])
    expected = model.recommend(7, n=30, new_user_ratings={**model.seen_items(7).to_dict(), 2: 5.0})
    assert [r["item"] for r in body["items"]] == expected["item"].tolist()
    assert [r["score"] for r in body["items"]] == pytest.approx(expected["score"].tolist(), rel=1e-5)


def test_request_id_makes_a_retry_idempotent(client, tmp_path):
    payload = {"ratings": [{"item": 4, "rating": 4}], "request_id": "retry-1"}
    first = client.post("/users/u1/ratings", json=payload)
    again = client.post("/users/u1/ratings", json=payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert len(read_log(tmp_path / "log.sqlite")) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ratings": [{"item": 1, "rating": 6}]}, "ratings.0.rating"),
        ({"ratings": [{"item": 1, "rating": 0.5}]}, "ratings.0.rating"),
        ({"ratings": [{"item": 1, "rating": "abc"}]}, "ratings.0.rating"),
        ({"ratings": [{"item": 1, "rating": True}]}, "ratings.0.rating"),  # not a 1-star rating
        ({"ratings": [{"item": 1, "rating": "4"}]}, "ratings.0.rating"),  # a number, not a string
        ({"ratings": [{"item": 1}]}, "ratings.0.rating"),
        ({"ratings": [{"item": "", "rating": 3}]}, "ratings.0.item"),
        ({"ratings": []}, "ratings"),
        ({"ratings": [{"item": 1, "rating": 3}] * (MAX_BATCH + 1)}, "ratings"),
        ({"ratings": [{"item": 1, "rating": 3}], "extra": 1}, "extra"),
    ],
)
def test_bad_ratings_get_a_422_naming_the_field_and_nothing_is_logged(client, tmp_path, payload, field):
    answer = client.post("/users/u1/ratings", json=payload)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
    assert len(read_log(tmp_path / "log.sqlite")) == 0


def test_nan_and_infinity_are_refused(client):
    for token in ("NaN", "Infinity", "-Infinity"):
        body = b'{"ratings": [{"item": 1, "rating": %s}]}' % token.encode()
        answer = client.post("/users/u1/ratings", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "ratings.0.rating"


def test_bounds_on_n_body_and_malformed_json(client):
    assert client.get("/users/1/recommendations", params={"n": MAX_N + 1}).json()["error"]["field"] == "n"
    assert client.get("/users/1/recommendations", params={"n": 0}).status_code == 422
    big = client.post("/predict", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and "body" in big.json()["error"]["message"]
    broken = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "Traceback" not in broken.text


def test_similar_items_and_unknown_item(client):
    body = client.get("/items/1/similar", params={"n": 3}).json()
    assert len(body["similar"]) == 3 and all(s["item"] != 1 for s in body["similar"])
    assert body["item"] == 1  # spelled as the list spells ids (a number), not echoed as the path's text
    missing = client.get("/items/nope/similar")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    assert missing.json()["error"]["field"] == "item_id"  # every error names the field it is about


def test_predict_matches_the_library_and_flags_fallbacks(client, model_dir):
    from mfrec.models import Recommender

    model = Recommender.load(model_dir)
    body = client.post("/predict", json={"pairs": [{"user": 7, "item": 2}, {"user": "ghost", "item": 2}]}).json()
    first, second = body["predictions"]
    assert first["prediction"] == pytest.approx(float(model.predict([7], [2])[0]), rel=1e-6)
    assert (first["fallback"], second["fallback"]) == (False, True)


def test_bearer_token_guards_writes_and_admin_only(model_dir, tmp_path):
    client = TestClient(create_app(model_dir, tmp_path / "log.sqlite", token="s3cret"))
    payload = {"ratings": [{"item": 1, "rating": 3}]}
    assert client.post("/users/a/ratings", json=payload).status_code == 401
    wrong = client.post("/users/a/ratings", json=payload, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["field"] == "Authorization"
    assert client.post("/admin/reload").status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert client.post("/users/a/ratings", json=payload, headers=good).status_code == 201
    assert client.post("/admin/reload", headers=good).status_code == 200
    assert client.get("/users/a/recommendations").status_code == 200  # reads stay open


def test_reload_swaps_the_model_and_refolds_ratings_logged_since_its_training(model_dir, tmp_path):
    served = tmp_path / "served"
    save_small_model(served, seed=0)
    client = TestClient(create_app(served, tmp_path / "log.sqlite", token="s3cret"))
    token = {"Authorization": "Bearer s3cret"}
    client.post("/users/early/ratings", json={"ratings": [{"item": 5, "rating": 5}]}, headers=token)
    old_version = client.get("/model").json()["version"]
    retrain = with_log(small_data(1), tmp_path / "log.sqlite")  # a retrain with --ratings-log: holds "early"'s
    MatrixFactorization(n_factors=6, n_epochs=20, random_state=1).fit(retrain).save(served)
    client.post("/users/late/ratings", json={"ratings": [{"item": 5, "rating": 5}]}, headers=token)  # logged after
    assert recs(client, "late")["source"] == "fold-in"
    info = client.post("/admin/reload", headers=token).json()
    assert info["version"] != old_version and info["params"]["n_factors"] == 6 and info["reloads"] == 1
    assert info["ratings_logged_since_training"] == 1
    body = recs(client, "late")
    assert body["source"] == "fold-in" and 5 not in [r["item"] for r in body["items"]]
    assert recs(client, "early")["source"] == "model"  # its rating is in the new model: no longer folded in


def test_reload_keeps_in_flight_requests_on_their_model(model_dir, tmp_path):
    app = create_app(model_dir, tmp_path / "log.sqlite")
    holder = app.state.holder
    before = holder.current
    holder.reload()
    assert holder.current is not before and before.model is not holder.current.model
    assert before.model.recommend(7, n=3)["item"].tolist() == holder.current.model.recommend(7, n=3)["item"].tolist()


def test_sqlite_store_is_wal_synchronous_full_and_concurrent_appends_are_all_kept(tmp_path):
    store = SQLiteStore(tmp_path / "log.sqlite")
    threads = [
        threading.Thread(target=lambda k=k: [store.append(f"u{k}", [(str(i), 3.0)], f"{k}-{i}") for i in range(25)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 100
    with sqlite3.connect(tmp_path / "log.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_train_with_ratings_log_includes_the_logged_ratings(model_dir, tmp_path):
    from service_support import small_data

    from mfrec.data import load
    from mfrec.service.retrain import with_log

    store = SQLiteStore(tmp_path / "log.sqlite")
    store.append("newcomer", [("3", 5.0), ("4", 1.0)])
    store.append("7", [("2", 1.0)])
    data = small_data()
    merged = with_log(data, tmp_path / "log.sqlite")
    frame = merged.to_frame()
    assert len(merged) >= len(data) + 2
    # Users became text (the log has a non-integer id); items stayed integers.
    assert frame.loc[frame["user"] == "newcomer"].set_index("item")["rating"].to_dict() == {3: 5.0, 4: 1.0}
    assert frame.loc[(frame["user"] == "7") & (frame["item"] == 2), "rating"].tolist() == [1.0]  # the log wins
    assert load(merged) is merged


def test_openapi_schema_is_committed_and_current(client):
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert client.get("/openapi.json").json() == committed, (
        "regenerate: python -m mfrec.service.openapi > docs/openapi.json"
    )


def test_serve_without_the_extra_says_which_pip_install_fixes_it(monkeypatch, model_dir):
    import importlib.util

    from typer.testing import CliRunner

    from mfrec.cli.app import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    result = CliRunner().invoke(app, ["serve", str(model_dir)])
    assert result.exit_code == 2
    assert "pip install 'mfrec[serve]'" in result.output


def test_index_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "<script>" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: works offline


def test_seen_items_is_the_public_view_of_a_users_training_ratings(model_dir):
    from service_support import small_data

    from mfrec.exceptions import UnknownIdError
    from mfrec.models import Recommender

    model = Recommender.load(model_dir)
    frame = small_data().to_frame()
    expected = frame.loc[frame["user"] == 7].set_index("item")["rating"].sort_index()
    seen = model.seen_items(7)
    assert seen.sort_index().to_dict() == expected.to_dict() and seen.index.name == "item"
    with pytest.raises(UnknownIdError, match="ghost"):
        model.seen_items("ghost")


def test_per_request_kernels_release_the_gil_and_concurrent_requests_agree_with_serial_ones(client, model_dir):
    from concurrent.futures import ThreadPoolExecutor

    from mfrec.kernels.predict import score_pairs
    from mfrec.kernels.topk import top_k

    # Scoring is BLAS (releases the GIL) then these numba kernels: request threads overlap on big catalogues.
    assert top_k.targetoptions["nogil"] and score_pairs.targetoptions["nogil"]
    served = client.app.state.holder.fresh()
    users = [str(u) for u in range(1, 61)] * 4
    serial = [served.recommend(u, 10) for u in users]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda u: served.recommend(u, 10), users)) == serial


def test_the_service_uses_only_public_model_api():
    import ast

    # The rows behind seen_items(): a layout the models may change, so the service reads the accessor.
    layout = {"seen_indptr_", "seen_indices_", "seen_ratings_"}
    private = set()
    for path in sorted((ROOT / "src" / "mfrec" / "service").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and (
                node.attr in layout
                or (
                    node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")
                )
            ):
                private.add(f"{path.name}: {node.attr}")
    assert not private, f"the service reaches into private attributes: {sorted(private)}"


def test_each_worker_builds_its_app_from_the_environment_token_file_included(model_dir, tmp_path, monkeypatch):
    from mfrec.service.app import ENV_DB, ENV_MODEL_DIR, ENV_TOKEN_FILE, app_from_environment

    (tmp_path / "token").write_text("s3cret\n")
    monkeypatch.setenv(ENV_MODEL_DIR, str(model_dir))
    monkeypatch.setenv(ENV_DB, str(tmp_path / "log.sqlite"))
    monkeypatch.setenv(ENV_TOKEN_FILE, str(tmp_path / "token"))
    monkeypatch.setattr("mfrec.service.app.one_blas_thread", lambda: None)  # leave the test process's BLAS alone
    client = TestClient(app_from_environment())
    payload = {"ratings": [{"item": 1, "rating": 3}]}
    assert client.post("/users/a/ratings", json=payload).status_code == 401
    assert client.post("/users/a/ratings", json=payload, headers={"Authorization": "Bearer s3cret"}).status_code == 201


@pytest.mark.parametrize("problem", ["port in use", "empty token", "log level"])
def test_serve_refuses_a_bad_start_in_one_line_before_starting(problem, model_dir, tmp_path):
    import socket

    from typer.testing import CliRunner

    from mfrec.cli.app import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", str(model_dir), "--db", str(tmp_path / "log.sqlite")]
        if problem == "port in use":
            args += ["--port", str(port)]
            expected = f"cannot listen on 127.0.0.1:{port}"
        elif problem == "empty token":
            (tmp_path / "token.txt").write_text("\n")
            args += ["--token-file", str(tmp_path / "token.txt")]
            expected = "token.txt is empty: write the bearer token in it"
        else:
            args += ["--log-level", "loud"]
            expected = "--log-level 'loud' is not one of warning, info, debug"
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and expected in result.output.replace("\n", "")


def test_a_click_needs_no_rating_for_an_implicit_model_and_a_rating_model_asks_for_one(tmp_path, client):
    from mfrec.models import ImplicitALS

    ImplicitALS(n_factors=4, n_epochs=2).fit(small_data()).save(tmp_path / "clicks")
    clicks = TestClient(create_app(tmp_path / "clicks", tmp_path / "clicks.sqlite"))
    answer = clicks.post("/users/u1/ratings", json={"ratings": [{"item": 1}, {"item": 2, "rating": 1.0}]})
    assert answer.status_code == 201 and answer.json()["accepted"] == 2
    assert read_log(tmp_path / "clicks.sqlite")["rating"].tolist() == [1.0, 1.0]
    refused = client.post("/users/u1/ratings", json={"ratings": [{"item": 1}]})
    assert refused.status_code == 422 and "needs a rating" in json.dumps(refused.json())
