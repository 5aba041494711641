"""The API application: ``create_app(settings, redis_url)`` builds the FastAPI app (a factory, for tests)."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from st2lite.api.deps import build_runtime
from st2lite.api.docs_models import add_request_models
from st2lite.api.errors import install_error_handlers
from st2lite.api.limits import RequestSizeLimit
from st2lite.api.routes import (
    actions,
    aliases,
    auth,
    callbacks,
    dashboard,
    enforcements,
    executions,
    health,
    inquiries,
    keys,
    metrics,
    overview,
    packs,
    rules,
    stream,
    triggers,
    webhooks,
)
from st2lite.api.security import AuthMiddleware
from st2lite.api.streaming import StreamHub
from st2lite.config import Settings
from st2lite.version import __version__

__all__ = ["close_streams", "create_app"]

log = logging.getLogger(__name__)


class StripTrailingSlash:
    """Route ``/x/`` like ``/x`` (the st2 client sends ``/executions/?limit=...``) without a redirect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/") and not path.startswith("/api/v1/webhooks/"):
                scope = {**scope, "path": path[:-1], "raw_path": path[:-1].encode()}
        await self.app(scope, receive, send)


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    app = FastAPI(
        title="st2lite",
        version=__version__,
        description="StackStorm-compatible automation API",
        redirect_slashes=False,
    )
    app.state.runtime = build_runtime(settings, redis_url)
    app.state.streams = StreamHub(settings.stream_max_clients)  # the open event streams (close_streams)
    install_error_handlers(app)
    routers = (
        health,
        metrics,
        auth,
        packs,
        webhooks,
        executions,
        actions,
        aliases,
        rules,
        enforcements,
        keys,
        inquiries,
        overview,
    )
    for module in (*routers, callbacks, triggers, stream, dashboard):
        app.include_router(module.router)
    app.mount(dashboard.UI_PREFIX, dashboard.DashboardFiles(directory=dashboard.WEB_DIR), name="ui")
    add_request_models(app)
    app.add_middleware(StripTrailingSlash)
    app.add_middleware(RequestSizeLimit, limit=settings.max_request_bytes)
    # Webhooks are the hot path: answered by this middleware without routing or dependency solving, errors
    # through the same handlers; the FastAPI route stays for the OpenAPI document (added last: outermost).
    app.add_middleware(webhooks.WebhookFastPath, handlers=app.exception_handlers)
    if settings.auth_enabled:  # outermost: nothing runs before the caller is known
        runtime = app.state.runtime
        app.add_middleware(
            AuthMiddleware,
            authenticator=runtime.authenticator,
            signed_webhooks=lambda: runtime.registry.current().signed_webhook_urls,
        )
    else:
        log.warning(
            "Authentication is OFF (auth_enabled: false): anyone who reaches %s can do anything as an admin",
            settings.resolved_api_url,
        )
    return app


def close_streams(app: FastAPI) -> None:
    """End the app's open event streams (the server is stopping: it would otherwise wait for them for ever)."""
    hub: StreamHub = app.state.streams
    hub.close_all()
