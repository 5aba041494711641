"""The pack config (``configs/pipeline.yaml``) as the steps use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import PipelineError

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    work_dir: str = "/var/lib/st2lite/pipeline/work"
    archive_dir: str = "/var/lib/st2lite/pipeline/archive"
    output_dir: str = "/var/lib/st2lite/pipeline/output"
    failed_dir: str = "/var/lib/st2lite/pipeline/failed"
    chunk_rows: int = 200_000
    max_chunks: int = 200
    processor: str = "aggregate"
    numeric_columns: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    command_output_header: bool = True
    command_timeout: int = 3000

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        known = {name: config[name] for name in cls.__dataclass_fields__ if config.get(name) is not None}
        settings = cls(**known)
        if settings.processor not in ("aggregate", "command"):
            raise PipelineError(
                f"processor must be 'aggregate' or 'command', not {settings.processor!r}; fix configs/pipeline.yaml"
            )
        return settings
