"""Pack configuration: ``config.schema.yaml`` in the pack, ``<configs_dir>/<pack>.yaml`` on the host.

As in StackStorm, a pack declares the settings it needs in
``config.schema.yaml`` (a mapping of key to ``{type, description, required,
default, secret}``, nested objects with ``properties``), and the site writes
the values in ``configs/<pack>.yaml``. Values may be Jinja templates reading
the datastore (``"{{ st2kv.system.looker.client_secret }}"``); they are
rendered each time the configuration is used, so a changed key takes effect
without re-registering, and the value of a key marked ``secret: true`` is
decrypted automatically. Python actions and sensors get the result as
``self.config``; templates as ``config_context``.

This module is pure apart from the lookups it is handed: :func:`schema_problems`
and :func:`config_problems` check at registration (template values are
checked only once rendered), :func:`resolve_config` renders, applies defaults
and validates at use time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from st2lite.content import PackMeta

if TYPE_CHECKING:
    from st2lite.encryption import DatastoreKey
    from st2lite.redisdb import Redis
from st2lite.exceptions import ContentError

__all__ = [
    "ConfigContext",
    "config_context",
    "config_problems",
    "json_schema",
    "mask_config_secrets",
    "masked_config_context",
    "pack_config",
    "resolve_config",
    "schema_problems",
    "stored_pack_config",
]

#: The keys an item of ``config.schema.yaml`` may have besides JSON schema's own.
_EXTRA_ITEM_KEYS = frozenset({"secret", "required"})
_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})

#: Reads one datastore value: (scope ``system`` or ``user:<name>``, name) -> stored value or None.
KvLookup = Callable[[str, str], "str | None"]


def schema_problems(schema: Any) -> list[tuple[str, str]]:
    """(key path, message) for each thing wrong with a ``config.schema.yaml`` document."""
    if not isinstance(schema, Mapping):
        return [("", "config.schema.yaml must be a mapping of setting name to {type, description, ...}")]
    problems = list(_item_problems(schema, ""))
    if not problems:
        import jsonschema  # here: most processes never check a config schema

        try:
            jsonschema.Draft4Validator.check_schema(json_schema(schema))
        except jsonschema.SchemaError as exc:
            where = ".".join(str(p) for p in exc.absolute_path if p != "properties")
            problems.append((where, f"not a valid schema: {exc.message}"))
    return problems


def _item_problems(properties: Mapping[Any, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for name, item in properties.items():
        where = f"{prefix}{name}"
        if not isinstance(item, Mapping):
            yield where, "must be a mapping like {type: string, description: ..., required: true}"
            continue
        kind = item.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if kind is not None and not all(isinstance(k, str) and k in _TYPES for k in kinds):
            yield where, f"type {kind!r} is not one of {', '.join(sorted(_TYPES))}"
        for flag in ("secret", "required"):
            if flag in item and not isinstance(item[flag], bool):
                yield where, f"'{flag}' must be true or false"
        nested = item.get("properties")
        if nested is not None:
            if isinstance(nested, Mapping):
                yield from _item_problems(nested, where + ".")
            else:
                yield where, "'properties' must be a mapping"


def json_schema(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema (draft 4) of a ``config.schema.yaml`` mapping: ``required: true`` items lifted up.

    Extra keys are allowed, as StackStorm allows them in a pack's config.
    """
    converted: dict[str, Any] = {}
    required: list[str] = []
    for name, item in properties.items():
        if not isinstance(item, Mapping):
            continue
        spec = {k: v for k, v in item.items() if k not in _EXTRA_ITEM_KEYS}
        if isinstance(item.get("properties"), Mapping):
            nested = json_schema(item["properties"])
            spec["properties"] = nested["properties"]
            if nested.get("required"):
                spec["required"] = nested["required"]
        converted[str(name)] = spec
        if item.get("required") is True:
            required.append(str(name))
    schema: dict[str, Any] = {"type": "object", "properties": converted}
    if required:
        schema["required"] = required
    return schema


