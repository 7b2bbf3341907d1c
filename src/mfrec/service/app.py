"""The FastAPI application: ``create_app(model_dir, db)``.

Every handler reads ``holder.fresh()`` once, so a hot reload never changes the
model under a request. Every error is a JSON body ``{"error": {"field", "message"}}``
with a 4xx status; nothing returns a traceback.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

import mfrec
from mfrec.exceptions import MfrecError, UnknownIdError
from mfrec.service import schemas as S
from mfrec.service.holder import ModelHolder, Served, as_json_id, iso, trained_log_id
from mfrec.service.page import page as try_page
from mfrec.service.store import RatingStore, RequestConflict, SQLiteStore

log = logging.getLogger("mfrec.service")

UserId = Annotated[str, PathParam(min_length=1, max_length=S.MAX_ID_LENGTH)]
ItemId = Annotated[str, PathParam(min_length=1, max_length=S.MAX_ID_LENGTH)]
N = Annotated[int, Query(ge=1, le=S.MAX_N, description=f"How many items, 1..{S.MAX_N}.")]


try:  # orjson (in the serve extra) encodes a ten-item answer ~20x faster than the json module
    import orjson

    def _json(content: Any) -> Response:
        return Response(orjson.dumps(content), media_type="application/json")
except ImportError:  # pragma: no cover - the extra is optional
    _json = JSONResponse


def _error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status, headers=headers)


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with a 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _error(413, f"request body over {self.limit} bytes", "body")(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class JsonWrites:
    """Refuse a state-changing request (POST, PUT, PATCH, DELETE) not sent as ``application/json`` (415).

    A cross-site HTML form always sends a form or text type, so it cannot log ratings nor reload.
    A request with neither a body nor a type (``curl -X POST .../admin/reload``) passes.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            headers = dict(scope.get("headers", []))
            declared = headers.get(b"content-type")
            bodyless = declared is None and headers.get(b"content-length", b"0") == b"0"
            if not bodyless and (declared or b"").split(b";")[0].strip().lower() != b"application/json":
                message = "state-changing requests need Content-Type: application/json"
                await _error(415, message, "Content-Type")(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Pydantic adds the union member that failed to the location ("item.int"); the client wants the field.
_UNION_TAG = re.compile(r"^(constrained-)?(str|int|float|bool)$|\[")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "path", "query") and not _UNION_TAG.search(str(p))]
    return ".".join(parts) or str(loc[0] if loc else "body")


