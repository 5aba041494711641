"""The one table from st2lite errors to HTTP statuses, and StackStorm's error body ``{"faultstring"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from st2lite.exceptions import (
    ApiKeyNotFoundError,
    AuthenticationError,
    CallbackTokenError,
    ContentError,
    DatastoreError,
    EncryptionKeyError,
    ExecutionNotFoundError,
    InquiryNotFoundError,
    InvalidTransitionError,
    KeyValueNotFoundError,
    PermissionDeniedError,
    ResponderNotAllowedError,
    RuleConflictError,
    RuleFileOwnedError,
    RuleNotFoundError,
    St2liteError,
    StoreUnavailableError,
    StreamBusyError,
    TriggerError,
    TriggerInstanceNotFoundError,
    UnknownRefError,
    UsersFileError,
    WebhookError,
    WebhookSecretMissingError,
    WebhookSignatureError,
)
from st2lite.redisdb import UNAVAILABLE

__all__ = ["ApiError", "install_error_handlers"]

#: Most specific first: the first class the error is an instance of decides the status.
STATUS: tuple[tuple[type[St2liteError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (ApiKeyNotFoundError, 404),
    (UsersFileError, 500),
    (ExecutionNotFoundError, 404),
    (TriggerInstanceNotFoundError, 404),
    (WebhookSignatureError, 401),
    # The operator has not set the webhook's secret: not something the caller can fix.
    (WebhookSecretMissingError, 500),
    (WebhookError, 400),
    (InquiryNotFoundError, 404),
    (ResponderNotAllowedError, 403),
    (CallbackTokenError, 403),
    (KeyValueNotFoundError, 404),
    # The server's key file is missing or wrong: not something the caller can fix.
    (EncryptionKeyError, 500),
    (DatastoreError, 400),
    (UnknownRefError, 400),
    (RuleNotFoundError, 404),
    (RuleConflictError, 409),
    (RuleFileOwnedError, 409),
    (InvalidTransitionError, 409),
    (TriggerError, 400),
    (ContentError, 400),
    (StoreUnavailableError, 503),
    (StreamBusyError, 503),
    (St2liteError, 400),
)


class ApiError(Exception):
    """An HTTP error with a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def fault(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"faultstring": message})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return fault(exc.status, exc.message)

    @app.exception_handler(St2liteError)
    async def _st2lite_error(_request: Request, exc: St2liteError) -> JSONResponse:
        status = next(code for cls, code in STATUS if isinstance(exc, cls))
        if isinstance(exc, RuleConflictError):  # StackStorm's 409 names the existing object
            return JSONResponse(status_code=409, content={"faultstring": str(exc), "conflict-id": exc.conflict_id})
        return fault(status, str(exc))

    async def _redis_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return fault(503, f"cannot reach Redis ({exc}); try again when it is back")

    for cls in UNAVAILABLE:
        app.add_exception_handler(cls, _redis_unavailable)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """A body that is not JSON or not the right shape: 422 naming each field; a bad query or path: 400."""
        problems = []
        in_body = any(err.get("loc", ("",))[0] == "body" for err in exc.errors())
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                reason = (err.get("ctx") or {}).get("error", "")
                position = err.get("loc", ("body", 0))[-1]
                problems.append(f"body: not valid JSON ({reason} at character {position}); send a JSON object")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg')}")
        return fault(422 if in_body else 400, "invalid request: " + "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return fault(exc.status_code, str(exc.detail))
