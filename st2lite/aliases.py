"""Action aliases (ChatOps): the alias model, its formats compiled to regexes, and matching text. Pure, no I/O.

A format such as ``restart {{unit}} dry {{dry_run=true}}`` compiles to one anchored regex:

* literal text matches itself (regex characters escaped); a run of whitespace matches any run of whitespace;
* ``{{name}}`` is a required value, ``{{name=default}}`` an optional one: the placeholder and the literal text
  between it and the previous placeholder may be left out as a whole (``restart nginx`` matches the format
  above with ``dry_run`` = ``true``); an optional placeholder with no placeholder before it only leaves out
  itself (``deploy {{env=prod}}``: ``deploy`` is always needed);
* a value is ``"double quoted"``, ``'single quoted'`` (quotes removed, ``\\"`` unescaped), a ``{json}`` text, or
  bare text: it runs up to the literal text that follows in the format, and at the end of the format it
  takes the rest of the text, less trailing ``key=value`` pairs;
* trailing ``key=value`` pairs (``value`` may be quoted) become extra parameters.

Values are text here; the action's parameter schema casts them when the execution is prepared.

Matching a text (:func:`match_command`): exactly one enabled alias must match. When several formats of that
alias match, the most specific wins: the one whose matched literal text is longest (ties: the first listed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from st2lite.exceptions import ContentError, St2liteError
from st2lite.templating import has_template

__all__ = [
    "ActionAlias",
    "AliasAck",
    "AliasFormat",
    "AliasMatch",
    "AliasMatchError",
    "AliasResult",
    "CompiledFormat",
    "FormatError",
    "compile_format",
    "match_command",
]


class FormatError(ContentError):
    """An alias format cannot be compiled (placeholder syntax, duplicate names)."""


class AliasMatchError(St2liteError):
    """A command matches no alias, several aliases, or gives wrong parameters."""


class AliasFormat(BaseModel):
    """A format written as ``{display, representation: [..]}``: shown as ``display``, matched by each representation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    display: str = ""
    representation: list[str] = Field(default_factory=list)


