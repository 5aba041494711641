"""From pack folders on disk to the registry in Redis (``st2lite pack register`` and ``st2lite up``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.packs import LoadReport, PackSource, discover, load_all
from st2lite.redisdb import Redis
from st2lite.registry import RegistryStore

__all__ = ["BUILTIN_PACKS_DIR", "load_from_disk", "register_from_disk", "sources_for"]

log = logging.getLogger(__name__)

#: Where the built-in ``core`` pack ships, inside the installed package.
BUILTIN_PACKS_DIR = Path(__file__).resolve().parent / "builtin_packs"


def sources_for(settings: Settings, paths: Sequence[Path] = ()) -> list[PackSource]:
    """The built-in core pack, then ``paths`` (or the configured packs path and site folder)."""
    sources = [PackSource(path=BUILTIN_PACKS_DIR / "core", builtin=True)]
    if paths:
        sources += discover(list(paths), None)
    else:
        existing = [p for p in settings.packs_paths if p.is_dir()]
        sources += discover(existing, settings.site_dir)
    configs = settings.resolved_configs_dir
    return [s if s.site else s.model_copy(update={"configs_dir": configs}) for s in sources]


def load_from_disk(settings: Settings, paths: Sequence[Path] = (), *, base: RegistryStore | None = None) -> LoadReport:
    """Load and validate; with ``base``, references to already registered packs resolve."""
    registered = base.load().content if base is not None else None
    return load_all(sources_for(settings, paths), base=registered)


def register_from_disk(
    settings: Settings, client: Redis, paths: Sequence[Path] = (), *, actor: str
) -> tuple[LoadReport, int]:
    """Load, validate and register every valid definition; returns the report and the registry version.

    Problems are reported but never stop the valid content from being registered.
    """
    store = RegistryStore(client)
    report = load_from_disk(settings, paths, base=store)
    loaded = report.content
    version = store.register(loaded, audit=AuditLog(client, maxlen=settings.audit_stream_maxlen), actor=actor)
    for problem in report.problems:
        log.warning("Pack problem: %s", problem)
    return report, version
