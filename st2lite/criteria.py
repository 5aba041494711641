"""A rule's ``criteria``: compiled once when the rule loads, evaluated against every trigger payload.

The raw form is StackStorm's: a mapping from a criteria key (see
:mod:`st2lite.jsonpaths`) to ``{type, pattern}``, plus ``condition`` for
``search``. Every entry must hold (AND), evaluated in the order written.

Compared with StackStorm, loading is stricter, evaluation is the same:

* operator names are checked case-insensitively (as the runtime does),
  ``exists``/``nexists`` need no dummy ``pattern`` (StackStorm/st2#6197),
  unknown fields (``patern``), bad ``search`` conditions, bad paths and
  Jinja syntax errors are reported when the rule loads;
* an error while evaluating (a template that fails, an operator that cannot
  compare its operands, a ``search`` over something that is not a list)
  raises :class:`MatchError` naming the criteria key, for the rules engine to
  record as a failed enforcement. Inside ``search`` that error fails the whole
  rule, where StackStorm counts the child as unmatched and carries on.

Templated patterns (strings containing Jinja) are rendered per evaluation by
a :data:`PatternRenderer`. Child criteria of ``search`` are rendered with the
trigger payload too (``{{ trigger.x }}``); StackStorm renders them with
``{{ item.x }}`` instead, which is not available here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from st2lite.exceptions import ContentError, MatchError, TemplateError, UnknownOperatorError
from st2lite.jsonpaths import PayloadPath, compile_path
from st2lite.operators import OPERATORS, SEARCH, Operator, canonical_name, describe, get_operator
from st2lite.templating import check_syntax, has_template, render_typed

__all__ = ["CONDITIONS", "Criteria", "CriterionResult", "PatternRenderer", "compile_criteria"]

#: Renders a templated criteria pattern for a payload: ``(pattern, payload) -> typed value``.
PatternRenderer = Callable[[str, Any], Any]

_Quantifier = Callable[[Iterable[bool]], bool]

#: ``search`` conditions -> (over the items, over the child criteria of one item).
CONDITIONS: Final[dict[str, tuple[_Quantifier, _Quantifier]]] = {
    "any": (any, all),
    "all": (all, all),
    "any2any": (any, any),
    "all2any": (all, any),
}

_FIELDS: Final = frozenset({"type", "pattern", "condition"})
_PATTERN_OPTIONAL: Final = frozenset({"exists", "nexists"})
_EMPTY_PAYLOAD: Final = "the trigger payload is empty; criteria never match an empty payload"


def _render_default(pattern: str, payload: Any) -> Any:
    return render_typed(pattern, {"trigger": payload})


class CriterionResult(BaseModel):
    """How one criterion fared against a payload (see :meth:`Criteria.explain`).

    ``pattern`` is the rendered pattern when rendering succeeded, ``value`` what
    the key selected (``None`` if nothing), ``error`` why it could not be
    evaluated (then ``passed`` is false).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    operator: str
    pattern: Any
    value: Any
    passed: bool
    error: str | None = None


class _Criterion:
    """One compiled criterion; ``children``/``condition`` are set for ``search`` only."""

    __slots__ = (
        "children",
        "condition",
        "first",
        "key",
        "operator",
        "operator_name",
        "path",
        "pattern",
        "plain",
        "templated",
    )

    def __init__(
        self,
        key: str,
        path: PayloadPath,
        operator_name: str,
        pattern: Any,
        children: tuple[_Criterion, ...] | None = None,
        condition: tuple[_Quantifier, _Quantifier] = CONDITIONS["all"],
    ) -> None:
        self.key = key
        self.path = path
        self.operator_name = operator_name
        self.operator: Operator = OPERATORS[operator_name]
        self.pattern = pattern
        # exists/nexists ignore their pattern, so it is never rendered.
        self.templated = has_template(pattern) and operator_name not in _PATTERN_OPTIONAL
        self.children = children
        self.condition = condition
        #: Neither templated nor a search: :meth:`Criteria.evaluate` applies it inline (the hot path).
        self.plain = not self.templated and children is None
        self.first = path.getter


