"""Action aliases (ChatOps): the alias model, its formats compiled to regexes, and matching text. Pure, no I/O.

A format such as ``restart {{unit}} dry {{dry_run=true}}`` compiles to anchored regexes (one per combination of
its optional parts, tried all present first):

* literal text matches itself (regex characters escaped); a run of whitespace matches any run of whitespace;
* ``{{name}}`` is a required value, ``{{name=default}}`` an optional one: the placeholder and the literal text
  between it and the previous placeholder may be left out as a whole (``restart nginx`` matches the format
  above with ``dry_run`` = ``true``); an optional placeholder with no placeholder before it only leaves out
  itself (``deploy {{env=prod}}``: ``deploy`` is always needed);
* a value is ``"double quoted"``, ``'single quoted'`` (quotes removed, ``\\"`` unescaped), a ``{json}`` text, or
  bare text: it runs up to the first place the literal text that follows it in the format matches (never
  further), is one word when another value follows with only whitespace between, and at the end of the format
  takes the rest of the text, less trailing ``key=value`` pairs; two placeholders may not touch;
* trailing ``key=value`` pairs (``value`` may be quoted; at most :data:`MAX_TRAILING_PAIRS`) become extra
  parameters: as many are cut off as leave a text the format matches.

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
    "MAX_COMMAND_CHARS",
    "MAX_OPTIONAL",
    "MAX_TRAILING_PAIRS",
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
#: A value followed by another value with no literal text between: quoted, {json}, or one word.
_WORD: Final = rf"{_DQ}|{_SQ}|\{{.*\}}|\S+"
_PAIR: Final = rf"(?P<key>[^\W\d]\w*)=(?P<value>{_DQ}|{_SQ}|\S+)"
_ONE_PAIR: Final = re.compile(_PAIR, re.DOTALL)
#: The last ``key=value`` pair of a text, with the whitespace before it.
_LAST_PAIR: Final = re.compile(rf"\s+{_PAIR}\Z", re.DOTALL)
#: The longest command matched (a chat line; bounds the regex work one command can cause).
MAX_COMMAND_CHARS: Final = 2000


#: At most this many trailing ``key=value`` pairs are cut off a command.
MAX_TRAILING_PAIRS: Final = 20
#: At most this many ``{{name=default}}`` placeholders in one format (each doubles the variants tried).
MAX_OPTIONAL: Final = 6

_Token = tuple[str, str, str | None]


@dataclass(frozen=True)
class _Placeholder:
    name: str
    group: str
    default: str | None
    #: Literal characters left out with it when it is optional and not given.
    literal_chars: int = 0


@dataclass(frozen=True)
class _Variant:
    """The format with some of its optional parts present: one regex, and how specific a match of it is."""

    regex: re.Pattern[str]
    present: frozenset[str]
    specificity: int


@dataclass(frozen=True)
class CompiledFormat:
    """One format text as anchored regexes (one per combination of its optional parts), and its placeholders."""

    text: str
    variants: tuple[_Variant, ...]
    placeholders: tuple[_Placeholder, ...]

    def match(self, command: str) -> tuple[dict[str, Any], int] | None:
        """The parameters read from ``command`` and how specific the match is, or ``None``.

        Trailing ``key=value`` pairs are tried first: as many as leave a text the format matches. Optional
        parts are tried present first, from left to right.

        Raises:
            AliasMatchError: A ``key=value`` pair sets a parameter the text already gave.
        """
        for cut in _pair_cuts(command):
            for variant in self.variants:
                found = variant.regex.match(command, 0, cut)
                if found is not None:
                    return self._read(found, variant, command[cut:])
        return None

    def _read(self, found: re.Match[str], variant: _Variant, trailing: str) -> tuple[dict[str, Any], int]:
        values: dict[str, Any] = {}
        given: set[str] = set()
        for placeholder in self.placeholders:
            if placeholder.name not in variant.present:
                if placeholder.default is not None:
                    values[placeholder.name] = _unquote(placeholder.default)
                continue
            values[placeholder.name] = _unquote(found.group(placeholder.group))
            given.add(placeholder.name)
        for pair in _ONE_PAIR.finditer(trailing):
            key, value = pair.group("key"), _unquote(pair.group("value"))
            if key in given and values[key] != value:
                raise AliasMatchError(
                    f"parameter '{key}' is given twice ('{values[key]}' in the text and '{value}' as {key}=...); "
                    "give it once"
                )
            values[key] = value
        return values, variant.specificity


def _pair_cuts(command: str) -> list[int]:
    """Where the text may end before trailing ``key=value`` pairs: most pairs cut off first, then fewer, then none."""
    cuts = [len(command)]
    end = len(command.rstrip())
    while len(cuts) <= MAX_TRAILING_PAIRS:
        found = _LAST_PAIR.search(command, 0, end)
        if found is None:
            break
        end = found.start()
        cuts.append(end)
    return cuts[::-1]


@lru_cache(maxsize=2048)
def compile_format(text: str) -> CompiledFormat:
    """Compile one format text (see the module documentation).

    Every value ends at the first place the literal text after it in the format matches (it is never tried
    longer): without that, a command that does not match would be tried split in every possible way, in a
    time growing as its length to the power of the number of values. Each optional part is tried by compiling
    one regex per combination of present and left-out optional parts.

    Raises:
        FormatError: A placeholder is malformed or named twice, two placeholders touch, the format is empty or
            has more than :data:`MAX_OPTIONAL` optional placeholders.
    """
    stripped = text.strip()
    if not stripped:
        raise FormatError("the format is empty; write the command text, with {{param}} placeholders")
    tokens = _tokens(stripped)
    placeholders: list[_Placeholder] = []
    parts: dict[int, tuple[int, str]] = {}  # token index of an optional placeholder -> (first token of its part, name)
    previous = -1
    for index, (kind, value, default) in enumerate(tokens):
        if kind != "ph":
            continue
        if previous == index - 1 and index > 0:
            raise FormatError(
                f"placeholders '{tokens[index - 1][1]}' and '{value}' touch; put a space or text between them"
            )
        group = f"p{len(placeholders)}"
        if default is None:
            placeholders.append(_Placeholder(value, group, None))
        else:
            first = _optional_start(tokens, index, previous)
            taken = sum(len(t[1]) for t in tokens[first:index] if t[0] == "lit")
            placeholders.append(_Placeholder(value, group, default, taken))
            parts[index] = (first, value)
        previous = index
    if len(parts) > MAX_OPTIONAL:
        raise FormatError(f"a format may have at most {MAX_OPTIONAL} optional placeholders, this one has {len(parts)}")
    groups = {p.name: p.group for p in placeholders}
    literal_total = sum(len(value) for kind, value, _default in tokens if kind == "lit")
    variants = []
    optional = sorted(parts)
    for mask in range(2 ** len(optional) - 1, -1, -1):  # all present first, then leaving out from the right
        absent = {optional[bit] for bit in range(len(optional)) if not mask & (1 << (len(optional) - 1 - bit))}
        dropped = {i for ph in absent for i in range(parts[ph][0], ph + 1)}
        kept = [token for i, token in enumerate(tokens) if i not in dropped]
        present = frozenset(value for kind, value, _default in kept if kind == "ph")
        taken = sum(len(t[1]) for i, t in enumerate(tokens) if i in dropped and t[0] == "lit")
        pattern = "^\\s*" + _variant_pattern(kept, groups) + "\\s*\\Z"
        variants.append(_Variant(re.compile(pattern, re.DOTALL), present, literal_total - taken))
    return CompiledFormat(text=text, variants=tuple(variants), placeholders=tuple(placeholders))


def _variant_pattern(tokens: Sequence[_Token], groups: dict[str, str]) -> str:
    """The regex of a format whose placeholders are all present: each value with the text after it (up to the
    next value) one atomic group; a value followed by only whitespace and another value is one word."""
    pieces: list[str] = []
    unit: list[str] | None = None  # the open atomic group: a value and the text after it
    for index, (kind, value, _default) in enumerate(tokens):
        if kind == "ph":
            if unit is not None:
                pieces.append("(?>" + "".join(unit) + ")")
            following = [t for t in tokens[index + 1 :] if t[0] != "ws"]
            shape = _WORD if following and following[0][0] == "ph" else _VALUE
            unit = [f"(?P<{groups[value]}>{shape})"]
        else:
            (unit if unit is not None else pieces).append(r"\s+" if kind == "ws" else re.escape(value))
    if unit is not None:
        trailing_literal = any(piece not in (r"\s+",) for piece in unit[1:])
        pieces.append("(?>" + "".join(unit) + ")" if trailing_literal else "".join(unit))
    return "".join(pieces)


def _optional_start(tokens: Sequence[_Token], index: int, previous: int) -> int:
    """Where the optional part of the placeholder at ``index`` starts: after the previous placeholder, or (with
    none before it) at the whitespace just before it, so the command's leading words are never optional."""
    if previous >= 0:
        return previous + 1
    return index - 1 if index and tokens[index - 1][0] == "ws" else index


def _tokens(text: str) -> list[_Token]:
    """``text`` as ``(kind, value, default)``: ``ws`` runs, ``lit`` words, ``ph`` placeholders (name, default)."""
    tokens: list[_Token] = []
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


def _literal_tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
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
    if len(text) > MAX_COMMAND_CHARS:
        raise AliasMatchError(
            f"the command is {len(text)} characters long; at most {MAX_COMMAND_CHARS} are matched, shorten it"
        )
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
