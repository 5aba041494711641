"""``POST /api/v1/webhooks/{url}``: HTTP requests become trigger instances.

``st2`` is the generic hook (``{"trigger", "payload"}`` dispatches any
registered trigger type); every other url must be the ``url`` parameter of a
``core.st2.webhook`` trigger that an enabled rule listens to. The payload is
``{headers, headers_lower, body}``, auth headers removed, as StackStorm's.

A url declared by a pack's ``webhooks/<name>.yaml`` (:mod:`st2lite.webhooks`)
is checked first: signature (secret from the datastore), rate limit (a Redis
counter shared by every API process), body schema. ``?wait=SECONDS`` answers
200 with the executions the instances started, each followed by its descendants
(a chain's tasks, with ``parent`` and ``children``), once they all end (or the
time is up).
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from st2lite import keys
from st2lite.api.deps import ApiRuntime, RuntimeDep
from st2lite.api.errors import ApiError
from st2lite.api.schemas import WebhookSt2Body
from st2lite.api.security import caller_of
from st2lite.exceptions import AuthenticationError, WebhookSecretMissingError
from st2lite.permissions import Permission
from st2lite.statuses import COMPLETED
from st2lite.triggers import WEBHOOK_TRIGGER, TriggerInstance
from st2lite.webhooks import MAX_WAIT, RateLimit, Webhook, check_body, check_signature, slack_challenge, slack_signed

router = APIRouter(tags=["webhooks"])

#: Request headers never copied into a trigger payload.
HIDDEN_HEADERS = frozenset({"x-auth-token", "st2-api-key", "cookie", "authorization"})
TRACE_HEADER = "st2-trace-tag"
#: The trigger instance ids of a Slack-signed request (whose 200 answer has an empty body, as Slack wants).
TRIGGER_INSTANCES_HEADER = "St2-Trigger-Instances"
#: Seconds between two looks at the trigger instance records and executions during ``?wait``.
WAIT_POLL = 0.05
#: The most executions a ``?wait`` answer lists (those started and their descendants: a chain's tasks).
MAX_WAIT_EXECUTIONS = 1_000

WaitQuery = Annotated[
    float | None,
    Query(ge=0, description=f"Seconds to wait for the executions started to end (at most {MAX_WAIT:g})."),
]


@router.post("/api/v1/webhooks/{url:path}", status_code=202)
async def post_webhook(url: str, request: Request, rt: RuntimeDep, wait: WaitQuery = None) -> Any:
    """Dispatch one trigger instance per trigger registered for ``url``; 202 with the instance (200 with ``?wait``).

    This declaration documents the route (OpenAPI) and serves it in an app
    without :class:`WebhookFastPath`, which :func:`st2lite.api.app.create_app`
    installs: it answers the same way without FastAPI's per-request work.
    """
    return await handle_webhook(rt, url, request, wait)


class WebhookFastPath:
    """ASGI middleware answering ``POST /api/v1/webhooks/{url}`` itself: the API's hot path.

    It sits right inside FastAPI's outer middlewares (server errors, body size
    limit) and skips what the other routes need: exception middleware, routing,
    dependency solving, query validation. Errors become the same answers
    through the app's own exception handlers (looked up by class, as Starlette
    does); anything without a handler goes on to the 500 of the server error
    middleware. Every other request passes through untouched.
    """

    PREFIX = "/api/v1/webhooks/"

    def __init__(self, app: ASGIApp, *, handlers: Mapping[Any, Callable[..., Any]]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            runtime: ApiRuntime = request.app.state.runtime
            wait = _wait(request.query_params.get("wait"))
            response = await handle_webhook(runtime, scope["path"][len(self.PREFIX) :], request, wait)
        except Exception as exc:
            handler = next((self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _wait(raw: str | None) -> float | None:
    """``?wait`` as FastAPI would validate it (same 400 messages)."""
    if raw is None:
        return None
    try:
        wait = float(raw)
    except ValueError:
        raise ApiError(
            400, "invalid request: query.wait: Input should be a valid number, unable to parse string as a number"
        ) from None
    if not wait >= 0:
        raise ApiError(400, "invalid request: query.wait: Input should be greater than or equal to 0")
    return wait


async def handle_webhook(rt: ApiRuntime, url: str, request: Request, wait: float | None) -> Response:
    """Check and dispatch a webhook request (see the module doc)."""
    hook = url.strip("/")
    limit = rt.settings.max_payload_bytes
    headers = request.headers
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise ApiError(413, f"request body of {len(raw)} bytes is over the limit of {limit} bytes")
    content_type = headers.get("content-type", "")
    trace_tag = headers.get(TRACE_HEADER, "")
    caller = caller_of(request.scope)
    if caller.method != "webhook_signature":  # else: no credentials, the declared webhook's signature decides
        caller.require(Permission.WEBHOOK_SEND, "send webhooks")
    if hook == "st2":
        if caller.method == "webhook_signature":
            raise AuthenticationError("authentication required: the generic webhook takes an API key or a token")
        instances = [_prepare_st2(rt, _parse_body(raw, content_type), trace_tag, len(raw))]
        await rt.publisher.publish(instances, actor=caller.actor)
        return await _answer(rt, instances, wait)
    snapshot = rt.registry.current()
    bound = snapshot.webhook_parameters.get(hook)
    if not bound:
        raise ApiError(
            404, f"Webhook {hook} not registered with st2lite; register a rule on core.st2.webhook with url '{hook}'"
        )
    pairs = headers.items()
    webhook = snapshot.declared_webhooks.get(hook)
    if caller.method == "webhook_signature" and (webhook is None or webhook.signature is None):
        raise AuthenticationError("authentication required: send an API key or a token with this webhook")
    if webhook is not None:  # the signature is checked on the raw bytes, before the body is even parsed
        limited = await run_in_threadpool(_guard, rt, webhook, raw, {k.lower(): v for k, v in pairs})
        if limited is not None:
            return limited
    body = _parse_body(raw, content_type)
    if not isinstance(body, dict | list):
        raise ApiError(400, "request body must be a JSON object or array")
    if webhook is not None:
        challenge = slack_challenge(webhook, body)
        if challenge is not None:  # Slack checking the Events API url: answer it, dispatch nothing
            return JSONResponse(status_code=200, content={"challenge": challenge})
        check_body(webhook, body)
    # Starlette's header names are lower case already.
    kept = [(k, v) for k, v in pairs if k not in HIDDEN_HEADERS and k != TRACE_HEADER]
    payload = {"headers": {_title(k): v for k, v in kept}, "headers_lower": dict(kept), "body": body}
    instances = [
        rt.dispatcher.prepare(
            WEBHOOK_TRIGGER, payload, parameters=parameters, trace_tag=trace_tag or f"webhook-{hook}", size=len(raw)
        )
        for parameters in bound
    ]
    # With the instances of the other requests of this turn.
    await rt.publisher.publish(instances, actor=caller.actor)
    if wait is None and slack_signed(webhook):
        # Slack wants a 200 within 3 s, and shows a slash command's response body in the channel: an empty body
        # is a plain acknowledgement. The instance ids are in a header.
        return Response(b"", status_code=200, headers={TRIGGER_INSTANCES_HEADER: ",".join(i.id for i in instances)})
    return await _answer(rt, instances, wait)


def _guard(rt: ApiRuntime, webhook: Webhook, raw: bytes, headers: dict[str, str]) -> JSONResponse | None:
    """Signature, then rate limit (only authentic requests count); the 429 answer when over the limit."""
    if webhook.signature is not None:
        key = webhook.signature.secret_key
        secret = rt.keys.stored_value(key, scope="system", decrypt=True)
        if secret is None:
            raise WebhookSecretMissingError(webhook.url, key)
        check_signature(webhook.signature, secret, raw, headers, time.time())
    if webhook.rate_limit is not None:
        retry_after = _over_rate_limit(rt, webhook.url, webhook.rate_limit)
        if retry_after is not None:
            limit = webhook.rate_limit
            return JSONResponse(
                status_code=429,
                headers={"Retry-After": str(retry_after)},
                content={
                    "faultstring": f"webhook '{webhook.url}' is over its rate limit of {limit.requests} requests "
                    f"per {limit.per} s; retry after {retry_after} s"
                },
            )
    return None


def _over_rate_limit(rt: ApiRuntime, url: str, limit: RateLimit) -> int | None:
    """Count this request in the url's fixed window (atomic across API processes); seconds to wait when over."""
    key = keys.webhook_rate(url)
    with rt.client.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=limit.per, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _created, count, ttl = pipe.execute()
    if int(count) <= limit.requests:
        return None
    return max(int(ttl), 1)


