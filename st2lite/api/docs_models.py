"""Models that describe the API's main answers in the OpenAPI document (``/openapi.json``, ``/docs``).

They document; routes build their answers as plain dicts (``*_public``
functions) and are not validated against these. StackStorm's objects are open,
so every model allows fields beyond those listed, and only ``id`` is required:
``include_attributes`` may leave any other field out.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ActionOut",
    "ApiRoot",
    "EnforcementOut",
    "ExecutionOut",
    "Conflict",
    "OverviewOut",
    "Fault",
    "PackOut",
    "RuleIn",
    "RuleOut",
    "RuleTestOut",
    "RuleUpdate",
    "RunnerOut",
    "add_request_models",
    "errors",
]

_OPEN = ConfigDict(frozen=True, extra="allow")


class Fault(BaseModel):
    """Every error: StackStorm's body."""

    model_config = _OPEN

    faultstring: str


class Conflict(Fault):
    """A rule created twice: the id of the rule that exists."""

    conflict_id: str = Field(alias="conflict-id")


class ApiRoot(BaseModel):
    model_config = _OPEN

    version: str
    docs_url: str


class ParameterSpecOut(BaseModel):
    """A parameter: a JSON-schema fragment (always with ``type``) plus StackStorm's additions."""

    model_config = _OPEN

    type: str | list[str]
    description: str | None = None
    default: Any = None
    required: bool | None = None
    secret: bool | None = None
    immutable: bool | None = None
    position: int | None = None


class ActionOut(BaseModel):
    model_config = _OPEN

    id: str
    uid: str = ""
    ref: str = ""
    name: str = ""
    pack: str = ""
    description: str = ""
    enabled: bool = False
    runner_type: str = ""
    entry_point: str = ""
    parameters: dict[str, ParameterSpecOut] = Field(default_factory=dict)


class RunnerOut(BaseModel):
    model_config = _OPEN

    id: str
    uid: str = ""
    name: str = ""
    description: str = ""
    enabled: bool = False
    runner_module: str = ""
    runner_parameters: dict[str, ParameterSpecOut] = Field(default_factory=dict)


class RuleTriggerOut(BaseModel):
    model_config = _OPEN

    type: str = ""
    ref: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class RuleActionOut(BaseModel):
    model_config = _OPEN

    ref: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class RuleOut(BaseModel):
    model_config = _OPEN

    id: str
    uid: str = ""
    ref: str = ""
    name: str = ""
    pack: str = ""
    description: str = ""
    enabled: bool = False
    type: dict[str, Any] = Field(default_factory=dict)
    trigger: RuleTriggerOut | None = None
    criteria: dict[str, Any] = Field(default_factory=dict)
    action: RuleActionOut | None = None
    tags: list[dict[str, Any]] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    metadata_file: str = ""
    last_fired: str | None = Field(default=None, description="When the rule last fired (its newest enforcement)")


class CriterionOut(BaseModel):
    """How one criterion fared in a rule test."""

    model_config = _OPEN

    key: str
    operator: str
    pattern: Any = None
    value: Any = None
    passed: bool
    error: str | None = None
    reason: str = Field(description="Why it passed or failed, as a sentence")


class RuleTestActionOut(BaseModel):
    model_config = _OPEN

    ref: str
    parameters: dict[str, Any] | None = Field(description="Rendered (secrets masked); null unless matched")


class RuleTestOut(BaseModel):
    """``POST /api/v1/rules/{ref}/test``: whether the rule matches the payload, criterion by criterion."""

    model_config = _OPEN

    matched: bool
    rule: str
    trigger: str
    reason: str
    criteria: list[CriterionOut]
    action: RuleTestActionOut
    render_error: str | None = None


class MinuteOut(BaseModel):
    model_config = _OPEN

    minute: str
    counts: dict[str, int]


class FailingActionOut(BaseModel):
    model_config = _OPEN

    action: str
    failed: int
    total: int
    last_failed_at: str
    last_failed_execution: str


