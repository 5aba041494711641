"""pipeline.merge_results: merge the chunks' results into one output file in output_dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_csv.errors import PipelineError
from pipeline_csv.merge import concat_results, merge_aggregates
from pipeline_csv.settings import Settings

from st2common.runners.base_action import Action


class MergeResults(Action):
    def run(self, source: str, chunks: list[dict[str, Any]], numeric_columns: list[str] | None = None) -> Any:
        try:
            settings = Settings.from_config(self.config)
            stem = Path(source).stem
            if settings.processor == "aggregate":
                target = Path(settings.output_dir) / f"{stem}.summary.json"
                summary = merge_aggregates(
                    chunks, target, source=Path(source).name, numeric_columns=list(numeric_columns or [])
                )
                return {"output": str(target), "rows": summary["rows"], "chunks": len(chunks)}
            target = Path(settings.output_dir) / f"{stem}.processed.csv"
            written = concat_results(chunks, target, has_header=settings.command_output_header)
            return {"output": str(target), "bytes": written, "chunks": len(chunks)}
        except PipelineError as exc:
            return False, {"error": str(exc)}
        except OSError as exc:
            return False, {"error": f"cannot write the output of {source}: {exc}"}
