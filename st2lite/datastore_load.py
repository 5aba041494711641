"""``st2lite key load FILE``: many datastore values from one JSON or YAML file, as ``st2 key load`` reads it.

The file holds a list of objects ``{name, value, secret?, encrypted?, ttl?,
scope?, user?}`` (or one such object). Other fields are ignored, so the output
of ``st2lite key list --json --decrypt`` loads back. Every entry is checked
before anything is written: one bad entry loads nothing, and its problem names
its index (counting from 0) and line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from st2lite.datastore import MASK, KeyValuePair, KeyValueStore
from st2lite.exceptions import DatastoreError
from st2lite.yamlfile import load_yaml

__all__ = ["load_file"]

_OPTIONS = ("scope", "user", "secret", "encrypted", "ttl")


def load_file(store: KeyValueStore, path: Path, *, convert: bool = False) -> list[KeyValuePair]:
    """Check every entry of ``path``, then set them in order; return what was stored (masked when secret).

    ``convert`` stores a value that is not a string as its JSON text (``st2 key load --convert``).

    Raises:
        DatastoreError: The file is not a list of entries, or some entries are bad (each one is named);
            nothing was written.
        PackLoadError: The file cannot be read or parsed.
    """
    doc = load_yaml(path)
    data = doc.data
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DatastoreError(
            f"{path}: must hold a list of objects with 'name' and 'value' (JSON or YAML), "
            f"not {'nothing' if data is None else type(data).__name__}"
        )
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, item in enumerate(data):
        line = doc.lines.get(str(index))
        where = f"{path}[{index}]" + (f" (line {line})" if line else "")
        try:
            entry = _entry(item, convert)
            store.set(**entry, dry_run=True)
        except DatastoreError as exc:
            problems.append(f"{where}: {exc}")
            continue
        entries.append(entry)
    if problems:
        raise DatastoreError(
            "\n".join([*problems, f"nothing was loaded from {path}; fix the entries and load it again"])
        )
    return [store.set(**entry) for entry in entries]


def _entry(item: Any, convert: bool) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise DatastoreError(f"must be an object with 'name' and 'value', not {type(item).__name__}")
    missing = [field for field in ("name", "value") if field not in item]
    if missing:
        raise DatastoreError(f"'{missing[0]}' is missing; every entry needs 'name' and 'value'")
    value = item["value"]
    if not isinstance(value, str) and convert:
        value = json.dumps(value)
    elif not isinstance(value, str):
        raise DatastoreError(
            f"the value of '{item['name']}' must be a string, not {type(value).__name__}; "
            "quote it, or pass --convert to store it as JSON"
        )
    if item.get("secret") and value == MASK and not item.get("encrypted"):
        raise DatastoreError(
            f"the value of '{item['name']}' is the mask {MASK}, not the secret; "
            "export with 'st2lite key list --json --decrypt' to load secrets back"
        )
    for flag in ("secret", "encrypted"):
        if flag in item and not isinstance(item[flag], bool):
            raise DatastoreError(f"'{flag}' must be true or false, got {item[flag]!r}")
    return {"name": item["name"], "value": value, **{k: item[k] for k in _OPTIONS if item.get(k) is not None}}
