"""chatops.load_csv: the rows of a CSV file posted in Slack, checked (size, type, header, every row)."""

from __future__ import annotations

from typing import Any

from csvrows import CsvError, parse_csv
from slackfiles import fetch_csv, slack_client

from st2common.runners.base_action import Action


class LoadCsvAction(Action):
    def run(self, csv_file: str) -> tuple[bool, dict[str, Any]]:
        config = self.config
        max_bytes = int(config["max_bytes"])
        try:
            file, content = fetch_csv(slack_client(config), csv_file.strip(), max_bytes=max_bytes)
            table = parse_csv(
                content, name=file.name, required_columns=config.get("required_columns") or [],
                max_rows=int(config["max_rows"]), max_bytes=max_bytes,
            )  # fmt: skip
        except CsvError as exc:
            return False, {"error": str(exc)}
        return True, {"file": file.name, "columns": table.columns, "rows": table.rows, "count": len(table.rows)}