class Criteria:
    """Compiled criteria; build with :func:`compile_criteria`.

    Attributes:
        raw: the criteria mapping as written in the rule.
    """

    __slots__ = ("_items", "raw")

    def __init__(self, raw: Mapping[str, Any], items: tuple[_Criterion, ...]) -> None:
        self.raw = raw
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Criteria({[item.key for item in self._items]!r})"

    def evaluate(self, payload: Any, render: PatternRenderer | None = None) -> bool:
        """True when ``payload`` meets every criterion; stops at the first that fails.

        Empty criteria match any payload; non-empty criteria never match an
        empty or ``None`` payload.

        Args:
            payload: the trigger payload (``trigger`` in keys and templates).
            render: renders templated patterns; defaults to
                :func:`st2lite.templating.render_typed` with ``{trigger: payload}``.

        Raises:
            MatchError: a criterion could not be evaluated; the message names its key.
        """
        if not self._items:
            return True
        if not payload:
            return False
        if render is None:
            render = _render_default
        for criterion in self._items:
            if criterion.plain:
                # _check inlined: this loop runs for every candidate rule of every trigger instance.
                try:
                    if not criterion.operator(criterion.first(payload), criterion.pattern):
                        return False
                except Exception as exc:
                    raise MatchError(f"criteria {criterion.key!r}: {_reason(exc)}") from exc
            elif not _check(criterion, payload, payload, render):
                return False
        return True

    def explain(self, payload: Any, render: PatternRenderer | None = None) -> list[CriterionResult]:
        """Every criterion's outcome, without stopping at the first failure or error.

        :meth:`evaluate` is true exactly when every result passed, and raises
        where a result has an ``error``.
        """
        if render is None:
            render = _render_default
        results: list[CriterionResult] = []
        for criterion in self._items:
            value: Any = None
            pattern = criterion.pattern
            passed = False
            error: str | None = _EMPTY_PAYLOAD if not payload else None
            if error is None:
                try:
                    value = criterion.path.first(payload)
                    if criterion.templated:
                        pattern = render(pattern, payload)
                    passed = _apply(criterion, value, pattern, payload, render)
                except Exception as exc:  # reported, as evaluate() would raise it
                    error = _reason(exc)
            results.append(
                CriterionResult(
                    key=criterion.key,
                    operator=criterion.operator_name,
                    pattern=pattern,
                    value=value,
                    passed=passed,
                    error=error,
                )
            )
        return results


