"""The API application: ``create_app(settings, redis_url)`` builds the FastAPI app (a factory, for tests)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from st2lite.api.deps import build_runtime
from st2lite.api.docs_models import add_request_models
from st2lite.api.errors import install_error_handlers
from st2lite.api.routes import (
    actions,
    callbacks,
    enforcements,
    executions,
    health,
    inquiries,
    keys,
    metrics,
    packs,
    rules,
    triggers,
    webhooks,
)
from st2lite.config import Settings
from st2lite.version import __version__

__all__ = ["create_app"]


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
    install_error_handlers(app)
    routers = (health, metrics, packs, webhooks, executions, actions, rules, enforcements, keys, inquiries, callbacks)
    for module in (*routers, triggers):
        app.include_router(module.router)
    add_request_models(app)
    app.add_middleware(StripTrailingSlash)
    # Webhooks are the hot path: answered by this middleware without routing or dependency solving, errors
    # through the same handlers; the FastAPI route stays for the OpenAPI document (added last: outermost).
    app.add_middleware(webhooks.WebhookFastPath, handlers=app.exception_handlers)
    return app
