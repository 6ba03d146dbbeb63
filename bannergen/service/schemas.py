"""The request and response records of the HTTP API (pydantic, so they make the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

BEHAVIOUR = ("view", "search", "cart", "purchase")


class DecisionRequest(BaseModel):
    """Which banner should this user see now? The user id travels in the body, never in a URL."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"user_id": "zhangsan", "placement": "home_top", "size": "1200x400"}]})

    user_id: str = Field(min_length=1, max_length=256, description="the shop's user id")
    placement: str = Field(default="", max_length=128, description="where the banner goes, e.g. home_top")
    size: str = Field(default="1200x400", pattern=r"^[0-9]{1,5}x[0-9]{1,5}$", description="WIDTHxHEIGHT at 1x")
    explain: bool = Field(default=False, description="add every candidate with its probability to the answer")


class CandidateOut(BaseModel):
    position: int = Field(description="the candidate's place in the user's candidate set (-1: a cached stand-in)")
    item_id: str
    template: str
    antecedent_id: str = Field(description="a cross-sell banner's trigger item, else empty")
    score: float | None
    probability: float
    reason: str
    variant_id: str | None


class DecisionResponse(BaseModel):
    decision_id: str = Field(description="send it back with the impression and click events")
    variant_id: str
    item_id: str
    template: str
    size: str
    placement: str
    assets: dict[str, str] = Field(description="image URL per format at 1x")
    assets_2x: dict[str, str] | None = Field(description="image URL per format at 2x, when the template has it")
    html: str | None
    policy: str = Field(description="softmax, greedy, thompson, pin, holdout, default or fallback")
    propensity: float = Field(description="probability the policy chose this banner")
    score: float | None
    explanation: str
    rendered: bool = Field(description="false when the files are still being rendered (nothing of this decision "
                          "was on disk yet)")
    fallback: str | None = Field(description="why the policy's own banner was not served as it is, else null: "
                                 "unknown-user, no-candidate, or not-rendered (its files are being rendered; a "
                                 "rendered candidate stands in with policy fallback, or rendered is false)")
    degraded: bool = Field(default=False, description="true while the store is unreachable: decided from memory")
    candidates: list[CandidateOut] | None = Field(default=None, description="with explain: every candidate the "
                                                     "decision was drawn from, with its probability")


class Event(BaseModel):
    """One event. Behaviour (view, search, cart, purchase) needs item_id (query for a search);
    feedback (impression, click, conversion) needs variant_id or the decision_id it answers."""

    model_config = ConfigDict(extra="forbid")

    # Files name the event kind "event"; a request may too (one meaning, either name).
    type: Literal["view", "search", "cart", "purchase", "impression", "click", "conversion"] = Field(
        validation_alias=AliasChoices("type", "event"))
    user_id: str = Field(min_length=1, max_length=256)
    event_id: str | None = Field(default=None, min_length=1, max_length=128,
                                    description="dedupe key: a retried event with the same id is counted once")
    ts: str | float | None = Field(default=None, description="ISO 8601 (naive = UTC) or unix seconds; default now")
    item_id: str | None = Field(default=None, max_length=64)
    query: str | None = Field(default=None, max_length=256)
    variant_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{24}$")
    decision_id: str | None = Field(default=None, max_length=64)
    placement: str | None = Field(default=None, max_length=128)
    propensity: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    policy: str | None = Field(default=None, max_length=32)
    value: float | None = Field(default=None, ge=0, le=10_000_000, allow_inf_nan=False)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, description="at most serve.max_events (500) per request")


class EventsAccepted(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    users_updated: int
    rejects: list[str]


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    users: int
    variants_rendered: int
    render_queue: int
    worker: int = Field(description="process id of the worker that answered (serve --workers N)")
