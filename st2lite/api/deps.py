"""What route handlers need, built once per API process and reached through ``Annotated`` dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from st2lite.api.publisher import BatchPublisher
from st2lite.apikeys import ApiKeyStore
from st2lite.audit import AuditLog
from st2lite.authentication import Authenticator
from st2lite.config import Settings
from st2lite.datastore import KeyValueStore, install_decrypt_kv
from st2lite.dispatch import TriggerDispatcher
from st2lite.enforcements import EnforcementStore
from st2lite.executions import ExecutionStore
from st2lite.redisdb import Redis, connect
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.requests import RequestQueue
from st2lite.tokens import TokenStore
from st2lite.trigger_instances import TriggerInstanceStore
from st2lite.users import UsersFile
from st2lite.wait_store import WaitStore

__all__ = ["ApiRuntime", "RuntimeDep", "build_runtime"]


@dataclass
class ApiRuntime:
    """The API process's wiring: one Redis client and the stores on top of it."""

    settings: Settings
    redis_url: str
    client: Redis
    registry: RegistryCache
    dispatcher: TriggerDispatcher
    executions: ExecutionStore
    enforcements: EnforcementStore
    requests: RequestQueue
    audit: AuditLog
    keys: KeyValueStore
    waits: WaitStore
    trigger_instances: TriggerInstanceStore
    #: Publishes the webhooks' trigger instances, those of concurrent requests together.
    publisher: BatchPublisher
    #: Checks credentials (tokens, API keys, the users file).
    authenticator: Authenticator


def build_runtime(settings: Settings, redis_url: str) -> ApiRuntime:
    client = connect(redis_url)
    registry = RegistryCache(RegistryStore(client))
    keys = KeyValueStore.for_settings(client, settings, actor="api")
    install_decrypt_kv(keys.key)  # decrypt_kv in the parameters of the executions the API requests
    executions = ExecutionStore.for_settings(client, settings, actor="api")
    dispatcher = TriggerDispatcher(settings, client, registry)
    audit = AuditLog(client, maxlen=settings.audit_stream_maxlen)
    authenticator = Authenticator(
        UsersFile(settings.users_path),
        TokenStore(client, audit),
        ApiKeyStore(client, audit),
        cache_seconds=settings.auth_cache_seconds,
    )
    return ApiRuntime(
        settings=settings,
        redis_url=redis_url,
        client=client,
        registry=registry,
        dispatcher=dispatcher,
        executions=executions,
        enforcements=EnforcementStore(client, ttl=settings.execution_ttl),
        requests=RequestQueue(client, maxlen=settings.trigger_stream_maxlen),
        audit=audit,
        keys=keys,
        waits=WaitStore(client, executions, actor="api"),
        trigger_instances=TriggerInstanceStore(client, ttl=settings.execution_ttl),
        publisher=BatchPublisher(dispatcher.bus),
        authenticator=authenticator,
    )


async def _runtime(request: Request) -> ApiRuntime:
    """``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop on every request."""
    runtime: ApiRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ApiRuntime, Depends(_runtime)]
