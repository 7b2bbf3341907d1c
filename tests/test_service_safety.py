"""Issue 28: what the service acknowledged is never lost nor merged, and it is not open by accident."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'mfrec[serve]'")
from fastapi.testclient import TestClient  # noqa: E402
from service_support import save_small_model, small_data  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from mfrec.cli import app as cli  # noqa: E402
from mfrec.data import from_frame  # noqa: E402
from mfrec.models import MatrixFactorization  # noqa: E402
from mfrec.models.persistence import load_model  # noqa: E402
from mfrec.service import create_app  # noqa: E402
from mfrec.service.retrain import with_log  # noqa: E402
from mfrec.service.store import read_log  # noqa: E402

TOKEN = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_small_model(tmp_path_factory.mktemp("safety") / "model")


def test_request_ids_are_per_user_and_a_changed_body_is_a_conflict(model_dir, tmp_path):
    client = TestClient(create_app(model_dir, tmp_path / "log.sqlite"))
    alice = {"ratings": [{"item": 4, "rating": 4}], "request_id": "r-1"}
    bob = {"ratings": [{"item": 5, "rating": 2}], "request_id": "r-1"}
    assert client.post("/users/alice/ratings", json=alice).status_code == 201
    answer = client.post("/users/bob/ratings", json=bob)
    assert answer.status_code == 201 and answer.json()["duplicate"] is False
    assert sorted(read_log(tmp_path / "log.sqlite")["user"]) == ["alice", "bob"]  # bob's rating kept
    changed = client.post("/users/alice/ratings", json={**alice, "ratings": [{"item": 4, "rating": 1}]})
    assert changed.status_code == 409
    assert changed.json()["error"]["field"] == "request_id" and "'r-1'" in changed.json()["error"]["message"]
    assert len(read_log(tmp_path / "log.sqlite")) == 2
    again = client.post("/users/alice/ratings", json=alice)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_ratings_posted_during_a_retrain_are_all_served_after_the_reload(tmp_path):
    served = tmp_path / "served"
    save_small_model(served)
    log = tmp_path / "log.sqlite"
    client = TestClient(create_app(served, log, token="s3cret"))
    before = [f"b{k}" for k in range(5)]
    during = [f"d{k}" for k in range(5)]
    for user in before:
        client.post(f"/users/{user}/ratings", json={"ratings": [{"item": 3, "rating": 5}]}, headers=TOKEN)
    retrain_data = with_log(small_data(), log)  # the retrain reads the log ...
    for user in during:  # ... ratings keep arriving while it fits ...
        answer = client.post(f"/users/{user}/ratings", json={"ratings": [{"item": 3, "rating": 5}]}, headers=TOKEN)
        assert answer.status_code == 201
    MatrixFactorization(n_factors=4, n_epochs=5).fit(retrain_data).save(served)  # ... and saves after them
    assert client.post("/admin/reload", headers=TOKEN).status_code == 200
    for user in before:  # in the new model
        assert client.get(f"/users/{user}/recommendations").json()["source"] == "model"
    for user in during:  # folded in from the log: none lost
        assert client.get(f"/users/{user}/recommendations").json()["source"] == "fold-in"
    assert client.get("/model").json()["ratings_logged_since_training"] == len(during)
    # Copying or touching the folder does not change what is folded in.
    (served / "model.json").touch()
    client.post("/admin/reload", headers=TOKEN)
    assert {client.get(f"/users/{u}/recommendations").json()["source"] for u in during} == {"fold-in"}


def test_reload_needs_a_token_and_writes_need_json(model_dir, tmp_path):
    open_client = TestClient(create_app(model_dir, tmp_path / "log.sqlite"))
    refused = open_client.post("/admin/reload", headers={"Content-Type": "application/json"})
    assert refused.status_code == 403 and "--token-file" in refused.json()["error"]["message"]
    client = TestClient(create_app(model_dir, tmp_path / "log2.sqlite", token="s3cret"))
    form = client.post("/users/a/ratings", content=b"ratings=5", headers={"Content-Type": "text/plain", **TOKEN})
    assert form.status_code == 415
    bare = client.post("/admin/reload", headers={"Content-Type": "application/x-www-form-urlencoded", **TOKEN})
    assert bare.status_code == 415
    assert client.post("/admin/reload", headers={"Content-Type": "application/json", **TOKEN}).status_code == 200


@pytest.mark.parametrize(("host", "extra", "refused"), [("0.0.0.0", [], True), ("0.0.0.0", ["--insecure"], False)])
def test_serve_refuses_an_open_network_address_without_a_token(model_dir, tmp_path, monkeypatch, host, extra, refused):
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k))
    result = CliRunner().invoke(
        cli, ["serve", str(model_dir), "--db", str(tmp_path / "l.sqlite"), "--host", host, "--port", "0", *extra]
    )
    if refused:
        assert result.exit_code != 0 and not started
        assert "--token-file" in result.output and "Traceback" not in result.output
    else:
        assert result.exit_code == 0 and started and "warning" in result.output


def test_ids_keep_one_type_through_a_mixed_ratings_log(model_dir, tmp_path):
    log = tmp_path / "log.sqlite"
    client = TestClient(create_app(model_dir, log))
    client.post("/users/ann/ratings", json={"ratings": [{"item": 3, "rating": 5}]})
    client.post("/users/7/ratings", json={"ratings": [{"item": 4, "rating": 2}]})
    model = MatrixFactorization(n_factors=4, n_epochs=3).fit(with_log(small_data(), log))
    model.save(tmp_path / "retrained")
    for m in (model, load_model(tmp_path / "retrained")):
        assert m.recommend(7, n=3)["item"].tolist() == m.recommend("7", n=3)["item"].tolist()
        assert len(m.recommend("ann", n=3)) == 3
        assert m.predict([7], [3])[0] == m.predict(["7"], ["3"])[0]
    model.partial_fit(pd.DataFrame({"user": [7, 8], "item": [3, 4], "rating": [4.0, 5.0]}))
    model.partial_fit(pd.DataFrame({"user": [7, 61], "item": [3, 4], "rating": [4.0, 5.0]}))
    assert len(model.user_map_) == 62  # 60 users, "ann", one new; 7 and 8 stayed one id each


def _scaled_model(tmp_path, ratings, **read):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(1, 30, 400), "item": rng.integers(1, 20, 400)})
    frame = frame.drop_duplicates(["user", "item"])
    if ratings is not None:
        frame["rating"] = rng.choice(ratings, len(frame))
    data = from_frame(frame, rating_col=None if ratings is None else "rating", **read)
    return MatrixFactorization(n_factors=2, n_epochs=2).fit(data).save(tmp_path / "m")


@pytest.mark.parametrize(
    ("ratings", "buttons", "posted"),
    [
        ([1, 3, 7, 10], [str(v) for v in range(1, 11)], 10),  # a 1-10 model can be rated 10
        ([1.0, 2.5, 5.0], ["0.5", "1", "1.5"], 0.5),  # halves
        (None, ["interacted"], 1),  # a click log: no star buttons that answer 422
    ],
)
def test_the_try_it_page_offers_the_models_scale(tmp_path, ratings, buttons, posted):
    folder = _scaled_model(tmp_path, ratings)
    client = TestClient(create_app(folder, tmp_path / "log.sqlite"))
    html = client.get("/").text
    line = next(line for line in html.splitlines() if line.startswith("const RATINGS = "))
    choices = json.loads(line[len("const RATINGS = ") :].rstrip(";"))
    assert [c["label"] for c in choices][: len(buttons)] == buttons
    for choice in choices:  # every button's rating is accepted
        answer = client.post("/users/new/ratings", json={"ratings": [{"item": 1, "rating": choice["value"]}]})
        assert answer.status_code in (200, 201), answer.text
    assert posted in [c["value"] for c in choices]


def test_a_model_trained_without_a_one_star_rating_accepts_one_star(tmp_path):
    folder = _scaled_model(tmp_path, [2, 3, 4, 5])  # no 1-star rating in training
    client = TestClient(create_app(folder, tmp_path / "log.sqlite"))
    assert client.get("/model").json()["data"]["rating_scale"] == [1.0, 5.0]
    answer = client.post("/users/new/ratings", json={"ratings": [{"item": 1, "rating": 1}]})
    assert answer.status_code == 201, answer.text
