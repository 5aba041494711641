"""Shared fixtures: a real Redis server for the session, isolated settings per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from st2lite.config import Settings
from st2lite.embedded_redis import EmbeddedRedis
from st2lite.redisdb import Redis, connect

BUILTIN_PACKS = Path(__file__).resolve().parents[1] / "st2lite" / "builtin_packs"
FIXTURE_PACKS = Path(__file__).resolve().parent / "fixtures" / "packs"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis for this test session: ST2LITE_TEST_REDIS_URL, else our own redis-server."""
    url = os.environ.get("ST2LITE_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persistent=False)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session Redis, flushed before and after the test."""
    client = connect(redis_server)
    client.flushdb()
    yield redis_server
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Redis]:
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    """Settings for one test: its own home, the test Redis, no site content."""
    site = tmp_path / "site"
    site.mkdir()
    return Settings(
        home=tmp_path / "home",
        redis_url=redis_url,
        packs_path=str(tmp_path / "packs"),
        site_dir=site,
        abandon_after=2.0,
        engine_claim_idle_ms=500,
    )
