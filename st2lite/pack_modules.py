"""Importing a pack's Python file (an action's or a sensor's entry point) by path, with its folders on sys.path."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["import_pack_file"]


def import_pack_file(path: Path, module_name: str, search: Sequence[Path]) -> ModuleType | None:
    """Import ``path`` as ``module_name``, with each of ``search`` put first on ``sys.path`` (pack libraries).

    Returns ``None`` when ``path`` cannot be imported as Python (the caller words the error for its kind of
    file); raises whatever executing the module raises.
    """
    for folder in search:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