async def _answer(rt: ApiRuntime, instances: list[TriggerInstance], wait: float | None) -> Response:
    """202 with the instances; with ``wait``, 200 with the executions they started once ended or out of time."""
    if wait is None:
        return Response(_accepted(instances), status_code=202, media_type="application/json")
    ids = [i.id for i in instances]
    deadline = time.monotonic() + min(wait, MAX_WAIT)
    while True:
        executions, complete = await run_in_threadpool(_results, rt, ids)
        left = deadline - time.monotonic()
        if complete or left <= 0:
            break
        await asyncio.sleep(min(WAIT_POLL, left))
    return JSONResponse(
        status_code=200,
        content={
            "trigger_instance": ids[0],
            "trigger_instances": ids,
            "complete": complete,
            "executions": executions,
        },
    )


def _results(rt: ApiRuntime, instance_ids: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """The executions the instances started so far, their descendants (chain tasks) after each, and whether
    the rules engine did them all and every one listed ended."""
    with rt.client.pipeline(transaction=False) as pipe:
        for instance_id in instance_ids:
            pipe.get(keys.trigger_instance(instance_id))
        records = pipe.execute()
    processed = all(records)
    started = [
        str(enforcement["execution"])
        for record in records
        if record
        for enforcement in orjson.loads(record).get("enforcements", [])
        if enforcement.get("execution")
    ]
    top = rt.executions.get_many(started, with_children=True)
    tree = rt.executions.with_descendants(top, limit=MAX_WAIT_EXECUTIONS)
    summaries = [
        {
            "id": e.id,
            "action": e.action,
            "rule": e.rule,
            "status": str(e.status),
            "result": e.result,
            "parent": e.parent,
            "children": e.children,
        }
        for e in tree
    ]
    complete = processed and len(top) == len(started) and all(e.status in COMPLETED for e in tree)
    return summaries, complete


def _parse_body(raw: bytes, content_type: str) -> Any:
    """JSON, or a form (``application/x-www-form-urlencoded``: each field once -> a string, repeated -> a list)."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}; send a JSON object or array (or a form)") from exc


def _prepare_st2(rt: ApiRuntime, body: Any, trace_tag: str, size: int) -> TriggerInstance:
    if not isinstance(body, dict):
        raise ApiError(400, 'the body of the st2 webhook must be a JSON object {"trigger": ..., "payload": {...}}')
    if not body.get("trigger"):
        raise ApiError(400, "Trigger not specified.")
    try:
        spec = WebhookSt2Body.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, f"invalid st2 webhook body: {problems}") from exc
    return rt.dispatcher.prepare(spec.trigger, spec.payload, trace_tag=trace_tag or spec.trace_tag, size=size)


def _accepted(instances: list[TriggerInstance]) -> bytes:
    """The first instance as JSON (pydantic's own encoding, as every other route) plus ``trigger_instances``."""
    first = instances[0].model_dump_json().encode()
    ids = orjson.dumps([i.id for i in instances])
    return first[:-1] + b',"trigger_instances":' + ids + b"}"  # a JSON object always ends with "}"


@lru_cache(maxsize=1024)
def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
