"""looker.FailedScheduleSensor: emits looker.schedule_failed once per failed run of a recurring scheduled plan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from looker_pack import client, jobs, retries

from st2reactor.sensor.base import PollingSensor

TRIGGER = "looker.schedule_failed"


class FailedScheduleSensor(PollingSensor):
    def setup(self) -> None:
        self._log = self.sensor_service.get_logger(__name__)
        self._lookback = int(self.config.get("lookback_hours", 24))
        self._timezone = str(self.config.get("timezone") or "UTC")
        retries.day_of(datetime.now(UTC), self._timezone)  # an unknown time zone fails setup, with the fix
        self._look_id = str(self.config.get("look_id") or "").strip()
        self._limit = int(self.config.get("row_limit", 500))
        self.set_poll_interval(float(self.config.get("poll_interval", self.get_poll_interval())))
        self._fatal: client.LookerAuthError | None = None
        # Log in now: refused credentials fail the sensor (status "failed" with what to fix), and the container
        # starts it again with backoff, reading the config (and the datastore secret it names) anew each time.
        self._sdk: Any = client.connect(self.config)
        mode = f"Look {self._look_id}" if self._look_id else "an inline System Activity query"
        self._log.info("looking for failed scheduled jobs through %s every %ss", mode, self.get_poll_interval())

    def run(self) -> None:
        super().run()
        if self._fatal is not None:
            raise self._fatal  # the credentials stopped working: restart, re-reading the config

    def poll(self) -> None:
        try:
            rows = self._rows()
        except client.LookerAuthError as exc:
            self._fatal = exc
            self.stop()
            raise
        missing = jobs.missing_fields(rows)
        if missing:
            raise client.LookerError(
                f"Look {self._look_id} lacks the fields {', '.join(missing)}; add them to the Look "
                f"(it needs {', '.join(jobs.FIELDS)})"
            )
        failed = jobs.failed_jobs(rows, now=datetime.now(UTC), lookback_hours=self._lookback, timezone=self._timezone)
        source = "look" if self._look_id else "query"
        for job in failed:
            name = retries.emitted_key(job.job_id)
            if self.sensor_service.get_value(name) is not None:
                continue
            if self.sensor_service.dispatch(trigger=TRIGGER, payload=job.payload(source)) is None:
                continue  # rejected: the sensor status says why; tried again at the next poll
            self.sensor_service.set_value(name, job.plan_id, ttl=retries.emitted_ttl(self._lookback))
            self._log.info("scheduled plan %s failed (job %s): emitted %s", job.plan_id, job.job_id, TRIGGER)

    def _rows(self) -> list[dict[str, Any]]:
        if self._look_id:
            return client.run_look(self._sdk, self._look_id, self._limit)
        return client.run_inline_query(self._sdk, jobs.inline_query(self._lookback, self._timezone, self._limit))

    def cleanup(self) -> None:
        sdk = getattr(self, "_sdk", None)  # None when setup did not get that far
        if sdk is not None:
            try:
                sdk.auth.logout()
            except Exception as exc:  # a logout that fails only leaves a token to expire
                self._log.info("logout from Looker failed: %s", exc)

    def add_trigger(self, trigger: dict[str, Any]) -> None:
        pass

    def update_trigger(self, trigger: dict[str, Any]) -> None:
        pass

    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        pass