def _reason(exc: Exception) -> str:
    """``exc`` as the reason a criterion failed to evaluate."""
    if isinstance(exc, MatchError | TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _check(criterion: _Criterion, target: Any, payload: Any, render: PatternRenderer) -> bool:
    """Evaluate ``criterion`` with its key applied to ``target`` (the payload, or an item of a search)."""
    try:
        value = criterion.path.first(target)
        pattern = render(criterion.pattern, payload) if criterion.templated else criterion.pattern
        return _apply(criterion, value, pattern, payload, render)
    except Exception as exc:  # any failure must become a failed enforcement, not a crash
        raise MatchError(f"criteria {criterion.key!r}: {_reason(exc)}") from exc


def _apply(criterion: _Criterion, value: Any, pattern: Any, payload: Any, render: PatternRenderer) -> bool:
    """Apply ``criterion``'s operator to the selected ``value`` and the rendered ``pattern``."""
    if criterion.children is None:
        return criterion.operator(value, pattern)
    return _search(criterion, value, payload, render)


def _search(criterion: _Criterion, value: Any, payload: Any, render: PatternRenderer) -> bool:
    """StackStorm's ``search``: child criteria (keys ``item.<path>``) over each element of ``value``."""
    if isinstance(value, Mapping):
        value = [value]
    elif not isinstance(value, list | tuple):
        raise MatchError(f"operator 'search' needs a list (or an object), got {describe(value)}")
    children = criterion.children or ()
    over_items, over_children = criterion.condition
    return over_items(over_children(_check(child, item, payload, render) for child in children) for item in value)


def compile_criteria(raw: Mapping[str, Any] | None) -> Criteria:
    """Validate and compile a rule's ``criteria`` mapping (``None`` means no criteria).

    Raises:
        ContentError: the mapping is malformed; the message names the criteria
            key and says what to write instead.
    """
    if raw is None:
        return Criteria({}, ())
    if not isinstance(raw, Mapping):
        raise ContentError(f"criteria must be a mapping of payload keys to {{type, pattern}}, got {describe(raw)}")
    return Criteria(raw, _compile_entries(raw, "trigger"))


def _compile_entries(raw: Mapping[Any, Any], root: str) -> tuple[_Criterion, ...]:
    return tuple(_compile_entry(key, spec, root) for key, spec in raw.items())


def _known() -> str:
    return ", ".join(sorted(OPERATORS))


def _compile_entry(key: Any, spec: Any, root: str) -> _Criterion:
    if not isinstance(key, str):
        raise ContentError(f"criteria key {key!r} must be a string such as '{root}.body.status'")
    path = compile_path(key, root)
    if not isinstance(spec, Mapping):
        raise ContentError(f"criteria {key!r}: must be a mapping with 'type' and 'pattern', got {describe(spec)}")
    unknown = sorted(str(field) for field in spec if field not in _FIELDS)
    if unknown:
        raise ContentError(
            f"criteria {key!r}: unknown field {', '.join(map(repr, unknown))}; "
            "a criterion has 'type', 'pattern' and, for 'search', 'condition'"
        )
    name = _operator_name(key, spec.get("type"))
    pattern = spec.get("pattern")
    if pattern is None and name not in _PATTERN_OPTIONAL:
        raise ContentError(
            f"criteria {key!r}: operator '{name}' needs a 'pattern' (only 'exists' and 'nexists' work without one)"
        )
    if name == SEARCH:
        return _compile_search(key, path, pattern, spec.get("condition"))
    if isinstance(pattern, str) and has_template(pattern) and name not in _PATTERN_OPTIONAL:
        _check_template_syntax(key, pattern)
    return _Criterion(key, path, name, pattern)


def _operator_name(key: str, name: Any) -> str:
    """The canonical operator name for ``type``, or a ContentError naming ``key``."""
    if name is None:
        raise ContentError(f"criteria {key!r}: missing 'type'; use one of: {_known()}")
    if not isinstance(name, str):
        raise ContentError(f"criteria {key!r}: 'type' must be an operator name, got {describe(name)}")
    try:
        get_operator(name)
    except UnknownOperatorError as exc:
        close = difflib.get_close_matches(name.lower(), OPERATORS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ContentError(f"criteria {key!r}: unknown operator {name!r}{hint}; use one of: {_known()}") from exc
    return canonical_name(name)


def _compile_search(key: str, path: PayloadPath, pattern: Any, condition: Any) -> _Criterion:
    if not isinstance(pattern, Mapping) or not pattern:
        raise ContentError(
            f"criteria {key!r}: 'search' needs a 'pattern' mapping of child criteria keyed "
            f"'item.<path>', got {describe(pattern)}"
        )
    condition = "all" if condition is None else condition
    if not isinstance(condition, str) or condition not in CONDITIONS:
        raise ContentError(
            f"criteria {key!r}: search condition {condition!r} is not one of: {', '.join(sorted(CONDITIONS))}"
        )
    try:
        children = _compile_entries(pattern, "item")
    except ContentError as exc:
        raise ContentError(f"criteria {key!r}: {exc}") from exc
    return _Criterion(key, path, SEARCH, pattern, children, CONDITIONS[condition])


def _check_template_syntax(key: str, pattern: str) -> None:
    try:
        check_syntax(pattern)
    except TemplateError as exc:
        raise ContentError(f"criteria {key!r}: {exc}") from exc
