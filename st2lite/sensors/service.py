"""``self.sensor_service``: what a running sensor can do, with StackStorm's method names.

``dispatch`` checks the payload like every other way in (registered trigger
type, size limit, the type's ``payload_schema``) and publishes the trigger
instance. Unlike StackStorm, which drops an invalid payload with a log
warning, a rejected payload is *visible*: an ``trigger_instance.rejected``
audit event names the sensor and the reason, and ``on_error`` (the sensor
container records it as the sensor's ``last_error``) is called. ``dispatch``
does not raise, so a StackStorm sensor keeps running as it would there; it
returns the published instance, or ``None`` when the payload was rejected.

The datastore methods are those of actions (:class:`ActionService`), with
local keys named ``<pack>.<SensorClass>:<name>`` as in StackStorm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from st2lite.audit import AuditEvent, AuditKind, AuditLog
from st2lite.dispatch import TriggerDispatcher
from st2lite.exceptions import TriggerError
from st2lite.runners.python_wrapper import ActionService
from st2lite.triggers import TriggerInstance

__all__ = ["ErrorReporter", "SensorService"]

#: Called with a one-line message and the exception (if any) when a sensor does something wrong.
ErrorReporter = Callable[[str, BaseException | None], None]

#: Parent logger of every sensor's logger: ``sensors.<pack>.<SensorClass>[.<name>]``.
LOGGER_PREFIX = "sensors"


class SensorService:
    """Dispatch, logging and datastore access for one sensor.

    Args:
        sensor_ref: ``pack.SensorName`` (the actor of the audit events: ``sensor:<ref>``).
        class_name: The sensor's Python class name (local datastore keys are ``<pack>.<class_name>:<name>``).
        dispatcher: Checks and publishes trigger instances.
        datastore: A :class:`st2lite.datastore.KeyValueStore`, or ``None`` (datastore calls then fail clearly).
        on_error: Told about rejected payloads and failing polls.
    """

    def __init__(
        self,
        sensor_ref: str,
        class_name: str,
        dispatcher: TriggerDispatcher,
        *,
        audit: AuditLog,
        datastore: Any = None,
        on_error: ErrorReporter | None = None,
    ) -> None:
        self.sensor_ref = sensor_ref
        self.pack = sensor_ref.partition(".")[0]
        self.class_name = class_name
        self.actor = f"sensor:{sensor_ref}"
        self._dispatcher = dispatcher
        self._audit = audit
        self._on_error = on_error
        self._kv = ActionService(self.pack, class_name, None, actor=self.actor, store=datastore)
        self._log = logging.getLogger(f"{LOGGER_PREFIX}.{sensor_ref}")

    # -- StackStorm's API -------------------------------------------------------------------------

    def get_logger(self, name: str | None = None) -> logging.Logger:
        """A logger named after the sensor (and ``name``)."""
        return self._log.getChild(name) if name else self._log

    def dispatch(
        self, trigger: str | dict[str, Any], payload: dict[str, Any] | None = None, trace_tag: str | None = None
    ) -> TriggerInstance | None:
        """Publish one trigger instance of ``trigger`` (a ``pack.name`` type ref or a trigger dict).

        A trigger dict (as ``add_trigger`` received it) dispatches with its
        ``parameters``, so it fires the rules bound to that concrete trigger.
        Returns the instance, or ``None`` when it was rejected (see the module doc).
        """
        trigger_type, parameters = _resolve(trigger)
        body = {} if payload is None else payload
        try:
            return self._dispatcher.dispatch(
                trigger_type,
                body,
                parameters=parameters,
                trace_tag=trace_tag or "",
                actor=self.actor,
                source=self.actor,
            )
        except TriggerError as exc:
            message = f"payload rejected for trigger '{trigger_type}': {exc}"
            self._log.error("Sensor %s: %s", self.sensor_ref, message)
            event = AuditEvent(kind=AuditKind.TRIGGER_REJECTED, actor=self.actor, trigger=trigger_type, message=message)
            self._audit.append(event)
            self.report_error(message, exc)
            return None

    def dispatch_with_context(
        self,
        trigger: str | dict[str, Any],
        payload: dict[str, Any] | None = None,
        trace_context: Any = None,
    ) -> TriggerInstance | None:
        """:meth:`dispatch` with a trace context (its ``trace_tag`` is used when it has one)."""
        tag = getattr(trace_context, "trace_tag", None)
        if tag is None and isinstance(trace_context, dict):
            tag = trace_context.get("trace_tag")
        return self.dispatch(trigger, payload, trace_tag=tag)

    def get_user_info(self) -> dict[str, Any]:
        """The identity the sensor acts as."""
        return {"username": "sensor_service", "rbac": {"is_admin": True, "enabled": False, "roles": []}}

    def list_values(
        self, local: bool = True, prefix: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Any]:
        """Datastore values whose name starts with ``prefix`` (see :meth:`ActionService.list_values`)."""
        return self._kv.list_values(local=local, prefix=prefix, limit=limit, offset=offset)

    def get_value(self, name: str, local: bool = True, scope: str = "system", decrypt: bool = False) -> str | None:
        """The value of ``name``, or ``None``."""
        return self._kv.get_value(name, local=local, scope=scope, decrypt=decrypt)

    def set_value(
        self,
        name: str,
        value: str,
        ttl: int | None = None,
        local: bool = True,
        scope: str = "system",
        encrypt: bool = False,
    ) -> bool:
        """Store ``value`` under ``name``."""
        return self._kv.set_value(name, value, ttl=ttl, local=local, scope=scope, encrypt=encrypt)

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        """Delete ``name``; ``False`` when it did not exist."""
        return self._kv.delete_value(name, local=local, scope=scope)

    # -- st2lite's additions ----------------------------------------------------------------------

    def report_error(self, message: str, exc: BaseException | None = None) -> None:
        """Record that the sensor did something wrong (its status shows it; the sensor keeps running)."""
        if exc is not None and not isinstance(exc, TriggerError):
            self._log.error("Sensor %s: %s", self.sensor_ref, message, exc_info=exc)
        if self._on_error is not None:
            self._on_error(message, exc)


def _resolve(trigger: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(trigger type ref, parameters) of a dispatch target."""
    if isinstance(trigger, str):
        return trigger, {}
    trigger_type = trigger.get("type") or trigger.get("ref") or ""
    return str(trigger_type), dict(trigger.get("parameters") or {})