def unconfigured(pack: PackMeta) -> list[str]:
    """The keys ``pack``'s schema requires (without a default) when the site wrote no config for it (pure).

    Empty when the pack has a config file, or needs none. A pack listed here cannot run its sensors yet: the
    sensor container waits for the config instead of restarting them in a loop.
    """
    if pack.config_file or not pack.config_schema:
        return []
    return sorted(
        str(name)
        for name, item in pack.config_schema.items()
        if isinstance(item, Mapping) and item.get("required") is True and "default" not in item
    )


def with_defaults(properties: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the schema's defaults filled in for missing keys (nested objects too)."""
    out = dict(values)
    for name, item in properties.items():
        if not isinstance(item, Mapping):
            continue
        nested = item.get("properties")
        if name not in out and "default" in item:
            out[name] = item["default"]
        if isinstance(nested, Mapping):
            current = out.get(name)
            items = [i for i in nested.values() if isinstance(i, Mapping)]
            # An absent object is built from its defaults only when it needs nothing the user must write.
            if current is None and any("default" in i for i in items) and not any(i.get("required") for i in items):
                current = {}
            if isinstance(current, Mapping):
                out[name] = with_defaults(nested, current)
    return out


def config_problems(properties: Mapping[str, Any], values: Any) -> list[tuple[str, str]]:
    """(key path, message) for each value of ``configs/<pack>.yaml`` the schema refuses.

    Template values (``{{ ... }}``) are left out: they are checked once rendered,
    each time the configuration is used.
    """
    if not isinstance(values, Mapping):
        return [("", "the pack config must be a mapping of setting name to value")]
    import jsonschema

    static = _without_templates(values)
    schema = _relaxed(json_schema(properties), values)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(with_defaults(properties, static)), key=str)
    return [(_path(e), e.message) for e in errors]


def resolve_config(
    properties: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    lookup: KvLookup | None = None,
    decrypt: Callable[[str], str] | None = None,
    pack: str = "",
) -> dict[str, Any]:
    """The configuration as actions and sensors see it: rendered, defaults filled in, validated.

    Raises:
        ContentError: A template failed, or the rendered config does not match the schema.
    """
    rendered = _render(properties, values, lookup, decrypt, pack, "")
    full = with_defaults(properties, rendered)
    if properties:
        import jsonschema

        error = jsonschema.exceptions.best_match(jsonschema.Draft4Validator(json_schema(properties)).iter_errors(full))
        if error is not None:
            raise ContentError(
                f"the config of pack '{pack}' is invalid at {_path(error)}: {error.message}; "
                f"fix configs/{pack}.yaml or the datastore values it reads"
            )
    return full


