"""Reading one YAML content file: its data plus the line of every field, for error messages.

Files are parsed with PyYAML's safe loader only (no Python tags). While
parsing, the position of every mapping key and sequence item is recorded under
its dotted field path (``criteria.trigger.body.name.type``,
``parameters.cmd.default``, ``tags.0.name``), so that a validation problem
found later can name the line a user has to fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from st2lite.exceptions import PackLoadError

__all__ = ["YamlDoc", "load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"

#: Parser jargon -> plain words, applied in order.
_PLAIN_WORDS = (("'<stream end>'", "the end of the file"), ("end of stream", "end of the file"))


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file.

    Attributes:
        path: The file, as it was given to :func:`load_yaml` (used in messages).
        data: The parsed document; ``None`` for an empty file.
        lines: Dotted field path -> 1-based line where that field's key (or list item) starts;
            the empty path ``""`` is the document itself.
    """

    path: Path
    data: Any
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def line_of(self, field_path: str) -> int | None:
        """The line of ``field_path``, or of its nearest enclosing field that exists in the file.

        A field that is missing from the file (a required key left out) is thus
        reported at the line of the mapping it should be in.
        """
        current = field_path
        while True:
            line = self.lines.get(current)
            if line is not None:
                return line
            if not current:
                return None
            current = current.rpartition(".")[0]


def load_yaml(path: str | os.PathLike[str]) -> YamlDoc:
    """Parse the YAML file at ``path`` with the safe loader and record field lines.

    Raises:
        PackLoadError: The file cannot be read, is not valid YAML (``line`` is where the
            parser gave up), holds more than one document, or repeats a key in one mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PackLoadError("the file is not UTF-8 text; save it as UTF-8", path=str(path)) from exc
    except OSError as exc:
        raise PackLoadError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDoc(path=path, data=None, lines=MappingProxyType({"": 1}))
        _reject_duplicate_keys(node, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, path) from exc
    except yaml.YAMLError as exc:
        raise PackLoadError(f"invalid YAML: {exc}", path=str(path)) from exc
    finally:
        loader.dispose()

    # Walk after construction: the safe loader has then expanded ``<<`` merge keys in place.
    lines = dict(_walk(node, "", set()))
    lines.setdefault("", node.start_mark.line + 1)
    return YamlDoc(path=path, data=data, lines=MappingProxyType(lines))


def _syntax_error(exc: yaml.MarkedYAMLError, path: Path) -> PackLoadError:
    mark = exc.problem_mark or exc.context_mark
    reason = exc.problem or "the parser could not read this"
    for jargon, plain in _PLAIN_WORDS:
        reason = reason.replace(jargon, plain)
    context = exc.context or ""
    if context.startswith("while ") and exc.context_mark is not None and exc.context_mark is not mark:
        what = context.removeprefix("while parsing ").removeprefix("while scanning ")
        reason += f" (in {what} starting on line {exc.context_mark.line + 1})"
    elif context:
        reason = f"{context}, {reason}"
    hint = _HINTS.get(type(exc), "")
    return PackLoadError(
        f"invalid YAML: {reason}{hint}",
        path=str(path),
        line=mark.line + 1 if mark is not None else None,
    )


#: What to do about each kind of YAML error.
_HINTS: dict[type[yaml.MarkedYAMLError], str] = {
    yaml.scanner.ScannerError: "; check the indentation and quoting on this line and the one above",
    yaml.parser.ParserError: "; check the indentation and quoting on this line and the one above",
    yaml.composer.ComposerError: "; keep one definition per file, without '---' separators",
    yaml.constructor.ConstructorError: "; only plain YAML is allowed (no '!!python' or other tags)",
}


def _reject_duplicate_keys(node: Node, path: Path) -> None:
    """Fail on a key repeated in one mapping: YAML would silently keep only the last value."""
    seen_nodes: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, MappingNode):
            keys: dict[str, int] = {}
            for key_node, value_node in current.value:
                stack.append(value_node)
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                line = key_node.start_mark.line + 1
                first = keys.setdefault(key_node.value, line)
                if first != line:
                    raise PackLoadError(
                        f"key '{key_node.value}' appears twice in one mapping (first on line {first}); "
                        "YAML keeps only the last one, so remove or rename one of them",
                        path=str(path),
                        line=line,
                    )
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)


def _walk(node: Node, prefix: str, active: set[int]) -> Iterator[tuple[str, int]]:
    """Yield ``(dotted path, line)`` for every key and item under ``node``, in document order.

    After merge-key expansion a key written in the mapping comes after the merged
    one it overrides, so keeping the last line per path points at the key in effect.
    """
    if id(node) in active:  # a recursive alias (``&a [*a]``) would loop forever
        return
    active = active | {id(node)}
    if isinstance(node, MappingNode):
        children = [(_key_text(key), key, value) for key, value in node.value]
    elif isinstance(node, SequenceNode):
        children = [(str(index), item, item) for index, item in enumerate(node.value)]
    else:
        return
    for name, marker, value in children:
        dotted = f"{prefix}.{name}" if prefix else name
        yield dotted, marker.start_mark.line + 1
        yield from _walk(value, dotted, active)


def _key_text(key: Node) -> str:
    return str(key.value) if isinstance(key, ScalarNode) else "?"
