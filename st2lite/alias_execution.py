"""Running an action alias: one path for ``POST /api/v1/aliasexecution`` and the core action ``core.alias_execute``.

:func:`launch_alias` matches the command against the registered aliases (:mod:`st2lite.aliases`), prepares the
aliased action's execution with the parameters read from the text, the trailing ``key=value`` pairs and the
alias's ``immutable_parameters`` (cast and validated by the action's schema, as any run), records the alias in
the execution's context and requests it. When a ``notification_route`` is given and the alias's ``result`` is
enabled, the execution carries a notify (:mod:`st2lite.execution_notify`) that posts the alias's
``result.format`` to that route when it ends. The ack message is rendered from ``ack.format``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st2lite.aliases import ActionAlias, AliasMatch, AliasMatchError, match_command
from st2lite.exceptions import St2liteError, UnknownRefError
from st2lite.execution_notify import NOTIFY_CONTEXT_KEY, template_execution
from st2lite.executions import Execution, ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.redisdb import Redis
from st2lite.registry import Snapshot
from st2lite.requests import RequestQueue
from st2lite.templating import KvLookup

__all__ = [
    "AliasLaunch",
    "AliasRequest",
    "alias_public",
    "find_alias",
    "launch_alias",
    "match_request",
    "run_core_alias_execute",
]

log = logging.getLogger(__name__)


class AliasRequest(BaseModel):
    """What to run: ``POST /api/v1/aliasexecution``'s body, and ``core.alias_execute``'s parameters."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    command: str = Field(min_length=1, max_length=10_000)
    #: Only this alias (``pack.name``, or a name unique among the aliases) is matched.
    name: str | None = None
    #: Only this format (one of the alias's format texts, or its display) is matched.
    format: str | None = None
    #: The chat user who typed the command (recorded; the execution runs as the caller).
    user: str = ""
    source_channel: str = ""
    source_context: dict[str, Any] = Field(default_factory=dict)
    notification_route: str = ""


@dataclass(frozen=True)
class AliasLaunch:
    """An alias run: what matched, the execution requested and the ack message ("" when the ack is disabled)."""

    match: AliasMatch
    execution: Execution
    message: str


def alias_public(alias: ActionAlias) -> dict[str, Any]:
    """The StackStorm shape of an alias (``ref``, ``uid`` and ``id`` filled in)."""
    out = alias.model_dump(mode="json", exclude={"id", "ref", "uid"})
    return {"id": alias.full_ref, "ref": alias.full_ref, "uid": f"action_alias:{alias.pack}:{alias.name}", **out}


def find_alias(snapshot: Snapshot, name: str) -> ActionAlias:
    """The alias ``pack.name`` (or ``name``, when one alias has it).

    Raises:
        UnknownRefError: None has that ref or name, or several have that name.
    """
    aliases = snapshot.content.aliases
    if name in aliases:
        return aliases[name]
    named = [a for a in aliases.values() if a.name == name]
    if len(named) == 1:
        return named[0]
    hint = f"several packs have it ({', '.join(sorted(a.full_ref for a in named))}); give pack.name" if named else ""
    raise UnknownRefError("action alias", name, hint)


def match_request(snapshot: Snapshot, request: AliasRequest) -> AliasMatch:
    """The alias (and format) ``request.command`` matches, within ``request.name``/``request.format`` if given.

    Raises:
        UnknownRefError: ``request.name`` names no alias.
        AliasMatchError: Nothing or several match, or the format is not one of the alias's.
    """
    if request.name is None:
        return match_command(snapshot.content.aliases.values(), request.command)
    alias = find_alias(snapshot, request.name)
    if not alias.enabled:
        raise AliasMatchError(f"action alias '{alias.full_ref}' is disabled; enable it in its file and re-register")
    if request.format is not None:
        chosen = [t for t in alias.representations() if request.format in (t, alias.display_of(t))]
        if not chosen:
            raise AliasMatchError(
                f"'{request.format}' is not a format of action alias '{alias.full_ref}'; "
                f"its formats: {', '.join(alias.representations())}"
            )
        alias = alias.model_copy(update={"formats": chosen})
    return match_command([alias], request.command)


