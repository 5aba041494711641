"""Rule enforcements: the record that rule R fired (or failed to) for trigger instance T."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.audit import now_iso
from st2lite.batch import add_to_indexes
from st2lite.redisdb import Pipeline, Redis

__all__ = ["EnforcementStatus", "EnforcementStore", "RuleEnforcement", "enforcement_id"]


#: How far apart an enforcement's index score and its ``enforced_at`` may be (ms).
TIME_SLACK_MS = 1000
#: Most index entries one time-filtered query reads.
SCAN_LIMIT = 10_000


class EnforcementStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def enforcement_id(trigger_instance_id: str, rule_ref: str) -> str:
    """The one id an enforcement of ``rule_ref`` for ``trigger_instance_id`` can have."""
    return f"{trigger_instance_id}:{rule_ref}"


class RuleEnforcement(BaseModel):
    """That a rule fired for a trigger instance, which execution it started, or why it failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    rule: str
    trigger_instance: str
    trigger: str
    execution: str | None = None
    status: EnforcementStatus
    failure_reason: str | None = None
    enforced_at: str = Field(default_factory=now_iso)


class EnforcementStore:
    """Reads and indexes enforcements.

    An enforcement is stored once, inside the record of its trigger instance
    (``st2lite:triggerinstance:<id>``, field ``enforcements``), written in the
    same step as everything the trigger instance caused; sorted sets by rule
    and of all enforcements index them by time.
    """

    def __init__(self, client: Redis, *, ttl: int) -> None:
        self._client = client
        self._ttl = ttl

    @staticmethod
    def summary(enforcement: RuleEnforcement) -> dict[str, Any]:
        """What the trigger instance record keeps of ``enforcement``."""
        out: dict[str, Any] = {
            "rule": enforcement.rule,
            "execution": enforcement.execution,
            "status": enforcement.status.value,
            "enforced_at": enforcement.enforced_at,
        }
        if enforcement.failure_reason is not None:
            out["failure_reason"] = enforcement.failure_reason
        return out

    def index_in(self, pipe: Pipeline, enforcement: RuleEnforcement, *, at_ms: int | str | None = None) -> None:
        """Queue the index entries of ``enforcement`` (``at_ms`` may be a placeholder when recording a template)."""
        ms = at_ms if at_ms is not None else int(time.time() * 1000)
        indexes = [keys.enforcement_index("rule", enforcement.rule), keys.enforcement_index("all", "all")]
        add_to_indexes(pipe, indexes, enforcement.id, ms)

    def last_fired(self, rules: list[str]) -> dict[str, str | None]:
        """When each rule of ``rules`` was last enforced (ISO 8601, to the second of its index entry; None when
        never within the retention): one pipelined round trip for them all."""
        horizon = int((time.time() - self._ttl) * 1000)
        with self._client.pipeline(transaction=False) as pipe:
            for rule in rules:
                pipe.zrevrangebyscore(
                    keys.enforcement_index("rule", rule), "+inf", horizon, start=0, num=1, withscores=True
                )
            replies = pipe.execute()
        return {
            rule: datetime.fromtimestamp(reply[0][1] / 1000, UTC).isoformat(timespec="microseconds") if reply else None
            for rule, reply in zip(rules, replies, strict=True)
        }

    def get(self, eid: str) -> RuleEnforcement | None:
        """The enforcement ``<trigger instance id>:<rule ref>``, or None."""
        instance_id, _, rule = eid.partition(":")
        found = self._from_records([instance_id], {instance_id: {rule}})
        return found[0] if found else None

    def for_trigger_instance(self, trigger_instance_id: str) -> list[RuleEnforcement]:
        """Every enforcement of one trigger instance."""
        return self._from_records([trigger_instance_id], None)

    def prune_all(self) -> int:
        """Drop index entries older than the retention (periodic maintenance); returns how many."""
        horizon = int((time.time() - self._ttl) * 1000)
        dropped = 0
        for key in self._client.scan_iter(match=f"{keys.PREFIX}:enforcements:*", count=1000):
            dropped += int(self._client.zremrangebyscore(key, "-inf", f"({horizon}"))
        return dropped

    def search(self, *, rule: str | None = None, limit: int = 50, offset: int = 0) -> list[RuleEnforcement]:
        """The newest enforcements, of one rule or of all."""
        key = keys.enforcement_index("rule", rule) if rule else keys.enforcement_index("all", "all")
        horizon = int((time.time() - self._ttl) * 1000)
        self._client.zremrangebyscore(key, "-inf", f"({horizon}")
        return self._in_order(self._client.zrevrange(key, offset, offset + limit - 1))

    def query(
        self,
        *,
        rule: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[RuleEnforcement], int]:
        """The newest enforcements (of one rule; enforced after ``since`` and before ``until``, exclusive) and
        how many match in all.

        The index scores are the times the rules engine indexed its batch, which can be a little apart from
        each ``enforced_at``: with a time filter, the index is read over a window :data:`TIME_SLACK_MS` wider
        (at most :data:`SCAN_LIMIT` entries) and ``enforced_at`` decides.
        """
        key = keys.enforcement_index("rule", rule) if rule else keys.enforcement_index("all", "all")
        horizon = int((time.time() - self._ttl) * 1000)
        timed = since is not None or until is not None
        low = f"({int(since.timestamp() * 1000) - TIME_SLACK_MS}" if since is not None else "-inf"
        high = f"({int(until.timestamp() * 1000) + TIME_SLACK_MS}" if until is not None else "+inf"
        start, count = (0, SCAN_LIMIT) if timed else (offset, limit)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", f"({horizon}")
            pipe.zrevrangebyscore(key, high, low, start=start, num=count)
            pipe.zcount(key, low, high)
            _pruned, ids, total = pipe.execute()
        found = self._in_order(ids)
        if not timed:
            return found, int(total)
        matching = [
            e
            for e in found
            if (since is None or datetime.fromisoformat(e.enforced_at) > since)
            and (until is None or datetime.fromisoformat(e.enforced_at) < until)
        ]
        return matching[offset : offset + limit], len(matching)

    def _in_order(self, ids: list[str]) -> list[RuleEnforcement]:
        """The enforcements ``ids``, in that order (those whose trigger instance expired left out)."""
        wanted: dict[str, set[str]] = {}
        order: list[tuple[str, str]] = []
        for eid in ids:
            instance_id, _, ref = eid.partition(":")
            wanted.setdefault(instance_id, set()).add(ref)
            order.append((instance_id, ref))
        found = {(e.trigger_instance, e.rule): e for e in self._from_records(list(wanted), wanted)}
        return [found[pair] for pair in order if pair in found]

    def _from_records(self, instance_ids: list[str], rules: dict[str, set[str]] | None) -> list[RuleEnforcement]:
        if not instance_ids:
            return []
        out = []
        for instance_id, raw in zip(
            instance_ids, self._client.mget([keys.trigger_instance(i) for i in instance_ids]), strict=True
        ):
            if not raw:
                continue
            record = orjson.loads(raw)
            for entry in record.get("enforcements", []):
                if rules is None or entry["rule"] in rules[instance_id]:
                    out.append(
                        RuleEnforcement.model_validate(
                            {
                                **entry,
                                "id": enforcement_id(instance_id, entry["rule"]),
                                "trigger_instance": instance_id,
                                "trigger": record["trigger"],
                            }
                        )
                    )
        return out