def create_app(
    model_dir: str | Path, db: str | Path | RatingStore = "ratings.sqlite", token: str | None = None
) -> FastAPI:
    """The service for the model saved in ``model_dir``, logging ratings to ``db`` (a path or a store).

    ``token``: when given, write endpoints need ``Authorization: Bearer <token>``. ``POST /admin/reload``
    always needs it: without a token it is refused (403). Every POST must be ``application/json`` (415).

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app("model/", "ratings.sqlite"))  # doctest: +SKIP
    >>> client.get("/users/196/recommendations", params={"n": 5}).json()["items"]  # doctest: +SKIP
    """
    store = db if not isinstance(db, (str, Path)) else SQLiteStore(db)
    holder = ModelHolder(model_dir, store)
    expected = None if token is None else token.encode()

    def authorised(request: Request) -> None:
        if expected is None:
            return
        check_token(request)

    def admin(request: Request) -> None:
        if expected is None:
            raise HTTPException(403, "reloading needs a bearer token: start the service with --token-file")
        check_token(request)

    def check_token(request: Request) -> None:
        assert expected is not None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(
        title="mfrec",
        version=mfrec.__version__,
        docs_url=None,
        redoc_url=None,
        description="Recommendations, durable rating ingestion with live fold-in, hot model swap.",
    )
    app.state.holder = holder
    app.state.store = store
    app.add_middleware(JsonWrites)
    app.add_middleware(BodyLimit, limit=S.MAX_BODY_BYTES)
    codes = (400, 401, 403, 404, 409, 413, 415, 422)
    responses: dict[int | str, dict[str, Any]] = {code: {"model": S.ErrorOut} for code in codes}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return _error(422, str(first.get("msg")), _field(tuple(first.get("loc", ()))))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        field = "Authorization" if exc.status_code in (401, 403) else ("body" if exc.status_code == 413 else None)
        return _error(exc.status_code, str(exc.detail), field, getattr(exc, "headers", None))

    @app.exception_handler(MfrecError)
    async def mfrec_error(request: Request, exc: MfrecError) -> JSONResponse:
        if isinstance(exc, RequestConflict):
            return _error(409, str(exc), "request_id")
        if not isinstance(exc, UnknownIdError):
            return _error(400, str(exc))
        # The field is the path parameter (item_id) or the body field (item) that named the unknown id.
        field = exc.what if exc.what in ("user", "item") else None
        if field and f"{field}_id" in request.path_params:
            field = f"{field}_id"
        return _error(404, str(exc), field)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; see the server log")

    def served() -> Served:
        return holder.fresh()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return try_page(served().model.rating_scale_)  # the rating buttons follow the model's scale

    @app.get("/health", response_model=S.Health)
    def health() -> S.Health:
        return S.Health(status="ok", model_version=holder.fresh().version, pid=os.getpid())

    @app.get("/model", response_model=S.ModelOut)
    def model_info() -> S.ModelOut:
        current = served()
        meta = current.meta
        data = {key: meta.get(key) for key in ("n_users", "n_items", "n_factors", "rating_scale", "global_mean")}
        data["has_titles"] = current.model.item_labels_ is not None
        return S.ModelOut(
            model=meta["model"],
            version=current.version,
            mfrec_version=meta.get("mfrec_version"),
            params=meta.get("params", {}),
            trained_at=iso(current.trained_at),
            data=data,
            ratings_logged_since_training=store.count(after_id=trained_log_id(meta)),
            reloads=holder.reloads,
        )

    @app.get("/users/{user_id}/recommendations", response_model=S.RecommendationsOut, responses=responses)
    def recommendations(user_id: UserId, n: N = 10, exclude_seen: bool = True, explain: bool = False) -> Response:
        current = served()
        source, items = current.recommend(user_id, n, exclude_seen, explain)
        # Built from plain lists and returned as is: validating the response model per request costs more
        # than the ranking (the schema above still documents it, and the tests check the shape).
        kind = "popularity" if source == "popularity" else current.model.score_kind
        return _json(
            {"user": user_id, "source": source, "score_kind": kind, "model_version": current.version, "items": items}
        )

    @app.get("/items/{item_id}/similar", response_model=S.SimilarOut, responses=responses)
    def similar(item_id: ItemId, n: N = 10) -> S.SimilarOut:
        model = served().model
        if item_id not in model.item_map_:
            raise UnknownIdError(f"unknown item {item_id!r}", what="item")
        if not hasattr(model, "item_factors_"):
            raise HTTPException(400, f"{type(model).__name__} has no item factors: similar items need a factor model")
        frame = model.similar_items(item_id, n=n)
        titles = frame["title"].tolist() if "title" in frame else [None] * len(frame)
        return S.SimilarOut(
            item=as_json_id(model.item_map_.to_ids(model.item_map_.lookup([item_id]))[0]),  # as the list spells ids
            similar=[
                S.Similar(item=as_json_id(i), similarity=float(s), title=t)
                for i, s, t in zip(frame["similar_item"], frame["similarity"], titles, strict=True)
            ],
        )

    @app.post("/predict", response_model=S.PredictOut, responses=responses)
    def predict(body: S.PredictIn) -> S.PredictOut:
        current = served()
        model = current.model
        users = np.array([str(p.user) for p in body.pairs], dtype=object)
        items = np.array([str(p.item) for p in body.pairs], dtype=object)
        frame = model.predict_frame(users, items)
        values = frame["prediction"].to_numpy(dtype=np.float64, copy=True)
        fallback = frame["fallback"].to_numpy(copy=True)
        # Users with ratings logged since training are predicted from their fold-in, like their recommendations.
        for user in set(users.tolist()) & current.logged.keys():
            combined = current.ratings_of(user)
            rows = np.flatnonzero(users == user)
            values[rows] = model.predict_new_user(model.fold_in(combined), items[rows])
            fallback[rows] = ~frame["known_item"].to_numpy()[rows]
        return S.PredictOut(
            predictions=[
                S.Prediction(user=p.user, item=p.item, prediction=float(v), fallback=bool(f))
                for p, v, f in zip(body.pairs, values, fallback, strict=True)
            ]
        )

    @app.post(
        "/users/{user_id}/ratings",
        response_model=S.RatingsOut,
        status_code=201,
        responses=responses,
        dependencies=[Depends(authorised)],
    )
    def post_ratings(user_id: UserId, body: S.RatingsIn, response: Response) -> S.RatingsOut:
        current = holder.current
        low, high = current.model.rating_scale_
        implicit = not current.model.predicts_ratings
        for position, entry in enumerate(body.ratings):
            if entry.rating is None and implicit:  # a click: one interaction
                entry.rating = 1.0
            if entry.rating is None:
                raise RequestValidationError(
                    [{"loc": ("body", "ratings", position, "rating"), "msg": "a rating model needs a rating",
                      "type": "missing"}]
                )  # fmt: skip
            if not low <= entry.rating <= high:
                raise RequestValidationError(
                    [
                        {
                            "loc": ("body", "ratings", position, "rating"),
                            "msg": f"rating {entry.rating} is outside the rating scale [{low:g}, {high:g}]",
                            "type": "value_error",
                        }
                    ]
                )
        pairs = [(str(entry.item), float(entry.rating)) for entry in body.ratings]
        appended = store.append(user_id, pairs, body.request_id)  # committed (fsync'd) before we answer
        if appended.duplicate:
            response.status_code = 200
        current = served()  # fold in at once: the next recommendation reads the log we just wrote
        ignored = sum(item not in current.item_rows for item, _ in pairs)
        return S.RatingsOut(
            user=user_id,
            accepted=appended.n_ratings,
            duplicate=appended.duplicate,
            ignored_items=ignored,
            logged_at=iso(appended.logged_at),
        )

    @app.post("/admin/reload", response_model=S.ModelOut, responses=responses, dependencies=[Depends(admin)])
    def reload() -> S.ModelOut:
        holder.reload()
        return model_info()

    return app


#: How ``mfrec serve --workers N`` tells each worker process what to serve (the token travels as a file path).
ENV_MODEL_DIR, ENV_DB, ENV_TOKEN_FILE = "MFREC_SERVE_MODEL_DIR", "MFREC_SERVE_DB", "MFREC_SERVE_TOKEN_FILE"


def one_blas_thread() -> None:
    """Limit BLAS (OpenBLAS / MKL) to one thread in this server process.

    A request scores one user (a matrix-vector product): a BLAS thread team costs more
    than it saves on that, and its threads spin-wait, so next to busy processes a 50k-item
    product took 15 ms with two threads against 2 ms with one. Requests run in parallel
    across threads (BLAS and the numba kernels release the GIL) and worker processes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - in the serve extra
        return
    threadpool_limits(1, user_api="blas")


def app_from_environment() -> FastAPI:
    """:func:`create_app` from the ``MFREC_SERVE_*`` variables: the factory each uvicorn worker process calls."""
    one_blas_thread()
    token_file = os.environ.get(ENV_TOKEN_FILE)
    token = Path(token_file).read_text().strip() if token_file else None
    return create_app(os.environ[ENV_MODEL_DIR], os.environ[ENV_DB], token=token)