class AliasAck(BaseModel):
    """What to answer right away (``format`` is a Jinja template with ``execution`` and ``actionalias``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    format: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)
    append_url: bool = True


class AliasResult(BaseModel):
    """What to post back when the execution ends (``format``: a Jinja template with ``execution``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    format: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


class ActionAlias(BaseModel):
    """An ``aliases/<name>.yaml`` file: which action a chat command runs, and how its text is read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    pack: str = "default"
    description: str = ""
    enabled: bool = True
    action_ref: str = Field(min_length=1)
    formats: list[str | AliasFormat] = Field(default_factory=list)
    ack: AliasAck = Field(default_factory=AliasAck)
    result: AliasResult = Field(default_factory=AliasResult)
    extra: dict[str, Any] = Field(default_factory=dict)
    immutable_parameters: dict[str, Any] = Field(default_factory=dict)
    metadata_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    id: str = ""
    ref: str = ""
    uid: str = ""

    @field_validator("name")
    @classmethod
    def _no_dot(cls, name: str) -> str:
        if "." in name:
            raise ValueError(f"'{name}' is not a valid alias name; give a name without dots")
        return name

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name}"

    def representations(self) -> list[str]:
        """Every format text that is matched, in file order (a ``{display}`` without representation: the display)."""
        out: list[str] = []
        for item in self.formats:
            if isinstance(item, str):
                out.append(item)
            else:
                out.extend(item.representation or ([item.display] if item.display else []))
        return out

    def display_of(self, representation: str) -> str:
        """What to show for a matched ``representation``: its format's ``display``, else the text itself."""
        for item in self.formats:
            if isinstance(item, AliasFormat) and representation in (item.representation or [item.display]):
                return item.display or representation
        return representation


# --- compiling a format ------------------------------------------------------------------------------

_PLACEHOLDER: Final = re.compile(r"\{\{\s*(?P<name>[^\s=}]*)\s*(?:=\s*(?P<default>.*?)\s*)?\}\}", re.DOTALL)
_NAME: Final = re.compile(r"^[^\W\d]\w*$")
_DQ: Final = r'"(?:[^"\\]|\\.)*"'
_SQ: Final = r"'(?:[^'\\]|\\.)*'"
#: A value: quoted, a {json} text, or bare text (trimmed; lazy, so it stops at the next literal text).
_VALUE: Final = rf"{_DQ}|{_SQ}|\{{.*\}}|\S(?:.*?\S)?"
_PAIR: Final = rf"(?P<key>[^\W\d]\w*)=(?P<value>{_DQ}|{_SQ}|\S+)"
_PAIRS: Final = re.compile(rf"(?:\s+{_PAIR})*", re.DOTALL)
_ONE_PAIR: Final = re.compile(_PAIR, re.DOTALL)
_EXTRA_GROUP: Final = "_extra"


@dataclass(frozen=True)
class _Placeholder:
    name: str
    group: str
    default: str | None
    #: Literal characters left out with it when it is optional and not given.
    literal_chars: int = 0


@dataclass(frozen=True)
class CompiledFormat:
    """One format text as an anchored regex, and its placeholders."""

    text: str
    regex: re.Pattern[str]
    placeholders: tuple[_Placeholder, ...]
    literal_chars: int

    def match(self, command: str) -> tuple[dict[str, Any], int] | None:
        """The parameters read from ``command`` and how specific the match is, or ``None``.

        Raises:
            AliasMatchError: A ``key=value`` pair sets a parameter the text already gave.
        """
        found = self.regex.match(command)
        if found is None:
            return None
        values: dict[str, Any] = {}
        given: set[str] = set()
        specificity = self.literal_chars
        for placeholder in self.placeholders:
            raw = found.group(placeholder.group)
            if raw is None:
                specificity -= placeholder.literal_chars
                if placeholder.default is not None:
                    values[placeholder.name] = _unquote(placeholder.default)
                continue
            # ``deploy env=staging`` for ``deploy {{env=prod}}``: the pair names this very placeholder.
            pair = _ONE_PAIR.fullmatch(raw)
            if pair is not None and pair.group("key") == placeholder.name:
                raw = pair.group("value")
            values[placeholder.name] = _unquote(raw)
            given.add(placeholder.name)
        for pair in _ONE_PAIR.finditer(found.group(_EXTRA_GROUP) or ""):
            key, value = pair.group("key"), _unquote(pair.group("value"))
            if key in given and values[key] != value:
                raise AliasMatchError(
                    f"parameter '{key}' is given twice ('{values[key]}' in the text and '{value}' as {key}=...); "
                    "give it once"
                )
            values[key] = value
        return values, specificity


@lru_cache(maxsize=2048)
def compile_format(text: str) -> CompiledFormat:
    """Compile one format text (see the module documentation).

    Raises:
        FormatError: A placeholder is malformed or named twice, or the format is empty.
    """
    stripped = text.strip()
    if not stripped:
        raise FormatError("the format is empty; write the command text, with {{param}} placeholders")
    tokens = _tokens(stripped)
    pieces: list[str] = []  # one per token: a folded optional group sits at its first token
    placeholders: list[_Placeholder] = []
    literal_total = 0
    previous = -1  # index of the previous placeholder token
    for index, (kind, value, default) in enumerate(tokens):
        if kind == "ws":
            pieces.append(r"\s+")
            continue
        if kind == "lit":
            pieces.append(re.escape(value))
            literal_total += len(value)
            continue
        group = f"p{len(placeholders)}"
        pieces.append(f"(?P<{group}>{_VALUE})")
        if default is None:
            placeholders.append(_Placeholder(value, group, None))
        else:
            start = _optional_start(tokens, index, previous)
            taken = sum(len(t[1]) for t in tokens[start:index] if t[0] == "lit")
            pieces[start:] = ["(?:" + "".join(pieces[start:]) + ")?"] + [""] * (index - start)
            placeholders.append(_Placeholder(value, group, default, taken))
        previous = index
    pattern = "^\\s*" + "".join(pieces) + f"(?P<{_EXTRA_GROUP}>{_PAIRS.pattern})\\s*$"
    return CompiledFormat(
        text=text, regex=re.compile(pattern, re.DOTALL), placeholders=tuple(placeholders), literal_chars=literal_total
    )


def _optional_start(tokens: Sequence[tuple[str, str, str | None]], index: int, previous: int) -> int:
    """Where the optional part of the placeholder at ``index`` starts: after the previous placeholder, or (with
    none before it) at the whitespace just before it, so the command's leading words are never optional."""
    if previous >= 0:
        return previous + 1
    return index - 1 if index and tokens[index - 1][0] == "ws" else index


def _tokens(text: str) -> list[tuple[str, str, str | None]]:
    """``text`` as ``(kind, value, default)``: ``ws`` runs, ``lit`` words, ``ph`` placeholders (name, default)."""
    tokens: list[tuple[str, str, str | None]] = []
    names: set[str] = set()
    position = 0
    for found in _PLACEHOLDER.finditer(text):
        tokens += _literal_tokens(text[position : found.start()])
        name = found.group("name")
        if not _NAME.match(name):
            raise FormatError(
                f"placeholder '{found.group(0)}' needs a parameter name (letters, digits, _): "
                "write {{name}} or {{name=default}}"
            )
        if name in names:
            raise FormatError(f"parameter '{name}' has two placeholders; use each {{{{{name}}}}} once")
        names.add(name)
        tokens.append(("ph", name, found.group("default")))
        position = found.end()
    tokens += _literal_tokens(text[position:])
    for kind, value, _default in tokens:
        if kind == "lit" and ("{{" in value or "}}" in value):
            raise FormatError(f"unbalanced placeholder braces in '{value}'; write {{{{name}}}} or {{{{name=default}}}}")
    return tokens


def _literal_tokens(text: str) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    for part in re.split(r"(\s+)", text):
        if part:
            out.append(("ws" if part.isspace() else "lit", part, None))
    return out


def _unquote(value: str) -> str:
    """A quoted value without its quotes (``\\"``, ``\\'`` and ``\\\\`` unescaped); other values as they are."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\([\"'\\])", r"\1", value[1:-1])
    return value


# --- matching ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasMatch:
    """A command matched to one alias: the format that matched, what to show for it, the parameters read."""

    alias: ActionAlias
    representation: str
    display: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def action_parameters(self) -> dict[str, Any]:
        """What the action gets: the parameters read from the text, then the alias's immutable parameters."""
        return {**self.parameters, **self.alias.immutable_parameters}


def _compiled(alias: ActionAlias) -> list[CompiledFormat]:
    return [compile_format(text) for text in alias.representations()]


def match_alias(alias: ActionAlias, command: str) -> AliasMatch | None:
    """The most specific format of ``alias`` matching ``command`` (ties: the first listed), or ``None``."""
    best: tuple[int, CompiledFormat, dict[str, Any]] | None = None
    for compiled in _compiled(alias):
        found = compiled.match(command)
        if found is not None and (best is None or found[1] > best[0]):
            best = (found[1], compiled, found[0])
    if best is None:
        return None
    _specificity, compiled, parameters = best
    fixed = sorted(
        key
        for key in parameters
        if key in alias.immutable_parameters and parameters[key] != alias.immutable_parameters[key]
    )
    if fixed:
        raise AliasMatchError(
            f"parameter '{fixed[0]}' is fixed by alias '{alias.full_ref}' "
            f"(immutable_parameters); leave it out of the command"
        )
    templated = sorted(key for key, value in parameters.items() if has_template(value))
    if templated:
        raise AliasMatchError(
            f"parameter '{templated[0]}' holds a template ({{{{ }}}} or {{% %}}); a chat command cannot use templates"
        )
    return AliasMatch(alias, compiled.text, alias.display_of(compiled.text), parameters)


def match_command(aliases: Iterable[ActionAlias], command: str) -> AliasMatch:
    """The one enabled alias that matches ``command``.

    Raises:
        AliasMatchError: No alias matches, several do, or the parameters read are wrong.
    """
    text = command.strip()
    if not text:
        raise AliasMatchError("the command is empty; type a command, or list the aliases with 'st2lite alias list'")
    matches = [m for m in (match_alias(a, text) for a in _sorted(aliases) if a.enabled) if m is not None]
    if not matches:
        raise AliasMatchError(
            f"command '{_short(text)}' matched no action alias; "
            "list the aliases and their formats with 'st2lite alias list' (or POST /api/v1/actionalias/help)"
        )
    if len(matches) > 1:
        names = ", ".join(f"{m.alias.full_ref} ('{m.display}')" for m in matches)
        raise AliasMatchError(
            f"command '{_short(text)}' matched more than one action alias: {names}; "
            "make the command more specific, or disable one of the aliases"
        )
    return matches[0]


def _sorted(aliases: Iterable[ActionAlias]) -> Sequence[ActionAlias]:
    return sorted(aliases, key=lambda a: a.full_ref)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
