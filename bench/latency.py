"""``webhook_latency``: from a webhook accepted to its execution's ``start``, at a steady 100 events/s.

Same processes as :mod:`bench.e2e` (rules engine + scheduler, two workers),
plus the HTTP API when this checkout has it: then each event is a real
``POST /api/v1/webhooks/bench`` carrying an admin API key (``St2-Api-Key``: auth
is on, as by default); without it, events are dispatched directly
(:func:`bench.e2e.dispatch_webhook`); the figure's details say which. Events are sent on a fixed schedule
(event k at t0 + k/100 s) for ~10 s. "Accepted" is the trigger instance's
``occurred_at``, stamped by the API (or the dispatcher) as it accepts the
event; the latency of each is the execution's ``start`` timestamp (written by
the worker) minus that, both wall clock on this machine. The client's own
round trip (send to 202 received) is in the details.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import orjson

from bench.common import (
    API_KEY_HEADER,
    PACKS_DIR,
    Context,
    Figure,
    Lab,
    Process,
    create_api_key,
    lab,
    percentile,
    register_packs,
    wait_for,
)
from bench.e2e import WORKERS, dispatch_webhook
from bench.procs import api_available, start_api, start_rules, start_worker
from st2lite import keys
from st2lite.dispatch import TriggerDispatcher
from st2lite.embedded_redis import free_port

__all__ = ["run"]

RATE = 100.0
SECONDS = 10.0
WARMUP = 50


class _Sender:
    """Sends event ``seq`` and returns the trigger instance id, over HTTP or by direct dispatch."""

    def __init__(self, env: Lab, procs: list[Process]) -> None:
        self.client: httpx.Client | None = None
        self.dispatcher: TriggerDispatcher | None = None
        if api_available():
            port = free_port()
            api = start_api(env, port)
            procs.append(api)
            self.url = f"http://127.0.0.1:{port}/api/v1/webhooks/bench"
            # Auth is on (the default): every webhook carries an admin API key, as a real client's would.
            self.client = httpx.Client(timeout=10, headers={API_KEY_HEADER: create_api_key(env.client)})
            health = f"http://127.0.0.1:{port}/api/v1/health"
            wait_for(lambda: self._healthy(health, api), timeout=60, what="the API to answer /api/v1/health")
            self.mode = (
                "http: POST /api/v1/webhooks/bench with St2-Api-Key (auth on); "
                "accepted = occurred_at stamped by the API"
            )
        else:
            self.dispatcher = TriggerDispatcher(env.settings, env.client)
            self.mode = (
                "direct dispatch (no HTTP API in this checkout); accepted = occurred_at stamped by the dispatcher"
            )

    def _healthy(self, url: str, api: Process) -> bool:
        api.check_alive()
        assert self.client is not None
        try:
            return self.client.get(url).status_code == 200
        except httpx.TransportError:
            return False

    def send(self, seq: int) -> tuple[str, float]:
        """Send event ``seq``; return its trigger instance id and when it was accepted (epoch seconds)."""
        if self.client is not None:
            response = self.client.post(self.url, json={"seq": seq})
            if response.status_code != 202:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:300]}")
            body = response.json()
            return str(body["id"]), datetime.fromisoformat(body["occurred_at"]).timestamp()
        assert self.dispatcher is not None
        instance = dispatch_webhook(self.dispatcher, seq)
        return instance.id, instance.occurred_at.timestamp()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _executions(env: Lab, instance_ids: list[str]) -> list[dict[str, str]]:
    """The stored hash of the execution each trigger instance caused (empty while there is none)."""
    with env.client.pipeline(transaction=False) as pipe:
        for iid in instance_ids:
            pipe.get(keys.trigger_instance(iid))
        records = pipe.execute()
    execution_ids: list[str | None] = []
    for raw in records:
        enforcements: list[dict[str, Any]] = orjson.loads(raw).get("enforcements", []) if raw else []
        execution_ids.append(enforcements[0].get("execution") if enforcements else None)
    with env.client.pipeline(transaction=False) as pipe:
        for eid in execution_ids:
            pipe.hgetall(keys.execution(eid or "-"))
        return list(pipe.execute())


def _all_started(env: Lab, instance_ids: list[str]) -> list[dict[str, str]] | None:
    rows = _executions(env, instance_ids)
    return rows if all(row.get("start") for row in rows) else None


def _stages(accepted: float, row: dict[str, str]) -> dict[str, float]:
    """Milliseconds spent in each step, from the execution's status log (``status|timestamp`` lines)."""
    at: dict[str, float] = {}
    for line in row.get("log", "").splitlines():
        status, _, stamp = line.partition("|")
        at.setdefault(status, datetime.fromisoformat(stamp).timestamp())
    start = datetime.fromisoformat(row["start"]).timestamp()
    requested = at.get("requested", accepted)
    scheduled = at.get("scheduled", requested)
    return {
        "total": (start - accepted) * 1000,
        "accepted_to_requested": (requested - accepted) * 1000,
        "requested_to_scheduled": (scheduled - requested) * 1000,
        "scheduled_to_start": (start - scheduled) * 1000,
    }


def run(ctx: Context) -> list[Figure]:
    n = max(50, int(RATE * SECONDS * ctx.scale))
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_webhook")
        procs = [start_rules(env)] + [start_worker(env, f"w{i}") for i in range(WORKERS)]
        sender: _Sender | None = None
        try:
            sender = _Sender(env, procs)
            warm = [sender.send(seq)[0] for seq in range(WARMUP)]
            wait_for(lambda: _all_started(env, warm), timeout=60, what="the warm-up executions to start")
            accepted: list[tuple[str, float]] = []
            round_trips: list[float] = []
            late = 0
            t0 = time.perf_counter()
            for k in range(n):
                delay = t0 + k / RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    late += 1
                sent = time.perf_counter()
                accepted.append(sender.send(WARMUP + k))
                round_trips.append((time.perf_counter() - sent) * 1000)
            sent_seconds = time.perf_counter() - t0
            ids = [iid for iid, _ in accepted]
            rows = wait_for(lambda: _all_started(env, ids), timeout=120, what="every execution to start", interval=0.1)
        finally:
            if sender is not None:
                sender.close()
            for proc in procs:
                proc.stop()
    stages = [_stages(at, row) for (_, at), row in zip(accepted, rows, strict=True)]
    latencies = [stage["total"] for stage in stages]
    details = {
        "events": n,
        "rate_per_s": RATE,
        "send_seconds": round(sent_seconds, 2),
        "sent_late": late,
        "mode": sender.mode if sender else "",
        "min_ms": round(min(latencies), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(sum(latencies) / len(latencies), 2),
        "send_round_trip_p50_ms": round(percentile(round_trips, 50), 2),
        "send_round_trip_p99_ms": round(percentile(round_trips, 99), 2),
        "stages_ms": {
            name: {f"p{q}": round(percentile([stage[name] for stage in stages], q), 2) for q in (50, 90, 99)}
            for name in stages[0]
        },
    }
    return [
        Figure("webhook_to_start_p50_ms", percentile(latencies, 50), "ms", details=details),
        Figure("webhook_to_start_p99_ms", percentile(latencies, 99), "ms", details=details),
    ]
