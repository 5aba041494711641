"""The baseline of ``webhook_rps``: what HTTP plus one Redis XADD costs without st2lite.

``python -m bench.bare_webhook PORT REDIS_URL`` serves ``POST /hook`` with a
bare Starlette app on uvicorn, configured as :func:`st2lite.services.run_api`
configures st2lite's API (same event loop and HTTP parser choice, no access
log, no lifespan): read the body, parse it as JSON, append one entry of the size
st2lite appends (the payload wrapped as a trigger instance) to a stream with one
XADD, answer 202 with a small JSON object. No routing tables, dependencies,
validation, audit event or registry lookup.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from st2lite.redisdb import connect
from st2lite.services import api_server_options

__all__ = ["STREAM", "main"]

STREAM = "bare:webhooks"


def main(argv: list[str]) -> None:
    port, redis_url = int(argv[0]), argv[1]
    client = connect(redis_url)

    async def hook(request: Request) -> Response:
        body = orjson.loads(await request.body())
        instance = {
            "id": uuid.uuid4().hex,
            "trigger": "core.st2.webhook",
            "parameters": {"url": "bench"},
            "payload": {"headers": dict(request.headers), "body": body},
            "occurred_at": datetime.now(UTC),
        }
        client.xadd(STREAM, {"t": orjson.dumps(instance)})
        return JSONResponse({"id": instance["id"]}, status_code=202)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **api_server_options("WARNING"))).run()


if __name__ == "__main__":
    main(sys.argv[1:])
