"""``POST /api/v1/webhooks/{url}``: HTTP requests become trigger instances.

``st2`` is the generic hook (``{"trigger", "payload"}`` dispatches any
registered trigger type); every other url must be the ``url`` parameter of a
``core.st2.webhook`` trigger that an enabled rule listens to. The payload is
``{headers, headers_lower, body}``, auth headers removed, as StackStorm's.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError
from st2lite.api.schemas import WebhookSt2Body
from st2lite.triggers import WEBHOOK_TRIGGER, TriggerInstance

router = APIRouter(tags=["webhooks"])

#: Request headers never copied into a trigger payload.
HIDDEN_HEADERS = frozenset({"x-auth-token", "st2-api-key", "cookie", "authorization"})
TRACE_HEADER = "st2-trace-tag"


@router.post("/api/v1/webhooks/{url:path}", status_code=202)
async def post_webhook(url: str, request: Request, rt: RuntimeDep) -> Any:
    """Dispatch one trigger instance per trigger registered for ``url``; 202 with the instance."""
    hook = url.strip("/")
    limit = rt.settings.max_payload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise ApiError(413, f"request body of {len(raw)} bytes is over the limit of {limit} bytes")
    body = _parse_body(raw, request.headers.get("content-type", ""))
    trace_tag = request.headers.get(TRACE_HEADER, "")
    if hook == "st2":
        return _dispatch_st2(rt, body, trace_tag, len(raw))
    snapshot = rt.registry.current()
    if hook not in snapshot.webhook_urls:
        raise ApiError(
            404, f"Webhook {hook} not registered with st2lite; register a rule on core.st2.webhook with url '{hook}'"
        )
    if not isinstance(body, dict | list):
        raise ApiError(400, "request body must be a JSON object or array")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS and k != TRACE_HEADER}
    payload = {
        "headers": {_title(k): v for k, v in headers.items()},
        "headers_lower": {k.lower(): v for k, v in headers.items()},
        "body": body,
    }
    instances: list[TriggerInstance] = []
    for parameters in snapshot.ruleset.trigger_parameters(WEBHOOK_TRIGGER):
        if str(parameters.get("url", "")).strip("/") == hook:
            instances.append(
                rt.dispatcher.dispatch(
                    WEBHOOK_TRIGGER,
                    payload,
                    parameters=parameters,
                    trace_tag=trace_tag or f"webhook-{hook}",
                    actor="api",
                    size=len(raw),
                )
            )
    return JSONResponse(status_code=202, content=_accepted(instances))


def _parse_body(raw: bytes, content_type: str) -> Any:
    """JSON, or a form (``application/x-www-form-urlencoded``: each field once -> a string, repeated -> a list)."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}; send a JSON object or array (or a form)") from exc


def _dispatch_st2(rt: RuntimeDep, body: Any, trace_tag: str, size: int) -> JSONResponse:
    if not isinstance(body, dict):
        raise ApiError(400, 'the body of the st2 webhook must be a JSON object {"trigger": ..., "payload": {...}}')
    if not body.get("trigger"):
        raise ApiError(400, "Trigger not specified.")
    try:
        spec = WebhookSt2Body.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, f"invalid st2 webhook body: {problems}") from exc
    instance = rt.dispatcher.dispatch(
        spec.trigger, spec.payload, trace_tag=trace_tag or spec.trace_tag, actor="api", size=size
    )
    return JSONResponse(status_code=202, content=_accepted([instance]))


def _accepted(instances: list[TriggerInstance]) -> dict[str, Any]:
    first = instances[0].model_dump(mode="json")
    return {**first, "trigger_instances": [i.id for i in instances]}


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
