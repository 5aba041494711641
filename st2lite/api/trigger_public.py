"""The StackStorm shapes of trigger types, trigger instances, sensor types and webhooks."""

from __future__ import annotations

import hashlib
from typing import Any

from st2lite.api.schemas import utc_z
from st2lite.content import SensorMeta
from st2lite.registry import Snapshot
from st2lite.sensors.container import missing_config, missing_config_message, runnable_sensors
from st2lite.sensors.status import SensorStatusStore
from st2lite.triggers import WEBHOOK_TRIGGER, TriggerInstance, TriggerType
from st2lite.webhooks import Webhook

__all__ = [
    "dispatched_public",
    "instance_public",
    "sensor_public",
    "sensor_states",
    "sensor_type_public",
    "timer_public",
    "trigger_type_public",
    "webhook_public",
]


def trigger_type_public(trigger_type: TriggerType) -> dict[str, Any]:
    """``GET /api/v1/triggertypes`` item; the ref is the id (st2lite has no database ids)."""
    return {
        "id": trigger_type.ref,
        "uid": f"trigger_type:{trigger_type.pack}:{trigger_type.name}",
        "ref": trigger_type.ref,
        "name": trigger_type.name,
        "pack": trigger_type.pack,
        "description": trigger_type.description,
        "payload_schema": trigger_type.payload_schema,
        "parameters_schema": trigger_type.parameters_schema,
        "tags": trigger_type.tags,
    }


def instance_public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored trigger instance record (or a just-dispatched instance's) as ``GET /api/v1/triggerinstances``."""
    out: dict[str, Any] = {
        "id": record["id"],
        "trigger": record["trigger"],
        "occurrence_time": utc_z(str(record.get("occurred_at") or "")),
        "parameters": record.get("parameters") or {},
        "payload": record.get("payload") or {},
        "status": record.get("status", "pending"),
        "trace_tag": record.get("trace_tag") or None,
        "source": record.get("source") or None,
        "enforcements": record.get("enforcements"),
    }
    return {k: v for k, v in out.items() if v is not None}


def dispatched_public(instance: TriggerInstance) -> dict[str, Any]:
    """A trigger instance just put on the bus (``pending`` until the rules engine processes it)."""
    return instance_public({**instance.model_dump(mode="json"), "status": "pending"})


def sensor_states(
    snapshot: Snapshot,
    store: SensorStatusStore,
    *,
    pack: str | None = None,
    refs: list[str] | None = None,
    configs_dir: str = "configs",
) -> list[tuple[SensorMeta, dict[str, Any]]]:
    """The registered sensors (sorted by ref; one pack's, or ``refs``) with their status.

    The status is the stored one (:class:`~st2lite.sensors.status.SensorStatus`)
    without its ``ref``; a sensor that never ran has ``state`` ``disabled``,
    ``idle`` (a built-in sensor no enabled rule needs), ``unconfigured`` (its pack
    needs a config the site has not written, under ``configs_dir``; ``last_error``
    says what to write) or ``pending`` (no sensor container has started it: is
    ``st2lite sensors`` or ``st2lite up`` running?).
    """
    sensors = snapshot.content.sensors
    chosen = sorted(refs if refs is not None else sensors)
    chosen = [ref for ref in chosen if ref in sensors and (pack is None or sensors[ref].pack == pack)]
    wanted = runnable_sensors(snapshot.content, snapshot.rule_trigger_types)
    stored = store.many(chosen)
    out: list[tuple[SensorMeta, dict[str, Any]]] = []
    for ref in chosen:
        meta = sensors[ref]
        if ref in stored:
            status = stored[ref].public()
        elif meta.enabled and (needed := missing_config(snapshot.content, meta)):
            message = missing_config_message(meta.pack, needed, configs_dir)
            status = {"state": "unconfigured", "restarts": 0, "errors": 0, "last_error": message}
        else:
            state = "disabled" if not meta.enabled else ("pending" if ref in wanted else "idle")
            status = {"state": state, "restarts": 0, "errors": 0}
        status.pop("ref", None)
        out.append((meta, status))
    return out


def sensor_public(sensor: SensorMeta, status: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/v1/sensors`` item: the sensor's identity and its status fields, flat."""
    base = {
        "ref": sensor.full_ref,
        "pack": sensor.pack,
        "name": sensor.name or sensor.class_name,
        "class_name": sensor.class_name,
        "enabled": sensor.enabled,
        "poll_interval": sensor.poll_interval,
        "trigger_types": sensor.trigger_type_refs,
    }
    return {**base, **status}


def sensor_type_public(sensor: SensorMeta, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """``GET /api/v1/sensortypes`` item; with ``status`` (st2lite's addition) its state as ``status``."""
    name = sensor.name or sensor.class_name
    out: dict[str, Any] = {
        "id": sensor.full_ref,
        "uid": f"sensor_type:{sensor.pack}:{name}",
        "ref": sensor.full_ref,
        "name": name,
        "pack": sensor.pack,
        "class_name": sensor.class_name,
        "description": sensor.description,
        "enabled": sensor.enabled,
        "entry_point": sensor.entry_point,
        "artifact_uri": sensor.artifact_uri or None,
        "poll_interval": sensor.poll_interval,
        "trigger_types": sensor.trigger_type_refs,
        "status": status,
    }
    return {k: v for k, v in out.items() if v is not None}


def webhook_public(url: str, *, declared: Webhook | None = None, rule_bound: bool = True) -> dict[str, Any]:
    """``GET /api/v1/webhooks`` item: the ``core.st2.webhook`` trigger of ``url`` (always with ``parameters.url``).

    st2lite adds ``rule_bound`` (an enabled rule listens: a POST is accepted)
    and, for a url a pack declares (``webhooks/<name>.yaml``), ``declared_by``
    (the declaration's ref) and what it checks; the description is the
    declaration's when it has one.
    """
    name = hashlib.sha256(url.encode()).hexdigest()[:12]
    out: dict[str, Any] = {
        "id": f"core.{name}",
        "uid": f"trigger:core:{name}",
        "ref": f"core.{name}",
        "name": name,
        "pack": "core",
        "type": WEBHOOK_TRIGGER,
        "description": (declared.description if declared is not None else "") or f"POST /api/v1/webhooks/{url}",
        "parameters": {"url": url},
        "rule_bound": rule_bound,
    }
    if declared is not None:
        out["declared_by"] = declared.full_ref
        out["checks"] = {
            "signature": str(declared.signature.type) if declared.signature is not None else None,
            "rate_limit": declared.rate_limit.model_dump() if declared.rate_limit is not None else None,
            "body_schema": bool(declared.body_schema),
        }
    return out


def timer_public(trigger: dict[str, Any], state: dict[str, str] | None, rules: list[str]) -> dict[str, Any]:
    """``GET /api/v1/timers`` item: StackStorm's timer trigger, plus st2lite's ``rules`` and ``schedule``.

    ``schedule`` is what the leading timer engine stored (``null`` until it
    scheduled the timer): the next and last ticks and the last instance.
    """
    schedule = None
    if state:
        schedule = {
            "timezone": state.get("timezone") or None,
            "next_at": state.get("next_at") or None,
            "last_at": state.get("last_at") or None,
            "last_instance": state.get("last_instance") or None,
            "fired_at": state.get("fired_at") or None,
        }
    return {**trigger, "rules": rules, "schedule": schedule}
