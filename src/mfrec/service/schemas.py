"""Request and response bodies, with the bounds every input is held to."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: Upper bounds: ratings per POST, pairs per /predict, ``n`` per list, bytes per body, characters per id.
MAX_BATCH = 1000
MAX_PAIRS = 10_000
MAX_N = 1000
MAX_BODY_BYTES = 1_000_000
MAX_ID_LENGTH = 256

Id = (
    Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
    | Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
)
# strict: a JSON number only; true or "4" is refused (true would be a 1-star rating on a 1-5 scale)
Rating = Annotated[float, Field(allow_inf_nan=False, strict=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RatingIn(Strict):
    item: Id
    rating: Rating | None = Field(
        default=None, description="Required by a rating model; an implicit model (clicks, plays) takes 1 when absent."
    )


class RatingsIn(Strict):
    ratings: list[RatingIn] = Field(min_length=1, max_length=MAX_BATCH)
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="Client-chosen id: a retry with the same id is acknowledged, not logged twice."
    )


class RatingsOut(BaseModel):
    user: str
    accepted: int
    duplicate: bool
    ignored_items: int = Field(description="Items the model does not know: logged, not used until a retrain.")
    logged_at: str


class Pair(Strict):
    user: Id
    item: Id


class PredictIn(Strict):
    pairs: list[Pair] = Field(min_length=1, max_length=MAX_PAIRS)


class Prediction(BaseModel):
    user: Any
    item: Any
    prediction: float
    fallback: bool


class PredictOut(BaseModel):
    predictions: list[Prediction]


class Recommendation(BaseModel):
    item: Any
    score: float
    rank: int
    title: str | None = None
    because: str | None = None


class RecommendationsOut(BaseModel):
    user: str
    source: str = Field(description="Which path answered: model, fold-in or popularity (the cold-start fallback).")
    score_kind: str = Field(
        description="What each item's score is: rating (the predicted rating), preference (an implicit-feedback "
        "model's score) or popularity (the item's training interactions: the cold-start fallback)."
    )
    model_version: str
    items: list[Recommendation]


class Similar(BaseModel):
    item: Any
    similarity: float
    title: str | None = None


class SimilarOut(BaseModel):
    item: Any = Field(description="The item asked about, spelled as the model's ids are (a number for integer ids).")
    similar: list[Similar]


class ModelOut(BaseModel):
    model: str
    version: str
    mfrec_version: str | None
    params: dict[str, Any]
    trained_at: str
    data: dict[str, Any]
    ratings_logged_since_training: int
    reloads: int


class Health(BaseModel):
    status: str
    model_version: str
    pid: int = Field(description="The worker process that answered (mfrec serve --workers N runs N).")


class ErrorDetail(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail
