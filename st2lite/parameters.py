"""Action parameters: render, cast, validate, mask and turn into script arguments.

Pure functions, no I/O. The pipeline a worker or the rules engine runs is
:func:`finalize_parameters`::

    supplied (rule / API) + defaults --render--> values --cast--> typed --validate--> final

Rendering follows StackStorm: supplied values and parameter defaults may be
Jinja templates over the render context (``trigger``, ``action_context``,
``st2kv``, ``config_context``) and over *other parameters* by name, so the
parameters are rendered in dependency order (``cmd: "echo {{ message }}"``).
"""

from __future__ import annotations

import ast
import graphlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
import jsonschema
from jinja2 import meta
from jsonschema.exceptions import best_match

from st2lite.actions import ParameterSpec
from st2lite.exceptions import ParameterError, TemplateError
from st2lite.template_filters import NONE_MARKER
from st2lite.templating import environment, has_template, render_template, render_typed

__all__ = [
    "CASTS",
    "MASK",
    "cast_value",
    "finalize_parameters",
    "mask_secrets",
    "render_data",
    "render_parameters",
    "validate_parameters",
]

#: What a secret parameter's value is replaced with.
MASK = "********"

Specs = Mapping[str, ParameterSpec]

# A string that is one expression and nothing else: "{{ trigger.items }}" (not "{{ a }}-{{ b }}").
_WHOLE_EXPR = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.DOTALL)
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})


# --- rendering -------------------------------------------------------------------------------------


def _strings(value: Any) -> Iterable[str]:
    """Every string in ``value``, dict keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@lru_cache(maxsize=4096)
def _template_variables(text: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(environment().parse(text)))


def _references(name: str, value: Any) -> set[str]:
    """The variables the templates in ``value`` read."""
    found: set[str] = set()
    for text in _strings(value):
        if not has_template(text):
            continue
        try:
            found |= _template_variables(text)
        except jinja2.TemplateSyntaxError as exc:
            raise ParameterError(
                f"parameter {name!r}: template {text!r} is not valid Jinja: {exc.message} (line {exc.lineno})"
            ) from exc
    return found


def _none_from_marker(value: Any) -> Any:
    """``use_none``'s marker as a whole value is ``None``; inside larger text it reads "None"."""
    if not isinstance(value, str) or NONE_MARKER not in value:
        return value
    return None if value == NONE_MARKER else value.replace(NONE_MARKER, "None")


