"""``GET /api/v1/health``: is the API up, can it reach Redis, and which processes beat.

Besides ``status``/``redis``/``version`` the answer lists the rules engines
(:mod:`st2lite.heartbeats`), the RQ workers (RQ's worker registry) and the
sensor containers (their membership, :data:`st2lite.keys.SENSOR_MEMBERS`),
each with its last heartbeat and whether it is alive. No auth: it is what a
load balancer or an orchestrator probes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from st2lite import keys
from st2lite.api.deps import RuntimeDep
from st2lite.exceptions import StoreUnavailableError
from st2lite.heartbeats import ProcessBeat, iso, to_beats
from st2lite.jobqueue import WORKERS_KEY, workers
from st2lite.redisdb import Redis, translate_errors
from st2lite.version import __version__

router = APIRouter(tags=["health"])


@router.get("/api/v1/health")
def health(rt: RuntimeDep) -> Any:
    """200 when Redis answers, 503 when it does not (no auth needed).

    One pipelined round trip (two when RQ workers are registered): it is the cheapest endpoint and the
    baseline of the API benchmark.
    """
    try:
        with translate_errors(rt.redis_url):
            components = _components(rt.client, rt.settings.sensor_lease_seconds)
    except StoreUnavailableError as exc:
        return unavailable(exc)
    return {"status": "ok", "redis": "ok", "version": __version__, **components}


def unavailable(exc: StoreUnavailableError) -> JSONResponse:
    """The answer of a health or metrics request while Redis cannot be reached."""
    return JSONResponse(status_code=503, content={"status": "unavailable", "redis": str(exc)})


def _components(client: Redis, sensor_lease_seconds: float) -> dict[str, list[dict[str, Any]]]:
    with client.pipeline(transaction=False) as pipe:
        pipe.time()  # Redis's clock: the heartbeats are written with it (and it answers like PING)
        pipe.zrange(keys.heartbeats("rules"), 0, -1, withscores=True)
        pipe.zrange(keys.SENSOR_MEMBERS, 0, -1, withscores=True)
        pipe.smembers(WORKERS_KEY)
        (seconds, micros), rules, members, worker_keys = pipe.execute()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    lease_ms = sensor_lease_seconds * 1000
    # A container's score is when its lease ends; its last beat was one lease before.
    containers = [
        ProcessBeat(name=str(node), last_heartbeat=iso(score - lease_ms), alive=score >= now_ms)
        for node, score in sorted(members)
    ]
    found = [
        ProcessBeat(
            name=name,
            last_heartbeat=last.isoformat(timespec="microseconds") if last else "",
            alive=True,  # listed only while its key lives (RQ's worker_ttl after its last heartbeat)
        ).model_dump()
        | {"state": state}
        for name, last, state in workers(client, worker_keys)
    ]
    return {
        "rules_engines": [beat.model_dump() for beat in to_beats(rules, now_ms)],
        "workers": found,
        "sensor_containers": [beat.model_dump() for beat in containers],
    }
