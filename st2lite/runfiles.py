"""Run files: how a running ``st2lite up`` tells other commands on the host where its Redis is."""

from __future__ import annotations

from pathlib import Path

from st2lite.config import Settings

__all__ = ["REDIS_URL_FILE", "published_redis_url", "publish_redis_url"]

#: File under ``<home>/run`` holding the embedded Redis URL while ``st2lite up`` runs.
REDIS_URL_FILE = "redis.url"


def publish_redis_url(settings: Settings, url: str) -> Path:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / REDIS_URL_FILE
    path.write_text(url + "\n")
    return path


def published_redis_url(settings: Settings) -> str | None:
    path = settings.run_dir / REDIS_URL_FILE
    return path.read_text().strip() if path.is_file() else None
