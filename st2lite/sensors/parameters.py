"""Pure: trigger parameters a built-in sensor rejected, said the way a user fixes them."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe_invalid"]


def describe_invalid(exc: ValidationError) -> str:
    """``invalid parameters: parameter 'x': why; ...`` for the pydantic error of a parameters model."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(all)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown parameter"
        parts.append(f"parameter '{where}': {message}")
    return "invalid parameters: " + "; ".join(parts)
