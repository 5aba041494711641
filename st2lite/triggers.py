"""Trigger types (kinds of events) and trigger instances (one event each)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st2lite.ids import new_id

__all__ = [
    "ACTION_TRIGGER",
    "INQUIRY_TRIGGER",
    "BUILTIN_TRIGGER_TYPES",
    "KV_CREATE_TRIGGER",
    "KV_DELETE_TRIGGER",
    "KV_UPDATE_TRIGGER",
    "KV_VALUE_CHANGE_TRIGGER",
    "SLA_MISSED_TRIGGER",
    "WEBHOOK_TRIGGER",
    "TriggerInstance",
    "TriggerType",
]

WEBHOOK_TRIGGER = "core.st2.webhook"
ACTION_TRIGGER = "core.st2.generic.actiontrigger"
#: Emitted when an inquiry starts waiting for its answer (payload ``{id, route}``), as StackStorm does.
INQUIRY_TRIGGER = "core.st2.generic.inquiry"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"
INTERVAL_TIMER = "core.st2.IntervalTimer"
DATE_TIMER = "core.st2.DateTimer"
CRON_TIMER = "core.st2.CronTimer"
KV_CREATE_TRIGGER = "core.st2.key_value_pair.create"
KV_UPDATE_TRIGGER = "core.st2.key_value_pair.update"
KV_VALUE_CHANGE_TRIGGER = "core.st2.key_value_pair.value_change"
KV_DELETE_TRIGGER = "core.st2.key_value_pair.delete"
SLA_MISSED_TRIGGER = "core.st2.sla_missed"


class TriggerType(BaseModel):
    """A kind of event, with optional JSON schemas for its payload and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    pack: str
    description: str = ""
    payload_schema: dict[str, Any] = Field(default_factory=dict)
    parameters_schema: dict[str, Any] = Field(default_factory=dict)
    tags: list[dict[str, Any]] = Field(default_factory=list)
    metadata_file: str = ""

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"