def render_data(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a value (string, dict, list) as parameters are rendered; a whole ``"{{ x }}"`` keeps its type.

    For values outside an action's parameters: a chain's ``vars`` and ``publish``.
    """
    return _render_nested(value, context)


def _render_nested(value: Any, context: Mapping[str, Any]) -> Any:
    """Inside a dict or list a whole-value ``"{{ x }}"`` keeps the type of ``x``."""
    if isinstance(value, str) and _WHOLE_EXPR.match(value):
        return _none_from_marker(render_typed(value, context))
    return _render_value(value, context)


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _none_from_marker(render_template(value, context)) if has_template(value) else value
    if isinstance(value, Mapping):
        return {_render_value(key, context): _render_nested(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render_nested(item, context) for item in value]
    return value


def _unrendered(specs: Specs, supplied: Mapping[str, Any]) -> dict[str, Any]:
    """Supplied values, then the defaults of the parameters not supplied."""
    values = dict(supplied)
    for name, spec in specs.items():
        if name not in values and spec.has_default and spec.default is not None:
            values[name] = spec.default
    return values


def _render_order(values: Mapping[str, Any], known: set[str], unset: set[str]) -> list[str]:
    """Parameter names with every parameter after the ones it references.

    Raises:
        ParameterError: a reference to an unknown variable, or a cycle.
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(values):
        depends_on = []
        for variable in sorted(_references(name, values[name])):
            if variable == name and variable in known:
                continue  # ``x: "{{ x }}"`` in a chain task reads the chain's ``x``, not itself
            if variable in values:
                depends_on.append(variable)
            elif variable not in known and variable not in unset:
                raise ParameterError(
                    f"parameter {name!r} references {variable!r}, which is neither a parameter of the "
                    f"action nor a template variable ({', '.join(sorted(known))}); fix the name or "
                    "declare the parameter"
                )
        sorter.add(name, *depends_on)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        # graphlib lists each node before the one that depends on it; show "x -> y" as "x references y".
        cycle = " -> ".join(reversed(exc.args[1]))
        raise ParameterError(
            f"parameters form a cycle: {cycle}; break it by giving one of them a value that does not "
            "reference the others"
        ) from exc


def render_parameters(specs: Specs, supplied: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Render supplied values and defaults, each parameter after the parameters it references.

    Strings render to strings (``None`` inside text reads ``"None"``); a value that
    is exactly ``use_none``'s output becomes ``None``. Dicts and lists render
    recursively, a whole-value ``"{{ x }}"`` inside them keeping the type of ``x``.
    A declared parameter without a value reads as ``None``. A parameter with a
    value shadows a context variable of the same name for the other parameters;
    in its own value that name is the context variable (``name: "{{ name }}"`` in
    a chain task passes the chain's ``name`` on, as in StackStorm).

    Args:
        specs: the action's (merged) parameter specs.
        supplied: values from the rule, chain or API request; may hold names not in ``specs``.
        context: template variables (``trigger``, ``action_context``, ``st2kv``, ``config_context``).

    Returns:
        Every supplied parameter and every parameter with a non-``None`` default, rendered, not cast.

    Raises:
        ParameterError: a cycle, a reference to an unknown variable, or a template that fails to render.
    """
    values = _unrendered(specs, supplied)
    unset = set(specs) - set(values)
    render_context: dict[str, Any] = {**dict.fromkeys(unset), **context}
    rendered: dict[str, Any] = {}
    for name in _render_order(values, set(context), unset):
        try:
            rendered[name] = _render_value(values[name], render_context)
        except TemplateError as exc:
            raise ParameterError(f"parameter {name!r} could not be rendered: {exc}") from exc
        render_context[name] = rendered[name]
    return {name: rendered[name] for name in values}


# --- casting ---------------------------------------------------------------------------------------


def _cast_integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return int(value)


def _cast_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _cast_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError


def _parse_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value.strip())  # Python reprs, as "{{ trigger.body }}" renders dicts


def _cast_object(value: Any) -> dict[str, Any]:
    parsed = _parse_text(value) if isinstance(value, str) else value
    if isinstance(parsed, Mapping):
        return dict(parsed)
    raise ValueError


def _cast_array(value: Any) -> list[Any]:
    parsed = _parse_text(value) if isinstance(value, str) else value
    if isinstance(parsed, list | tuple):
        return list(parsed)
    raise ValueError


def _cast_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError


#: JSON-schema type name -> cast; a type not listed here (``null``, a list of types) is left as given.
CASTS: dict[str, Callable[[Any], Any]] = {
    "integer": _cast_integer,
    "number": _cast_number,
    "boolean": _cast_boolean,
    "object": _cast_object,
    "array": _cast_array,
    "string": _cast_string,
}


def _shown(spec: ParameterSpec | None, value: Any) -> str:
    """``value`` for an error message: masked when secret, shortened when long."""
    if spec is not None and spec.secret:
        return repr(MASK)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def cast_value(name: str, spec: ParameterSpec, value: Any) -> Any:
    """Cast a rendered value to the parameter's declared ``type``; ``None`` stays ``None``.

    integer: ``int()`` (whole floats accepted, booleans not); number: ``float()``;
    boolean: true/false/1/0/yes/no in any case; object and array: JSON text,
    else a Python literal; string: must already be a string.

    Raises:
        ParameterError: ``parameter 'count' expects integer, got 'abc'``.
    """
    cast = CASTS.get(spec.type) if isinstance(spec.type, str) else None
    if value is None or cast is None:
        return value
    try:
        return cast(value)
    except (ValueError, TypeError, OverflowError, SyntaxError, RecursionError):
        raise ParameterError(f"parameter {name!r} expects {spec.type}, got {_shown(spec, value)}") from None


# --- validation ------------------------------------------------------------------------------------


def _check_unknown(specs: Specs, names: Iterable[str], action_ref: str) -> None:
    unknown = sorted(set(names) - set(specs))
    if unknown:
        known = ", ".join(sorted(specs)) or "none"
        raise ParameterError(
            f"action '{action_ref}' has no parameter(s) {', '.join(unknown)}; "
            f"its parameters are: {known}. Remove or rename them"
        )


def _check_immutable(specs: Specs, supplied: Mapping[str, Any], action_ref: str) -> None:
    """Supplying an immutable parameter is an error unless the value is its default."""
    overridden = sorted(
        name
        for name, value in supplied.items()
        if name in specs and specs[name].immutable and value != specs[name].default
    )
    if overridden:
        raise ParameterError(
            f"action '{action_ref}': parameter(s) {', '.join(overridden)} are immutable and cannot be "
            "overridden; remove them from the parameters, or write an action that does not declare them "
            "immutable"
        )


def _check_required(specs: Specs, values: Mapping[str, Any], action_ref: str) -> None:
    missing = sorted(name for name, spec in specs.items() if spec.required and values.get(name) is None)
    if missing:
        raise ParameterError(
            f"action '{action_ref}': required parameter(s) {', '.join(missing)} have no value; "
            "supply them in the rule's action parameters or the run request"
        )


@lru_cache(maxsize=1024)
def _validator(schema_json: str) -> jsonschema.Draft4Validator:
    schema = json.loads(schema_json)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _schema_problem(name: str, spec: ParameterSpec, value: Any) -> str | None:
    """Why ``value`` breaks the parameter's JSON-schema keywords, or ``None``."""
    try:
        validator = _validator(json.dumps(spec.schema_keywords(), sort_keys=True, default=str))
    except jsonschema.SchemaError as exc:
        return f"parameter {name!r} has an invalid schema ({exc.message}); fix the action metadata"
    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = f"parameter {name!r}"
    if error.absolute_path:
        where += " at " + ".".join(str(part) for part in error.absolute_path)
    if spec.secret:
        return f"{where}: the value fails the schema keyword {error.validator!r}"
    return f"{where}: {error.message}"


def _check_schema(specs: Specs, values: Mapping[str, Any], action_ref: str) -> None:
    problems = [
        problem
        for name, value in values.items()
        if value is not None and name in specs
        for problem in [_schema_problem(name, specs[name], value)]
        if problem is not None
    ]
    if problems:
        raise ParameterError(f"action '{action_ref}': " + "; ".join(problems))


def _with_plain_defaults(specs: Specs, values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for name, spec in specs.items():
        if name in out or not spec.has_default or spec.default is None:
            continue
        if not any(has_template(text) for text in _strings(spec.default)):
            out[name] = spec.default
    return out


def validate_parameters(specs: Specs, values: Mapping[str, Any], *, action_ref: str) -> dict[str, Any]:
    """Check values against the specs without rendering them.

    Checks, in order: no unknown names; no immutable parameter given a value
    other than its default; every required parameter has a value (``None``
    counts as none) or a default; each non-``None`` value matches its JSON-schema
    keywords (draft 4).

    Returns:
        ``values`` plus the defaults of the parameters not given that have a default without templates.

    Raises:
        ParameterError: naming the action and the offending parameters.
    """
    _check_unknown(specs, values, action_ref)
    _check_immutable(specs, values, action_ref)
    complete = _with_plain_defaults(specs, values)
    templated_defaults = {
        name for name, spec in specs.items() if name not in complete and spec.has_default and spec.default is not None
    }
    _check_required({k: v for k, v in specs.items() if k not in templated_defaults}, complete, action_ref)
    _check_schema(specs, complete, action_ref)
    return complete


def finalize_parameters(
    specs: Specs, supplied: Mapping[str, Any], context: Mapping[str, Any], *, action_ref: str
) -> dict[str, Any]:
    """The whole pipeline: reject unknown and immutable overrides, render, cast, validate.

    Returns:
        The values the runner gets: supplied and default parameters, rendered and cast.

    Raises:
        ParameterError: any step failed; the message names the action and the parameter.
    """
    _check_unknown(specs, supplied, action_ref)
    _check_immutable(specs, supplied, action_ref)
    rendered = render_parameters(specs, supplied, context)
    cast = {name: cast_value(name, specs[name], value) for name, value in rendered.items()}
    _check_required(specs, cast, action_ref)
    _check_schema(specs, cast, action_ref)
    return cast


# --- output ----------------------------------------------------------------------------------------


def mask_secrets(specs: Specs, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every ``secret: true`` parameter's value replaced by :data:`MASK` (``None`` kept)."""
    return {
        name: MASK if value is not None and name in specs and specs[name].secret else value
        for name, value in values.items()
    }
