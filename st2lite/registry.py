"""The registry: registered content in Redis, shared by every process on every host.

``st2lite pack register`` writes whole packs into one Redis hash and bumps a
version counter in the same transaction; rules written through the API live in
a hash of their own, merged over the packs' (:mod:`st2lite.rule_changes`), and
bump the same counter. Each process keeps a
:class:`RegistryCache` and reloads when the version moves, so a change is
picked up within ``refresh_interval`` without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson

from st2lite import keys
from st2lite.actions import Action, ParameterSpec, merge_parameters
from st2lite.audit import AuditEvent, AuditKind, AuditLog
from st2lite.content import ContentSet
from st2lite.policies import ActionPolicies
from st2lite.redisdb import Redis
from st2lite.rule_changes import apply_rule_changes, decode_changes
from st2lite.runners import get_runner
from st2lite.webhooks import Webhook

if TYPE_CHECKING:
    from st2lite.matcher import RuleSet

__all__ = ["RegistryCache", "RegistryStore", "Snapshot"]

log = logging.getLogger(__name__)


class Snapshot:
    """One version of the registry, with what the hot paths derive from it (built once)."""

    def __init__(self, content: ContentSet, version: int) -> None:
        self.content = content
        self.version = version
        self._specs: dict[str, dict[str, ParameterSpec]] = {}
        self._static: dict[tuple[str, bytes], dict[str, Any] | None] = {}
        self._no_policies = ActionPolicies()

    @cached_property
    def _policies(self) -> dict[str, ActionPolicies]:
        grouped: dict[str, list[Any]] = {}
        for policy in self.content.policies.values():
            grouped.setdefault(policy.resource_ref, []).append(policy)
        return {ref: ActionPolicies.of(policies) for ref, policies in grouped.items()}

    def policies_for(self, action_ref: str) -> ActionPolicies:
        """The enabled policies of the action ``action_ref`` (none: an empty :class:`ActionPolicies`)."""
        return self._policies.get(action_ref, self._no_policies)

    @cached_property
    def holds_back(self) -> bool:
        """True when some action has a policy the scheduler applies (concurrency, sla)."""
        return any(p.held_back for p in self._policies.values())

    @cached_property
    def ruleset(self) -> RuleSet:
        from st2lite.matcher import RuleSet  # not imported at module level: workers never match

        return RuleSet(self.content.enabled_rules())

    @cached_property
    def rule_trigger_types(self) -> frozenset[str]:
        """The trigger types some enabled rule listens to."""
        return frozenset(rule.trigger.type for rule in self.content.enabled_rules())

    @cached_property
    def webhook_urls(self) -> frozenset[str]:
        """The urls of ``core.st2.webhook`` triggers that enabled rules listen to."""
        return frozenset(self.webhook_parameters)

    @cached_property
    def webhook_parameters(self) -> dict[str, list[dict[str, Any]]]:
        """Url -> the distinct parameter sets of the ``core.st2.webhook`` triggers enabled rules bind to it.

        Built once per registry version: the webhook route looks its url up on every request.
        """
        by_url: dict[str, list[dict[str, Any]]] = {}
        for parameters in self.ruleset.trigger_parameters("core.st2.webhook"):
            by_url.setdefault(str(parameters.get("url", "")).strip("/"), []).append(parameters)
        return by_url

    @cached_property
    def declared_webhooks(self) -> dict[str, Webhook]:
        """Declared webhooks (``webhooks/*.yaml``) by url."""
        return {w.url: w for w in self.content.webhooks.values()}

    @cached_property
    def signed_webhook_urls(self) -> frozenset[str]:
        """Urls of declared webhooks that check a signature (callers may send that instead of credentials)."""
        return frozenset(w.url for w in self.content.webhooks.values() if w.signature is not None)

    def static_parameters(self, action: Action, supplied: Mapping[str, Any]) -> dict[str, Any] | None:
        """The final parameter values when nothing in ``supplied`` or the defaults is a template, else None.

        Such values do not depend on the trigger, so they are rendered, cast and
        validated once per registry version (a rule firing 10,000 times pays once).
        """
        from st2lite.parameters import finalize_parameters  # (and jinja2) only where executions are created
        from st2lite.templating import has_template

        key = (action.full_ref, orjson.dumps(supplied, option=orjson.OPT_SORT_KEYS))
        if key in self._static:
            return self._static[key]
        specs = self.parameter_specs(action)
        templated = any(has_template(v) for v in _strings(supplied)) or any(
            has_template(v) for spec in specs.values() for v in _strings(spec.default)
        )
        values = None if templated else finalize_parameters(specs, supplied, {}, action_ref=action.full_ref)
        self._static[key] = values
        return values

    def parameter_specs(self, action: Action) -> dict[str, ParameterSpec]:
        """The action's parameters merged over its runner's."""
        ref = action.full_ref
        specs = self._specs.get(ref)
        if specs is None:
            specs = merge_parameters(dict(get_runner(action.runner_type).parameters), dict(action.parameters))
            self._specs[ref] = specs
        return specs


def _strings(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (nested dicts and lists included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class RegistryStore:
    """Reads and writes the registry hash."""

    def __init__(self, client: Redis) -> None:
        self._client = client

    def version(self) -> int:
        return int(self._client.get(keys.REGISTRY_VERSION) or 0)

    def load(self) -> Snapshot:
        with self._client.pipeline(transaction=True) as pipe:
            pipe.get(keys.REGISTRY_VERSION)
            pipe.hgetall(keys.REGISTRY)
            pipe.hgetall(keys.REGISTRY_RULE_CHANGES)
            version, entries, raw_changes = pipe.execute()
        content = apply_rule_changes(ContentSet.from_json(entries), decode_changes(raw_changes))
        return Snapshot(content, int(version or 0))

    def register(self, content: ContentSet, *, audit: AuditLog, actor: str) -> int:
        """Replace the packs of ``content`` entirely; return the new version.

        A rule created through the API whose ref a file of ``content`` now
        defines is dropped (the file wins); ``enabled`` overrides the API set on
        files' rules stay (both logged as warnings).
        """
        packs = set(content.packs)
        changes = decode_changes(self._client.hgetall(keys.REGISTRY_RULE_CHANGES))
        shadowed = sorted(ref for ref, change in changes.items() if change.rule is not None and ref in content.rules)
        for ref in shadowed:
            log.warning("Rule %s created through the API is replaced by the file defining it now", ref)
        for ref, change in sorted(changes.items()):
            if change.enabled is not None and ref in content.rules:
                log.warning(
                    "Rule %s stays %s as set through the API by %s (PUT it with enabled %s to follow its file)",
                    ref,
                    "enabled" if change.enabled else "disabled",
                    change.actor,
                    str(content.rules[ref].enabled).lower(),
                )
        stale = [
            field
            for field in self._client.hkeys(keys.REGISTRY)
            if field.partition(":")[2].partition(".")[0] in packs or field in {f"pack:{p}" for p in packs}
        ]
        entries = content.to_json()
        with self._client.pipeline(transaction=True) as pipe:
            if stale:
                pipe.hdel(keys.REGISTRY, *stale)
            if entries:
                pipe.hset(keys.REGISTRY, mapping=entries)
            if shadowed:
                pipe.hdel(keys.REGISTRY_RULE_CHANGES, *shadowed)
            pipe.incr(keys.REGISTRY_VERSION)
            for pack in sorted(packs):
                audit.append(
                    AuditEvent(
                        kind=AuditKind.PACK_REGISTERED,
                        actor=actor,
                        data={
                            "pack": pack,
                            "actions": sum(1 for a in content.actions.values() if a.pack == pack),
                            "rules": sum(1 for r in content.rules.values() if r.pack == pack),
                            "policies": sum(1 for p in content.policies.values() if p.pack == pack),
                        },
                    ),
                    pipe,
                )
            results = pipe.execute()
        version = int(results[(1 if stale else 0) + (1 if entries else 0) + (1 if shadowed else 0)])
        log.info("Registry: registered packs %s as version %s", ", ".join(sorted(packs)), version)
        return version


class RegistryCache:
    """The registry as this process sees it, reloaded when its version changes."""

    def __init__(self, store: RegistryStore, *, refresh_interval: float = 0.5) -> None:
        self._store = store
        self._interval = refresh_interval
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked = 0.0

    def invalidate(self) -> None:
        """Check the version on the next :meth:`current` (after this process changed the registry itself)."""
        self._checked = float("-inf")

    def current(self) -> Snapshot:
        """The newest snapshot (checks the version at most every ``refresh_interval``)."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked < self._interval:
            return snap
        with self._lock:
            self._checked = now
            if self._snapshot is None or self._store.version() != self._snapshot.version:
                self._snapshot = self._store.load()
                log.info("Registry: loaded version %s", self._snapshot.version)
            return self._snapshot
