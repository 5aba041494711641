"""``GET /api/v1/health``: is the API up and can it reach Redis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from st2lite.api.deps import RuntimeDep
from st2lite.exceptions import StoreUnavailableError
from st2lite.redisdb import translate_errors
from st2lite.version import __version__

router = APIRouter(tags=["health"])


@router.get("/api/v1/health")
def health(rt: RuntimeDep) -> Any:
    """200 when Redis answers, 503 when it does not (no auth needed)."""
    try:
        with translate_errors(rt.redis_url):
            rt.client.ping()
    except StoreUnavailableError as exc:
        return JSONResponse(status_code=503, content={"status": "unavailable", "redis": str(exc)})
    return {"status": "ok", "redis": "ok", "version": __version__}