def launch_alias(
    client: Redis,
    snapshot: Snapshot,
    request: AliasRequest,
    *,
    run_as: str,
    actor: str,
    executions: ExecutionStore,
    requests: RequestQueue,
    kv_lookup: KvLookup,
    api_url: str = "",
    extra_context: Mapping[str, Any] | None = None,
) -> AliasLaunch:
    """Match ``request.command`` and request a run of the aliased action (see the module documentation).

    Args:
        run_as: the st2lite user the execution runs as (``context.user``): the API caller, or the user of the
            ``core.alias_execute`` execution.
        actor: the audit actor of the request.
        api_url: the API's URL, for the ack's ``append_url``.
        extra_context: more context fields (``core.alias_execute`` records its own execution).

    Raises:
        UnknownRefError: The alias named, or the aliased action, is not registered.
        AliasMatchError: The command matches no alias or several, or its parameters conflict.
        ParameterError: The parameters do not fit the action (the message names the parameter).
    """
    found = match_request(snapshot, request)
    alias = found.alias
    action = snapshot.content.action(alias.action_ref)
    if not action.enabled:
        raise AliasMatchError(f"action {action.full_ref} is disabled; enable it in its metadata file and re-register")
    context: dict[str, Any] = {
        **(extra_context or {}),
        "user": run_as,
        "pack": action.pack,
        "action_alias_ref": alias.full_ref,
        "api_user": request.user or run_as,
        "source_channel": request.source_channel,
        "source_context": request.source_context,
    }
    if request.notification_route:
        context["notification_route"] = request.notification_route
        if alias.result.enabled:
            context[NOTIFY_CONTEXT_KEY] = {
                "on-complete": {
                    "routes": [request.notification_route],
                    "message": alias.result.format,
                    "data": {
                        "source_channel": request.source_channel,
                        "user": request.user,
                        "source_context": request.source_context,
                        "action_alias_ref": alias.full_ref,
                        "extra": alias.result.extra,
                    },
                }
            }
    prepared = prepare_execution(snapshot, action, found.action_parameters, context=context, kv_lookup=kv_lookup)
    with client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=executions, requests=requests, actor=actor)
        pipe.execute()
    message = _ack(alias, prepared.execution, request, api_url)
    return AliasLaunch(match=found, execution=prepared.execution, message=message)


def _ack(alias: ActionAlias, execution: Execution, request: AliasRequest, api_url: str) -> str:
    """The ack text: ``ack.format`` rendered (``execution``, ``actionalias``, ``user``...), "" when disabled."""
    if not alias.ack.enabled:
        return ""
    if alias.ack.format:
        from st2lite.templating import render_template

        context = {
            "execution": template_execution(execution),
            "actionalias": alias_public(alias),
            "user": request.user,
            "source_channel": request.source_channel,
        }
        try:
            message = render_template(alias.ack.format, context)
        except St2liteError as exc:  # the execution is requested already: say so, with why the ack failed
            log.warning("Alias %s: ack not rendered: %s", alias.full_ref, exc)
            message = f"Running {execution.action} (execution {execution.id}); the ack format failed: {exc}"
    else:
        message = f"Running {execution.action} (execution {execution.id})."
    if alias.ack.append_url and api_url:
        message += f" {api_url}/api/v1/executions/{execution.id}"
    return message


def run_core_alias_execute(redis_url: str, execution_id: str, request: AliasRequest) -> dict[str, Any]:
    """``core.alias_execute``: run ``request`` as the calling execution's user; its result.

    The launched execution records the calling one in ``context.alias_execute`` and runs as its user
    (``context.user``: for a webhook rule, the rules engine's user).

    Raises:
        St2liteError: The command matches nothing or several aliases, or its parameters are wrong.
    """
    from st2lite.config import load_settings
    from st2lite.datastore import kv_lookup
    from st2lite.enforcer import SYSTEM_USER
    from st2lite.exceptions import ExecutionNotFoundError
    from st2lite.redisdb import connect
    from st2lite.registry import RegistryStore

    settings = load_settings()
    client = connect(redis_url)
    actor = f"action:{execution_id}"
    executions = ExecutionStore.for_settings(client, settings, actor=actor)
    try:
        caller = executions.get(execution_id)
        run_as = str(caller.context.get("user") or "")
    except ExecutionNotFoundError:  # run outside a worker (a test, a shell): no caller to take the user of
        run_as = ""
    launched = launch_alias(
        client,
        RegistryStore(client).load(),
        request,
        run_as=run_as or SYSTEM_USER,
        actor=actor,
        executions=executions,
        requests=RequestQueue(client, maxlen=settings.trigger_stream_maxlen),
        kv_lookup=kv_lookup(client),
        api_url=settings.resolved_api_url,
        extra_context={"alias_execute": {"execution_id": execution_id}} if execution_id else None,
    )
    return {
        "execution": launched.execution.id,
        "actionalias": launched.match.alias.full_ref,
        "message": launched.message,
        "action": launched.execution.action,
        "parameters": launched.execution.parameters,
    }
