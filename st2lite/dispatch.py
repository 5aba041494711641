"""Dispatching trigger instances: check them, then put them on the bus.

The API (webhooks), the CLI, ``core.inject_trigger`` and (later) sensors all
dispatch through :class:`TriggerDispatcher`, so every trigger instance is
checked the same way: the trigger type is registered, the payload is a JSON
object within the size limit and valid against the type's payload schema.
A rejected instance raises :class:`~st2lite.exceptions.TriggerError` and is
never published; nothing already accepted is affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import orjson

from st2lite.audit import AuditLog
from st2lite.bus import RedisBus
from st2lite.config import Settings, load_settings
from st2lite.exceptions import TriggerError, UnknownRefError
from st2lite.quickschema import Check, compile_check
from st2lite.redisdb import Redis, connect
from st2lite.registry import RegistryCache, RegistryStore, Snapshot
from st2lite.triggers import TriggerInstance

__all__ = ["TriggerDispatcher", "publish_trigger"]


class TriggerDispatcher:
    """Validates and publishes trigger instances."""

    def __init__(self, settings: Settings, client: Redis, registry: RegistryCache | None = None) -> None:
        self._settings = settings
        self.registry = registry or RegistryCache(RegistryStore(client))
        # Per registry version: trigger type ref -> its payload validator (None: no schema).
        self._validators: tuple[Snapshot | None, dict[str, _PayloadValidator | None]] = (None, {})
        self.bus = RedisBus(
            client, maxlen=settings.trigger_stream_maxlen, audit=AuditLog(client, maxlen=settings.audit_stream_maxlen)
        )

    def check(self, trigger: str, payload: Any, *, size: int | None = None) -> None:
        """Raise :class:`TriggerError` unless ``payload`` is acceptable for ``trigger``."""
        validator = self._validator_of(trigger)
        if not isinstance(payload, dict):
            raise TriggerError(f"the payload of a trigger must be a JSON object, not {_json_type(payload)}")
        if size is None:
            size = len(orjson.dumps(payload))
        if size > self._settings.max_payload_bytes:
            raise TriggerError(
                f"payload of {size} bytes is over the limit of {self._settings.max_payload_bytes} bytes "
                "(setting max_payload_bytes)"
            )
        if validator is not None and not validator.quick(payload):  # jsonschema decides what the quick check doubts
            error = jsonschema.exceptions.best_match(validator.full.iter_errors(payload))
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise TriggerError(f"payload does not match the schema of '{trigger}' at {where}: {error.message}")

    def _validator_of(self, trigger: str) -> _PayloadValidator | None:
        """The payload validator of ``trigger`` (None: no schema), looked up once per registry version."""
        snapshot = self.registry.current()
        cached_for, validators = self._validators
        if cached_for is not snapshot:  # one tuple swapped at once: threads never mix two versions
            validators = {}
            self._validators = (snapshot, validators)
        try:
            return validators[trigger]
        except KeyError:
            pass
        try:
            trigger_type = snapshot.content.trigger_type(trigger)
        except UnknownRefError as exc:
            raise TriggerError(
                f"trigger type '{trigger}' is not registered; register the pack that declares it "
                "('st2lite pack register') or check the spelling"
            ) from exc
        validator = _PayloadValidator.of(trigger_type.payload_schema) if trigger_type.payload_schema else None
        validators[trigger] = validator
        return validator

    def dispatch(
        self,
        trigger: str,
        payload: Any,
        *,
        parameters: dict[str, Any] | None = None,
        trace_tag: str = "",
        actor: str,
        size: int | None = None,
        source: str = "",
    ) -> TriggerInstance:
        """Check and publish one trigger instance; return it."""
        instance = self.prepare(trigger, payload, parameters=parameters, trace_tag=trace_tag, size=size, source=source)
        self.bus.publish(instance, actor=actor)
        return instance

    def prepare(
        self,
        trigger: str,
        payload: Any,
        *,
        parameters: dict[str, Any] | None = None,
        trace_tag: str = "",
        size: int | None = None,
        source: str = "",
    ) -> TriggerInstance:
        """Check one trigger instance and make it, unpublished (the API publishes several at once)."""
        self.check(trigger, payload, size=size)
        return TriggerInstance(
            trigger=trigger, parameters=parameters or {}, payload=payload, trace_tag=trace_tag, source=source
        )


@dataclass(frozen=True, slots=True)
class _PayloadValidator:
    """jsonschema's validator of a payload schema, and the quick check that spares most payloads from it."""

    full: jsonschema.Draft4Validator
    quick: Check

    @classmethod
    def of(cls, schema: dict[str, Any]) -> _PayloadValidator:
        return cls(_validator(schema), compile_check(schema) or _never)


def _never(_payload: Any) -> bool:
    return False


@lru_cache(maxsize=1024)
def _validator_for(schema_json: bytes) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(orjson.loads(schema_json))


def _validator(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    """A compiled validator for ``schema``, built once per distinct schema (building one is slow)."""
    return _validator_for(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else type(value).__name__)


def publish_trigger(redis_url: str, trigger: str, payload: dict[str, Any], *, trace_tag: str, actor: str) -> str:
    """Dispatch one trigger instance from a process without its own wiring (``core.inject_trigger``)."""
    dispatcher = TriggerDispatcher(load_settings(), connect(redis_url))
    return dispatcher.dispatch(trigger, payload, trace_tag=trace_tag, actor=actor).id
