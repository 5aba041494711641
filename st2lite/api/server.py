"""The API's uvicorn server: uvicorn's own, which also ends the open event streams when it stops.

uvicorn waits for every running request before it exits, and an event stream
never ends by itself, so without this a stopping API would hang while any
client follows ``/stream/v1/stream``.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from st2lite.api.app import close_streams

__all__ = ["ApiHttpServer"]


class ApiHttpServer(uvicorn.Server):
    """Serves ``app`` with ``config``; on shutdown, first ends ``app``'s event streams."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_streams(self._app)
        await super().shutdown(sockets)
