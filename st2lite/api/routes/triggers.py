"""``/api/v1/triggertypes``, ``/triggerinstances`` (list/get/re_emit), ``/sensortypes``, ``/sensors``, ``/timers``,
webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from st2lite.api.deps import ApiRuntime, RuntimeDep
from st2lite.api.docs_models import errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import CLIENT_LIMIT, DEFAULT_LIMIT, FieldsDep, Page, TimeQuery, paging, parse_time
from st2lite.api.security import Authorize, Caller
from st2lite.api.trigger_public import (
    dispatched_public,
    instance_public,
    sensor_public,
    sensor_states,
    sensor_type_public,
    timer_public,
    trigger_type_public,
    webhook_public,
)
from st2lite.exceptions import UnknownRefError
from st2lite.permissions import Permission
from st2lite.registry import Snapshot
from st2lite.sensors.status import SensorStatusStore
from st2lite.sensors.triggers import concrete_triggers, trigger_id
from st2lite.trigger_instances import STATUSES, TriggerInstanceFilter
from st2lite.triggers import CRON_TIMER, DATE_TIMER, INTERVAL_TIMER

router = APIRouter(tags=["triggers"])

TriggerViewer = Annotated[Caller, Authorize(Permission.TRIGGER_VIEW)]
SensorViewer = Annotated[Caller, Authorize(Permission.SENSOR_VIEW)]


@router.get("/api/v1/triggertypes", summary="List trigger types", responses=errors(400, 401, 403))
def list_trigger_types(
    rt: RuntimeDep,
    response: Response,
    _caller: TriggerViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(DEFAULT_LIMIT)],
    pack: str | None = None,
) -> list[dict[str, Any]]:
    """Every registered trigger type (built-in and packs'), by ref; ``pack`` keeps one pack's."""
    types = rt.registry.current().content.trigger_types
    matching = [types[ref] for ref in sorted(types) if pack is None or types[ref].pack == pack]
    page.headers(response, len(matching))
    return fields.apply_all([trigger_type_public(t) for t in page.cut(matching)])


@router.get("/api/v1/triggertypes/{ref}", summary="Get a trigger type", responses=errors(401, 403, 404))
def get_trigger_type(ref: str, rt: RuntimeDep, _caller: TriggerViewer, fields: FieldsDep) -> dict[str, Any]:
    """One trigger type by ref (its id is its ref)."""
    try:
        return fields.apply(trigger_type_public(rt.registry.current().content.trigger_type(ref)))
    except UnknownRefError as exc:
        raise ApiError(
            404, f"TriggerType {ref} not found; list the registered ones with 'st2lite trigger list'"
        ) from exc


@router.get("/api/v1/triggerinstances", summary="List trigger instances", responses=errors(400, 401, 403))
def list_trigger_instances(
    rt: RuntimeDep,
    response: Response,
    _caller: TriggerViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(CLIENT_LIMIT)],
    trigger: str | None = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    timestamp_gt: TimeQuery = None,
    timestamp_lt: TimeQuery = None,
) -> list[dict[str, Any]]:
    """Processed trigger instances, newest first; ``X-Total-Count`` tells how many match (at most 1000 per
    request, also for ``limit=-1``)."""
    size = page.size
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    flt = TriggerInstanceFilter(
        trigger=trigger,
        status=status,
        since=parse_time(timestamp_gt, "timestamp_gt"),
        until=parse_time(timestamp_lt, "timestamp_lt"),
    )
    records, total = rt.trigger_instances.search(flt, limit=size, offset=page.offset)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(size)
    return fields.apply_all([instance_public(r) for r in records])


@router.get("/api/v1/triggerinstances/{instance_id}", summary="Get a trigger instance", responses=errors(401, 403, 404))
def get_trigger_instance(instance_id: str, rt: RuntimeDep, _caller: TriggerViewer, fields: FieldsDep) -> dict[str, Any]:
    """One processed trigger instance with its status and enforcements."""
    return fields.apply(instance_public(rt.trigger_instances.get(instance_id)))


@router.post(
    "/api/v1/triggerinstances/{instance_id}/re_emit",
    summary="Re-emit a trigger instance",
    responses=errors(400, 401, 403, 404),
)
def re_emit(
    instance_id: str, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.TRIGGER_INSTANCE_RE_EMIT)]
) -> dict[str, Any]:
    """Dispatch a new instance with the same trigger, parameters and payload (``source`` ``re-emit:<id>``).

    200 with StackStorm's ``message`` and the new (``pending``) instance.
    """
    original = rt.trigger_instances.get(instance_id)
    instance = rt.dispatcher.dispatch(
        original["trigger"],
        original.get("payload") or {},
        parameters=original.get("parameters") or {},
        trace_tag=original.get("trace_tag") or "",
        actor=caller.actor,
        source=f"re-emit:{instance_id}",
    )
    return {**dispatched_public(instance), "message": f"Trigger instance {instance_id} succesfully re-sent."}


@router.get("/api/v1/sensortypes", summary="List sensor types", responses=errors(400, 401, 403))
def list_sensor_types(
    rt: RuntimeDep,
    response: Response,
    _caller: SensorViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(-1)],
    pack: str | None = None,
) -> list[dict[str, Any]]:
    """Every registered sensor's metadata, by ref, with its ``status``; ``pack`` keeps one pack's. No ``limit``
    returns all."""
    states = sensor_states(rt.registry.current(), SensorStatusStore(rt.client), pack=pack, configs_dir=_configs(rt))
    page.headers(response, len(states))
    return fields.apply_all([sensor_type_public(meta, item) for meta, item in page.cut(states)])


@router.get("/api/v1/sensortypes/{ref}", summary="Get a sensor type", responses=errors(401, 403, 404))
def get_sensor_type(ref: str, rt: RuntimeDep, _caller: SensorViewer, fields: FieldsDep) -> dict[str, Any]:
    snapshot = rt.registry.current()
    try:
        snapshot.content.sensor(ref)
    except UnknownRefError as exc:
        raise ApiError(404, f"SensorType {ref} not found; register the pack that declares it") from exc
    ((meta, item),) = sensor_states(snapshot, SensorStatusStore(rt.client), refs=[ref], configs_dir=_configs(rt))
    return fields.apply(sensor_type_public(meta, item))


@router.get("/api/v1/sensors", summary="List sensors with their state", responses=errors(401, 403))
def list_sensors(rt: RuntimeDep, _caller: SensorViewer, pack: str | None = None) -> list[dict[str, Any]]:
    """st2lite's own: every registered sensor with its state, where it runs and its last error."""
    return [
        sensor_public(meta, item)
        for meta, item in sensor_states(
            rt.registry.current(), SensorStatusStore(rt.client), pack=pack, configs_dir=_configs(rt)
        )
    ]


TIMER_TYPES = (INTERVAL_TIMER, CRON_TIMER, DATE_TIMER)


@router.get("/api/v1/timers", summary="List timers", responses=errors(400, 401, 403))
def list_timers(
    rt: RuntimeDep,
    _caller: TriggerViewer,
    timer_type: Annotated[
        str | None, Query(json_schema_extra={"enum": [INTERVAL_TIMER, CRON_TIMER, DATE_TIMER]})
    ] = None,
) -> list[dict[str, Any]]:
    """The timers enabled rules create (StackStorm's timer triggers), with their rules and schedule, by ref."""
    if timer_type is not None and timer_type not in TIMER_TYPES:
        raise ApiError(400, f"timer_type must be one of {', '.join(TIMER_TYPES)}, not '{timer_type}'")
    return _timers(rt, [timer_type] if timer_type else list(TIMER_TYPES))


@router.get("/api/v1/timers/{ref_or_id}", summary="Get a timer", responses=errors(401, 403, 404))
def get_timer(ref_or_id: str, rt: RuntimeDep, _caller: TriggerViewer) -> dict[str, Any]:
    """One timer by id or ref."""
    for timer in _timers(rt, list(TIMER_TYPES)):
        if ref_or_id in (timer["id"], timer["ref"]):
            return timer
    raise ApiError(404, f"Timer {ref_or_id} not found; no enabled rule uses a timer with this id or ref")


def _timers(rt: RuntimeDep, types: list[str]) -> list[dict[str, Any]]:
    from st2lite.sensors.timer_engine import timer_status  # here: the engine's imports (croniter) stay out of the API

    rules = rt.registry.current().content.enabled_rules()
    triggers = concrete_triggers(rules, types)
    using: dict[str, list[str]] = {}
    for rule in rules:
        if rule.trigger.type in types:
            using.setdefault(trigger_id(rule.trigger.type, rule.trigger.parameters), []).append(rule.full_ref)
    states = {state["id"]: state for state in timer_status(rt.client)}
    items = [timer_public(t, states.get(i), sorted(using.get(i, []))) for i, t in triggers.items()]
    return sorted(items, key=lambda item: str(item["ref"]))


WebhookViewer = Annotated[Caller, Authorize(Permission.WEBHOOK_VIEW)]


@router.get("/api/v1/webhooks", summary="List webhooks", responses=errors(401, 403))
def list_webhooks(rt: RuntimeDep, _caller: WebhookViewer) -> list[dict[str, Any]]:
    """The webhook urls enabled rules listen to and those packs declare, each once, as ``core.st2.webhook`` triggers.

    ``include_attributes`` is ignored.
    """
    snapshot = rt.registry.current()
    urls = sorted(snapshot.webhook_urls | snapshot.declared_webhooks.keys())
    return [_webhook(snapshot, url) for url in urls]


def _webhook(snapshot: Snapshot, url: str) -> dict[str, Any]:
    return webhook_public(url, declared=snapshot.declared_webhooks.get(url), rule_bound=url in snapshot.webhook_urls)


@router.get("/api/v1/webhooks/{url:path}", summary="Get a webhook", responses=errors(401, 403, 404))
def get_webhook(url: str, rt: RuntimeDep, caller: WebhookViewer) -> Any:
    """The webhook of one url (``include_attributes`` is ignored: items always carry ``parameters.url``)."""
    hook = url.strip("/")
    if not hook:
        return list_webhooks(rt, caller)
    snapshot = rt.registry.current()
    if hook not in snapshot.webhook_urls and hook not in snapshot.declared_webhooks:
        raise ApiError(
            404, f"Webhook {hook} not registered with st2lite; no enabled rule listens to it and no pack declares it"
        )
    return _webhook(snapshot, hook)


def _configs(rt: ApiRuntime) -> str:
    return str(rt.settings.resolved_configs_dir)
