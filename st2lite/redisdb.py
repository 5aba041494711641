"""The one module that imports ``redis``: connections, scripts and error translation.

Everything else receives a :data:`Redis` client from here and never sees a
``redis.exceptions`` type: :func:`translate_errors` turns them into
:class:`~st2lite.exceptions.StoreUnavailableError` with a message that says
which Redis was tried.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any, TypeAlias

import redis
import redis.exceptions

from st2lite.exceptions import St2liteError, StoreUnavailableError

__all__ = [
    "Pipeline",
    "Redis",
    "Script",
    "bytes_twin",
    "connect",
    "connect_async",
    "load_script",
    "translate_errors",
    "wait_until_ready",
]

log = logging.getLogger(__name__)

# mypy sees redis as untyped (see pyproject.toml), so these aliases are Any to it.
Redis: TypeAlias = redis.Redis
Pipeline: TypeAlias = redis.client.Pipeline
Script: TypeAlias = redis.commands.core.Script
#: Raised on a reply error (wrong type, script error); a bug, not an outage.
ResponseError = redis.exceptions.ResponseError
#: Raised when Redis cannot be reached; boundaries turn these into StoreUnavailableError.
UNAVAILABLE: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
#: What a background loop logs and survives: our own errors and a Redis outage.
RECOVERABLE: tuple[type[Exception], ...] = (St2liteError, *UNAVAILABLE)


def connect(url: str, *, decode_responses: bool = True) -> Redis:
    """A client for ``url``. Connections are made lazily, on first use."""
    client: Redis = redis.Redis.from_url(url, decode_responses=decode_responses, health_check_interval=30)
    return client


def connect_async(url: str, *, client_name: str, read_timeout: float) -> Any:
    """An asyncio client for ``url`` holding exactly one connection (named ``client_name`` in ``CLIENT LIST``).

    For the API's event streams: each stream blocks on its own connection, and
    ``aclose()`` releases it. Made lazily, on first use. ``read_timeout`` must
    exceed the longest ``BLOCK`` the caller uses (redis-py's default is 5 s).
    """
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        url,
        decode_responses=True,
        single_connection_client=True,
        client_name=client_name,
        socket_timeout=read_timeout,
    )


def bytes_twin(client: Redis) -> Redis:
    """A client of the same server and options as ``client`` whose replies are bytes (RQ needs those)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    twin: Redis = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    return twin


@contextlib.contextmanager
def translate_errors(url: str = "") -> Iterator[None]:
    """Turn connection-level redis errors into :class:`StoreUnavailableError`."""
    try:
        yield
    except UNAVAILABLE as exc:
        where = f" at {_safe(url)}" if url else ""
        raise StoreUnavailableError(f"cannot reach Redis{where}: {exc}; start it, or check ST2LITE_REDIS_URL") from exc


def wait_until_ready(client: Redis, *, timeout: float = 10.0) -> None:
    """Block until Redis answers PING (or raise :class:`StoreUnavailableError` after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError) as exc:
            if time.monotonic() > deadline:
                raise StoreUnavailableError(f"Redis did not answer within {timeout:.0f}s: {exc}") from exc
            time.sleep(0.05)


def load_script(client: Redis, name: str) -> Script:
    """Register the Lua script ``st2lite/lua/<name>.lua`` with ``client``."""
    source = resources.files("st2lite").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    script: Script = client.register_script(source)
    return script


def _safe(url: str) -> str:
    """The URL with any password hidden."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