class TriggerInstance(BaseModel):
    """One event: which trigger type, with which trigger parameters, carrying which payload.

    ``parameters`` are the parameters of the concrete trigger that fired (a
    webhook's ``url``, a timer's schedule); rules bind to a trigger type *and*
    its parameters, as StackStorm's do.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    trigger: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trace_tag: str = ""
    source: str = ""


_TIMER_PAYLOAD: dict[str, Any] = {
    "type": "object",
    "properties": {"executed_at": {"type": "string"}, "schedule": {"type": ["object", "null"]}},
}

_TIMEZONE: dict[str, Any] = {
    "type": "string",
    "description": "IANA time zone name, e.g. 'Europe/Paris'; default UTC (StackStorm: America/Los_Angeles)",
}


def _cron_field(what: str) -> dict[str, Any]:
    """The schema of one APScheduler cron field: ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, lists with commas."""
    return {"type": ["string", "integer"], "description": f"{what}; '*', '*/n', 'a-b', 'a-b/n', 'a,b'"}


_KV_OBJECT_PAYLOAD: dict[str, Any] = {
    "type": "object",
    "properties": {"object": {"type": "object"}},
}

#: Trigger types every installation has (pack ``core``), as StackStorm defines them.
BUILTIN_TRIGGER_TYPES: tuple[TriggerType, ...] = (
    TriggerType(
        pack="core",
        name="st2.webhook",
        description="An HTTP POST to /api/v1/webhooks/<url>",
        parameters_schema={
            "type": "object",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
            "additionalProperties": False,
        },
        payload_schema={
            "type": "object",
            "properties": {
                "headers": {"type": "object"},
                "headers_lower": {"type": "object"},
                "body": {"type": ["object", "array"]},
            },
        },
    ),
    TriggerType(
        pack="core",
        name="st2.generic.actiontrigger",
        description="An execution ended",
        payload_schema={
            "type": "object",
            "properties": {
                "execution_id": {"type": "string"},
                "status": {"type": "string"},
                "start_timestamp": {"type": "string"},
                "action_name": {"type": "string"},
                "action_ref": {"type": "string"},
                "runner_ref": {"type": "string"},
                "parameters": {"type": "object"},
                "result": {},
                "parent": {"type": ["string", "null"]},
            },
        },
    ),
    TriggerType(pack="core", name="st2.generic.notifytrigger", description="An execution notification"),
    TriggerType(
        pack="core",
        name="st2.generic.inquiry",
        description="An inquiry waits for its answer",
        payload_schema={"type": "object", "properties": {"id": {"type": "string"}, "route": {"type": "string"}}},
    ),
    TriggerType(
        pack="core",
        name="st2.IntervalTimer",
        description="Fires every <delta> <unit>",
        payload_schema=_TIMER_PAYLOAD,
        parameters_schema={
            "type": "object",
            "properties": {
                "unit": {"enum": ["weeks", "days", "hours", "minutes", "seconds"]},
                "delta": {"type": "integer", "minimum": 1, "description": "How many units between two fires"},
                "timezone": _TIMEZONE,
            },
            "required": ["unit", "delta"],
            "additionalProperties": False,
        },
    ),
    TriggerType(
        pack="core",
        name="st2.DateTimer",
        description="Fires once at a date",
        payload_schema=_TIMER_PAYLOAD,
        parameters_schema={
            "type": "object",
            "properties": {
                "date": {
                    "type": "string",
                    "description": "ISO 8601 date and time, e.g. '2026-12-24 18:00:00' (naive: read in 'timezone') "
                    "or '2026-12-24T18:00:00+01:00'; a date already past is not scheduled",
                },
                "timezone": _TIMEZONE,
            },
            "required": ["date"],
            "additionalProperties": False,
        },
    ),
    TriggerType(
        pack="core",
        name="st2.CronTimer",
        description="Fires on a cron schedule (APScheduler cron fields, or a plain cron expression in 'cron')",
        payload_schema=_TIMER_PAYLOAD,
        parameters_schema={
            "type": "object",
            "description": "Either cron fields with APScheduler's meaning (fields less significant than the least "
            "significant one given default to their minimum, more significant ones to '*'), or 'cron' alone",
            "properties": {
                "year": _cron_field("4-digit year, 1970-9999"),
                "month": _cron_field("month 1-12 or jan-dec"),
                "day": _cron_field("day of month 1-31, 'last', or 'xth weekday' such as '1st mon' or 'last fri'"),
                "week": _cron_field("ISO week 1-53"),
                "day_of_week": _cron_field("0-6 with 0 = Monday (APScheduler, not cron), or mon-sun"),
                "hour": _cron_field("hour 0-23"),
                "minute": _cron_field("minute 0-59"),
                "second": _cron_field("second 0-59"),
                "cron": {
                    "type": "string",
                    "description": "st2lite: a plain cron expression, 5 fields (minute hour day month day_of_week, "
                    "0 or 7 = Sunday) or 6 with the second first, e.g. '*/5 * * * *'; not with the fields",
                },
                "timezone": _TIMEZONE,
            },
            "additionalProperties": False,
        },
    ),
    TriggerType(
        pack="core",
        name="st2.key_value_pair.create",
        description="A datastore value was created",
        payload_schema=_KV_OBJECT_PAYLOAD,
    ),
    TriggerType(
        pack="core",
        name="st2.key_value_pair.update",
        description="A datastore value was set again",
        payload_schema=_KV_OBJECT_PAYLOAD,
    ),
    TriggerType(
        pack="core",
        name="st2.key_value_pair.value_change",
        description="A datastore value was set to a different value",
        payload_schema={
            "type": "object",
            "properties": {"old_object": {"type": "object"}, "new_object": {"type": "object"}},
        },
    ),
    TriggerType(
        pack="core",
        name="st2.key_value_pair.delete",
        description="A datastore value was deleted",
        payload_schema=_KV_OBJECT_PAYLOAD,
    ),
    TriggerType(
        pack="core",
        name="st2.sla_missed",
        description="An execution under an action.sla policy did not complete within its duration (st2lite's own)",
        payload_schema={
            "type": "object",
            "properties": {
                "execution_id": {"type": "string"},
                "action_ref": {"type": "string"},
                "status": {"type": "string"},
                "created_at": {"type": "string"},
                "duration": {"type": "number"},
                "policy": {"type": "string"},
            },
            "required": ["execution_id", "action_ref", "status", "created_at", "duration", "policy"],
        },
    ),
)
