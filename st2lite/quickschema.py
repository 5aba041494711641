"""The quick payload check: fastjsonschema's compiled validator, with jsonschema as the judge of the rest.

jsonschema costs 10-40 µs per payload of a few properties, as much as
publishing it, and the dispatch path (sensors, webhooks) checks every
payload. fastjsonschema compiles a schema to Python code that checks a
payload in well under a microsecond. It is used only to say "certainly
valid": a payload it refuses (or a schema it cannot compile) goes to
jsonschema's ``Draft4Validator``, which decides and words the error, so what
is accepted and every message a user sees are jsonschema's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import fastjsonschema

__all__ = ["Check", "compile_check"]

#: True when the value certainly satisfies the schema (False: ask jsonschema).
Check = Callable[[Any], bool]

_DRAFT4 = "http://json-schema.org/draft-04/schema#"


def compile_check(schema: Any) -> Check | None:
    """The quick check of ``schema`` (draft 4), or ``None`` when fastjsonschema cannot compile it."""
    if not isinstance(schema, dict):
        return None
    try:
        # No defaults written into the payload, no format checks (jsonschema's Draft4Validator makes none).
        validate = fastjsonschema.compile({"$schema": _DRAFT4, **schema}, use_default=False, use_formats=False)
    except (fastjsonschema.JsonSchemaDefinitionException, re.error, ValueError, TypeError, RecursionError):
        return None

    def check(payload: Any) -> bool:
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException:
            return False
        except Exception:  # generated code meeting a value it did not expect: let jsonschema decide
            return False
        return True

    return check
