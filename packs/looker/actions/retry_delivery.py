"""looker.retry_delivery: run a failed scheduled plan once more, within the daily limit, once per failed job.

Claims the failed job id before anything else, so no failure is ever retried twice. The claim and the daily
count are plain datastore reads and writes; they cannot race because the pack's policy
``looker.retry_delivery.one_per_plan`` (action.concurrency.attr on plan_id, threshold 1) lets only one
execution per plan run at a time, cluster-wide (the decision is one atomic step in Redis).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from st2common.runners.base_action import Action

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # the pack's lib/, shared with the sensor

from looker_pack import client, retries


class RetryDeliveryAction(Action):
    def run(
        self, plan_id: str, job_id: str, plan_name: str = "", status_detail: str = ""
    ) -> tuple[bool, dict[str, Any]]:
        outcome: dict[str, Any] = {"plan_id": plan_id, "plan_name": plan_name, "job_id": job_id}
        timezone = str(self.config.get("timezone") or "UTC")
        limit = int(self.config.get("max_retries_per_day", 2))
        claim = retries.claim_key(job_id)
        if self.action_service.get_value(claim) is not None:
            reason = f"failed job {job_id} was already handled by an earlier retry_delivery; it is not retried twice"
            return True, {**outcome, "retried": False, "reason": reason}
        self.action_service.set_value(claim, plan_id, ttl=retries.CLAIM_TTL)

        day = retries.day_of(datetime.now(UTC), timezone)
        counter = retries.count_key(plan_id, day)
        done = int(self.action_service.get_value(counter) or 0)
        if done >= limit:
            return False, {
                **outcome,
                "retried": False,
                "reason": retries.limit_reason(plan_id, done, limit, day, timezone),
            }

        try:
            sdk = client.connect(self.config)
        except client.LookerError as exc:
            return False, {**outcome, "retried": False, "reason": f"not retried: {exc}"}
        try:
            plan = client.scheduled_plan(sdk, plan_id)
            outcome["plan_name"] = plan.name or plan_name
            self.action_service.set_value(counter, str(done + 1), ttl=retries.COUNT_TTL)
            once = client.run_plan_once(sdk, plan_id)
        except client.LookerNotFound as exc:
            return False, {
                **outcome,
                "retried": False,
                "reason": (
                    f"plan not found: {exc}; it was deleted in Looker, so there is nothing to retry (or the API "
                    "user may not see it: only Looker admins can run other users' plans)"
                ),
            }
        except client.LookerError as exc:
            return False, {**outcome, "retried": False, "reason": f"retry failed: {exc}"}
        finally:
            try:
                sdk.auth.logout()
            except Exception as exc:  # a token left to expire is harmless
                self.logger.info("logout from Looker failed: %s", exc)
        self.logger.info("scheduled plan %s run once (job %s failed): run_once plan %s", plan_id, job_id, once.id)
        return True, {
            **outcome,
            "retried": True,
            "run_once_plan_id": str(once.id or ""),
            "retries_today": done + 1,
            "max_retries_per_day": limit,
        }
