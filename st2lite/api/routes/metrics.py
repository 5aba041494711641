"""``GET /metrics``: Prometheus text exposition of the figures :mod:`st2lite.metrics` reads from Redis."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from st2lite.api.deps import RuntimeDep
from st2lite.api.routes.health import unavailable
from st2lite.exceptions import StoreUnavailableError
from st2lite.metrics import read_snapshot, registry_for
from st2lite.redisdb import translate_errors

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(rt: RuntimeDep) -> Response:
    """Every st2lite metric, read from Redis at scrape time (503 with health's shape when Redis is down)."""
    try:
        with translate_errors(rt.redis_url):
            snapshot = read_snapshot(rt.client)
    except StoreUnavailableError as exc:
        return unavailable(exc)
    return Response(content=generate_latest(registry_for(snapshot)), media_type=CONTENT_TYPE_LATEST)
