"""Script arguments: how action parameters reach a script's command line, as StackStorm passes them.

Kept apart from :mod:`st2lite.parameters` so a worker running scripts does
not load the templating and schema machinery.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from st2lite.actions import ParameterSpec

__all__ = ["positional_and_named"]

Specs = Mapping[str, ParameterSpec]


def _argument_text(value: Any) -> str:
    """One script argument: None -> "", bool -> "1"/"0", list -> comma-joined, dict -> JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(_argument_text(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value)
    return str(value)


def positional_and_named(
    specs: Specs, values: Mapping[str, Any], *, kwarg_op: str = "--", exclude: Iterable[str] = ()
) -> list[str]:
    """The argument list a script gets (passed to exec, so nothing is shell-quoted).

    Parameters with a ``position`` come first, in position order, a missing value
    as ``""``. Every other parameter with a value follows, sorted by name, as
    ``--name=value``: ``True`` as a bare ``--name``; ``False``, ``None`` and ``""``
    left out.

    Args:
        exclude: names never passed (the runner's own parameters: ``cmd``, ``timeout``...).
    """
    skip = set(exclude)
    positional = sorted(
        (spec.position, name) for name, spec in specs.items() if spec.position is not None and name not in skip
    )
    args = [_argument_text(values.get(name)) for _, name in positional]
    placed = {name for _, name in positional}
    for name in sorted(set(values) - placed - skip):
        value = values[name]
        if value is True:
            args.append(f"{kwarg_op}{name}")
        elif value is not False and value is not None and value != "":
            args.append(f"{kwarg_op}{name}={_argument_text(value)}")
    return args