class SlaMissOut(BaseModel):
    model_config = _OPEN

    trigger_instance: str
    occurred_at: str
    payload: dict[str, Any]


class OverviewOut(BaseModel):
    """``GET /api/v1/overview``: the dashboard's overview of the last minutes."""

    model_config = _OPEN

    minutes: int
    generated_at: str
    per_minute: list[MinuteOut]
    totals: dict[str, int]
    failing_actions: list[FailingActionOut]
    queue_depth: dict[str, int]
    running: int
    scheduled: int
    sla_misses: list[SlaMissOut]
    truncated: bool


class RuleTriggerIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(min_length=1, description="The trigger type's ref, e.g. core.st2.webhook")
    parameters: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class RuleActionIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str = Field(min_length=1, description="The action's ref, e.g. core.local")
    parameters: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class RuleTypeIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: Literal["standard", "backstop"] = "standard"
    parameters: dict[str, Any] = Field(default_factory=dict)


class RuleUpdate(BaseModel):
    """``PUT``: the whole rule as ``GET`` returns it (``id``, ``uid``, ``ref``, ``context``, ``metadata_file`` and
    ``trigger.ref`` are accepted and ignored); ``name`` and ``pack`` default to the URL's rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="", pattern=r"^[^.]*$")
    pack: str = Field(default="default", pattern=r"^[a-z0-9_]+$")
    description: str = ""
    enabled: bool = False
    trigger: RuleTriggerIn
    criteria: dict[str, dict[str, Any]] = Field(default_factory=dict)
    action: RuleActionIn
    type: RuleTypeIn = Field(default_factory=RuleTypeIn)
    tags: list[dict[str, Any]] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    id: str = ""
    uid: str = ""
    ref: str = ""
    metadata_file: str = ""


class RuleIn(RuleUpdate):
    """A rule as in a rule file, as JSON (what ``st2 rule create`` sends)."""

    name: str = Field(pattern=r"^[^.]+$")


class PackOut(BaseModel):
    model_config = _OPEN

    id: str
    uid: str = ""
    ref: str = ""
    name: str = ""
    description: str = ""
    version: str = ""
    author: str = ""


class RuleRefOut(BaseModel):
    model_config = _OPEN

    ref: str = ""
    id: str
    uid: str = ""


class EnforcementOut(BaseModel):
    model_config = _OPEN

    id: str
    rule: RuleRefOut | None = None
    trigger_instance_id: str = ""
    execution_id: str | None = None
    status: str = ""
    failure_reason: str = ""
    enforced_at: str = ""


class ExecutionOut(BaseModel):
    model_config = _OPEN

    id: str
    action: dict[str, Any] = Field(default_factory=dict)
    status: str = ""
    context: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)


#: Request body models routes reference by ``$ref`` (their bodies are read as plain objects, so FastAPI does not
#: add them to the document itself).
REQUEST_MODELS: tuple[type[BaseModel], ...] = ()


def add_request_models(app: FastAPI) -> None:
    """Put :data:`REQUEST_MODELS` (and the models they use) into ``app``'s OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        cached = app.openapi_schema is not None
        document = generate()  # FastAPI builds the document once and keeps it
        if not cached:
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in REQUEST_MODELS:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in schema.pop("$defs", {}).items():
                    schemas.setdefault(name, definition)
                schemas[model.__name__] = schema
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for media in operation.get("requestBody", {}).get("content", {}).values():
                        # a body read as a plain object, documented by reference: the reference alone
                        if "$ref" in media.get("schema", {}):
                            media["schema"] = {"$ref": media["schema"]["$ref"]}
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of a route's error statuses (each with the fault body)."""
    words = {
        400: "Invalid request",
        401: "Not authenticated",
        403: "Permission denied",
        404: "Not found",
        409: "Conflict",
        422: "Invalid request",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": Fault, "description": words.get(status, "Error")}
    return out


REQUEST_MODELS = (RuleIn, RuleUpdate)