def _render(
    properties: Mapping[str, Any],
    values: Mapping[str, Any],
    lookup: KvLookup | None,
    decrypt: Callable[[str], str] | None,
    pack: str,
    prefix: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        item = properties.get(name) if isinstance(properties, Mapping) else None
        item = item if isinstance(item, Mapping) else {}
        if isinstance(value, Mapping):
            nested = item.get("properties")
            out[name] = _render(nested if isinstance(nested, Mapping) else {}, value, lookup, decrypt, pack, name + ".")
        elif isinstance(value, str) and "{{" in value:
            out[name] = _render_one(value, lookup, decrypt if item.get("secret") else None, pack, prefix + name)
        else:
            out[name] = value
    return out


def _render_one(
    source: str, lookup: KvLookup | None, decrypt: Callable[[str], str] | None, pack: str, where: str
) -> Any:
    # Imported here: jinja2 is loaded only by processes whose packs use templated configs.
    from st2lite.encryption import looks_encrypted
    from st2lite.exceptions import St2liteError
    from st2lite.templating import kv_context, render_typed

    def missing(_scope: str, _name: str) -> str | None:
        return None

    try:
        value = render_typed(source, {"st2kv": kv_context(lookup or missing, user=None)})
    except St2liteError as exc:
        raise ContentError(f"the config of pack '{pack}' at {where}: {exc}") from exc
    if decrypt is not None and isinstance(value, str) and looks_encrypted(value):
        value = decrypt(value)
    return value


def _without_templates(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            out[name] = _without_templates(value)
        elif not (isinstance(value, str) and "{{" in value):
            out[name] = value
    return out


def _relaxed(schema: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` without ``required`` for the keys whose value is a template (they are there, unrendered)."""
    props = dict(schema.get("properties", {}))
    templated = {k for k, v in values.items() if isinstance(v, str) and "{{" in v}
    for name, value in values.items():
        if isinstance(value, Mapping) and isinstance(props.get(name), dict):
            props[name] = _relaxed(props[name], value)
    out = {**schema, "properties": props}
    if "required" in schema:
        out["required"] = [r for r in schema["required"] if r not in templated]
        if not out["required"]:
            del out["required"]
    return out


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


class ConfigContext(Mapping[str, Any]):
    """``config_context`` for templates: the pack's configuration, resolved on first use only.

    Most templates never read it, so the datastore is not touched for them.
    """

    def __init__(self, resolve: Callable[[], dict[str, Any]]) -> None:
        self._resolve = resolve
        self._values: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._values is None:
            self._values = self._resolve()
        return self._values

    def __getitem__(self, name: str) -> Any:
        return self._all()[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._all()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def pack_config(
    pack: PackMeta | None, *, lookup: KvLookup | None, decrypt: Callable[[str], str] | None
) -> dict[str, Any]:
    """The resolved configuration of ``pack`` (``{}`` for a pack without schema or config, or no pack)."""
    if pack is None or not (pack.config or pack.config_schema):
        return {}
    return resolve_config(pack.config_schema, pack.config, lookup=lookup, decrypt=decrypt, pack=pack.ref)


def stored_pack_config(pack: PackMeta | None, client: Redis, key: DatastoreKey) -> dict[str, Any]:
    """:func:`pack_config` reading the datastore through ``client`` and decrypting secrets with ``key``.

    What a worker gives a Python action as ``self.config`` and a sensor process its sensor.
    """
    if pack is None or not (pack.config or pack.config_schema):
        return {}
    from st2lite.datastore import kv_lookup  # here: processes without pack configs never load it

    def decrypt(token: str) -> str:
        return key.decrypt(token, what=f"a secret in the config of pack '{pack.ref}'")

    return pack_config(pack, lookup=kv_lookup(client), decrypt=decrypt)


def config_context(pack: PackMeta | None, *, lookup: KvLookup | None) -> ConfigContext | dict[str, Any]:
    """``config_context`` for templates about ``pack`` (secrets decrypted with the process's ``decrypt_kv``)."""
    if pack is None or not (pack.config or pack.config_schema):
        return {}

    def resolve() -> dict[str, Any]:
        from st2lite.template_filters import decrypt_kv

        return pack_config(pack, lookup=lookup, decrypt=decrypt_kv)

    return ConfigContext(resolve)


def mask_config_secrets(properties: Mapping[str, Any], values: Mapping[str, Any], mask: str) -> dict[str, Any]:
    """``values`` with every value the schema marks ``secret: true`` replaced by ``mask`` (nested objects too)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        item = properties.get(name) if isinstance(properties, Mapping) else None
        item = item if isinstance(item, Mapping) else {}
        if item.get("secret") and value is not None:
            out[name] = mask
        elif isinstance(value, Mapping):
            nested = item.get("properties")
            out[name] = mask_config_secrets(nested if isinstance(nested, Mapping) else {}, value, mask)
        else:
            out[name] = value
    return out


def masked_config_context(pack: PackMeta | None, *, lookup: KvLookup, mask: str) -> ConfigContext | dict[str, Any]:
    """:func:`config_context` for showing a render to someone who may not see secrets: the schema's secret
    values read as ``mask`` (``lookup`` should mask datastore secrets too)."""
    if pack is None or not (pack.config or pack.config_schema):
        return {}

    def resolve() -> dict[str, Any]:
        return mask_config_secrets(pack.config_schema, pack_config(pack, lookup=lookup, decrypt=None), mask)

    return ConfigContext(resolve)
