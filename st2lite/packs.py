"""Packs on disk -> validated definitions, with every problem named by file, line and field.

Three steps, each usable on its own:

* :func:`discover` finds pack folders (``pack.yaml``), folders of packs, and
  the site's own content (top-level ``rules/``, ``actions/``, ``sensors/``,
  loaded as the pack ``default``);
* :func:`load_pack` reads one pack: ``pack.yaml``, ``actions/``, ``rules/``,
  ``triggers/``, ``sensors/``, ``policies/``, ``webhooks/``, ``aliases/``.
  Each file is validated on its own; a broken file becomes
  :class:`Problem` entries and never stops the other files from loading;
* :func:`validate_references` checks what only the whole registry can tell:
  a rule's trigger type and action exist and its parameters fit them (a
  policy's action and attributes, and an alias's action, are checked by :func:`load_all`).

:func:`load_all` runs them together and keeps only valid definitions.
"""

from __future__ import annotations

import difflib
import logging
import os.path
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from st2lite.actions import OVERRIDABLE, Action, ParameterSpec, merge_parameters
from st2lite.aliases import ActionAlias, FormatError, compile_format
from st2lite.chains.spec import load_chain, parse_chain
from st2lite.content import ContentSet, PackMeta, SensorMeta
from st2lite.criteria import compile_criteria
from st2lite.exceptions import PackLoadError, ParameterError, St2liteError
from st2lite.pack_configs import config_problems, schema_problems
from st2lite.parameters import cast_value, validate_parameters
from st2lite.policies import PARAMETER_MODELS, Policy, PolicyType
from st2lite.refs import PACK_NAME
from st2lite.rules import Rule
from st2lite.runners import RUNNERS
from st2lite.runners.chain import CHAIN_RUNNER
from st2lite.sensors.timers import TIMER_TYPES, schedule_problems
from st2lite.templating import has_template
from st2lite.triggers import BUILTIN_TRIGGER_TYPES, TriggerType
from st2lite.webhooks import Webhook, schema_problem
from st2lite.yamlfile import YamlDoc, load_yaml

__all__ = [
    "LoadReport",
    "PackLoad",
    "PackSource",
    "Problem",
    "check_rule",
    "discover",
    "load_all",
    "load_pack",
    "validate_references",
]

logger = logging.getLogger(__name__)

#: Pack names no pack may use.
RESERVED_PACK_NAMES: Final = frozenset({"packs", "_global"})
#: The built-in pack; only a source with ``builtin=True`` may use this name.
CORE_PACK: Final = "core"
#: The pack the site's own top-level content belongs to.
SITE_PACK: Final = "default"
#: Content folders of a site directory.
SITE_FOLDERS: Final = ("actions", "rules", "sensors", "webhooks")
#: Runners whose ``entry_point`` is a file under ``actions/`` that must exist.
ENTRY_POINT_RUNNERS: Final = frozenset(
    {"local-shell-script", "remote-shell-script", "python-script", "action-chain", "winrm-ps-script"}
)
_YAML_SUFFIXES: Final = (".yaml", ".yml")
_PARAMETER_NAME: Final = re.compile(r"^\w+$")
_BUILTIN_TRIGGER_REFS: Final = frozenset(t.ref for t in BUILTIN_TRIGGER_TYPES)


class Problem(BaseModel):
    """One thing wrong with a content file.

    ``path`` is the file as discovered (relative when the pack path given was
    relative), ``line`` 1-based when known, ``field`` the dotted field path when
    known. ``str()`` gives ``path:line: field 'x': message``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int | None = None
    field: str = ""
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}: {what}{self.message}"

    @classmethod
    def from_error(cls, exc: PackLoadError) -> Problem:
        return cls(path=exc.path, line=exc.line, field=exc.field, message=exc.reason)


class PackSource(BaseModel):
    """A folder to load as one pack.

    ``site``: the folder is a site directory whose top-level ``rules/``,
    ``actions/`` and ``sensors/`` form the pack ``default`` (no ``pack.yaml``).
    ``builtin``: the folder is st2lite's own ``core`` pack (the only one that may
    use that name).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    site: bool = False
    builtin: bool = False
    #: Folder holding the site's pack configs (``<configs_dir>/<pack>.yaml``); ``None``: none are read.
    configs_dir: Path | None = None


class PackLoad(BaseModel):
    """What :func:`load_pack` read from one pack: the valid definitions and the problems.

    ``pack`` is ``None`` when ``pack.yaml`` is missing or invalid; the pack's
    files are still checked (their problems are reported) but the pack cannot
    be registered. ``rejected`` maps ``<kind>:<ref>`` of definitions dropped for
    problems to their file, so later messages can point there. ``rule_files``
    keeps each valid rule's parsed file for locating cross-reference problems.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    source: PackSource
    pack: PackMeta | None
    actions: list[Action] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    trigger_types: list[TriggerType] = Field(default_factory=list)
    sensors: list[SensorMeta] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)
    aliases: list[ActionAlias] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    #: Ordered by file, then line.
    problems: list[Problem] = Field(default_factory=list)
    rejected: dict[str, str] = Field(default_factory=dict)
    rule_files: dict[str, YamlDoc] = Field(default_factory=dict)
    #: Each valid policy's parsed file, for locating cross-reference problems.
    policy_files: dict[str, YamlDoc] = Field(default_factory=dict)
    #: Each valid webhook's parsed file, for locating a url declared twice.
    webhook_files: dict[str, YamlDoc] = Field(default_factory=dict)
    #: Each valid alias's parsed file, for locating an unknown action_ref.
    alias_files: dict[str, YamlDoc] = Field(default_factory=dict)


class LoadReport(BaseModel):
    """The outcome of :func:`load_all`: only valid definitions, and every problem, ordered by file and line."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    content: ContentSet
    problems: list[Problem] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- discovery -------------------------------------------------------------------------------------


def discover(paths: Sequence[Path], site_dir: Path | None = None) -> list[PackSource]:
    """Find the packs to load, in a stable order, each folder once.

    Each of ``paths`` is a pack (it holds ``pack.yaml``) or a folder of packs
    (its subfolders holding ``pack.yaml`` are packs; other subfolders are
    skipped). ``site_dir``, when it has a top-level ``rules/``, ``actions/`` or
    ``sensors/`` folder, is added last as the pack ``default``. The built-in core
    pack is not included: the caller adds ``PackSource(path=..., builtin=True)``.

    Raises:
        PackLoadError: A path does not exist or is not a folder.
    """
    sources: list[PackSource] = []
    seen: set[Path] = set()

    def add(source: PackSource) -> None:
        key = source.path.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(source)

    for path in paths:
        folder = path.parent if path.name == "pack.yaml" and path.is_file() else path
        if not folder.is_dir():
            problem = "does not exist" if not folder.exists() else "is not a folder"
            raise PackLoadError(
                f"{problem}; give a pack folder (one with a pack.yaml) or a folder of packs", path=str(path)
            )
        if (folder / "pack.yaml").is_file():
            add(PackSource(path=folder))
            continue
        children = sorted(child for child in folder.iterdir() if child.is_dir())
        packs = [child for child in children if (child / "pack.yaml").is_file()]
        for child in children:
            if child not in packs and any((child / name).is_dir() for name in ("actions", "rules", "sensors")):
                logger.warning("Skipping %s: it looks like a pack but has no pack.yaml", child)
        if not packs:
            logger.info("No packs in %s: neither it nor its subfolders hold a pack.yaml", folder)
        for child in packs:
            add(PackSource(path=child))
    if site_dir is not None and any((site_dir / name).is_dir() for name in SITE_FOLDERS):
        add(PackSource(path=site_dir, site=True))
    return sources


# --- loading one pack ------------------------------------------------------------------------------


class _PackReader:
    """Collects one pack's definitions and problems while its files are read."""

    def __init__(self, source: PackSource, pack_name: str) -> None:
        self.source = source
        self.pack_name = pack_name
        self.root = source.path.resolve()
        self.actions: dict[str, Action] = {}
        self.rules: dict[str, Rule] = {}
        self.trigger_types: dict[str, TriggerType] = {}
        self.sensors: dict[str, SensorMeta] = {}
        self.policies: dict[str, Policy] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.webhook_files: dict[str, YamlDoc] = {}
        self.policy_files: dict[str, YamlDoc] = {}
        self.aliases: dict[str, ActionAlias] = {}
        self.alias_files: dict[str, YamlDoc] = {}
        self.notes: list[str] = []
        self.problems: list[Problem] = []
        self.rejected: dict[str, str] = {}
        self.rule_files: dict[str, YamlDoc] = {}
        self.origin: dict[str, Path] = {}

    def claim(self, doc: YamlDoc, data: dict[str, Any]) -> list[Problem]:
        """Set ``pack`` to this pack, or report a file that names another pack."""
        declared = data.get("pack")
        if declared is None:
            data["pack"] = self.pack_name
            return []
        if declared != self.pack_name:
            return [
                _problem(
                    doc,
                    "pack",
                    f"this file is in pack '{self.pack_name}' but says pack '{declared}'; "
                    f"remove the 'pack' field or set it to '{self.pack_name}'",
                )
            ]
        return []

    def unique(self, doc: YamlDoc, kind: str, ref: str, field: str = "name") -> list[Problem]:
        """Report a ref already defined by another file of this pack (or built in)."""
        key = f"{kind}:{ref}"
        if kind == "trigger_type" and ref in _BUILTIN_TRIGGER_REFS:
            return [_problem(doc, field, f"trigger type '{ref}' is built in; give yours another name")]
        first = self.origin.get(key)
        if first is not None:
            return [
                _problem(
                    doc,
                    field,
                    f"{kind.replace('_', ' ')} '{ref}' is already defined in {first}; give each one a unique name",
                )
            ]
        self.origin[key] = doc.path
        return []

    def reject(self, doc: YamlDoc, kind: str, name: Any, problems: list[Problem]) -> None:
        self.problems.extend(problems)
        if isinstance(name, str) and name:
            self.rejected.setdefault(f"{kind}:{self.pack_name}.{name}", str(doc.path))

    def relative(self, doc: YamlDoc) -> str:
        return doc.path.relative_to(self.source.path).as_posix()

    def result(self, pack: PackMeta | None) -> PackLoad:
        return PackLoad(
            source=self.source,
            pack=pack,
            actions=list(self.actions.values()),
            rules=list(self.rules.values()),
            trigger_types=list(self.trigger_types.values()),
            sensors=list(self.sensors.values()),
            policies=list(self.policies.values()),
            webhooks=list(self.webhooks.values()),
            webhook_files=self.webhook_files,
            aliases=list(self.aliases.values()),
            alias_files=self.alias_files,
            notes=self.notes,
            problems=sorted(self.problems, key=_problem_order),
            rejected=self.rejected,
            rule_files=self.rule_files,
            policy_files=self.policy_files,
        )


def load_pack(source: PackSource) -> PackLoad:
    """Read and validate every content file of one pack.

    Files are read in a fixed order (folder, then file name). A file that cannot
    be parsed or validated adds problems to the result and is skipped; all other
    files still load.
    """
    if source.site:
        pack: PackMeta | None = PackMeta(
            name=SITE_PACK,
            description="The site's own rules, actions and sensors",
            version="0.0.0",
            author="site",
            path=str(source.path.resolve()),
        )
        reader = _PackReader(source, SITE_PACK)
        folders: Sequence[str] = SITE_FOLDERS
    else:
        pack, name, problems, notes = _read_pack_yaml(source)
        reader = _PackReader(source, name)
        reader.problems.extend(problems)
        reader.notes.extend(notes)
        if pack is not None:
            pack = _with_config(reader, source, pack)
        folders = tuple(_FOLDER_LOADERS)
    for folder in folders:
        directory = source.path / folder
        if not directory.is_dir():
            continue
        load_file = _FOLDER_LOADERS[folder]
        # Only the folder's own files: actions/workflows/, actions/chains/, actions/lib/ hold entry points.
        for path in sorted(p for p in directory.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file()):
            doc = _read_mapping(reader, path)
            if doc is not None:
                load_file(reader, doc, dict(doc.data))
    found = (
        reader.actions,
        reader.rules,
        reader.trigger_types,
        reader.sensors,
        reader.policies,
        reader.webhooks,
        reader.aliases,
    )
    if pack is None and any(found):
        reader.notes.append(f"{source.path}: nothing from this pack is registered until its pack.yaml is fixed")
    return reader.result(pack)


def _read_pack_yaml(source: PackSource) -> tuple[PackMeta | None, str, list[Problem], list[str]]:
    """The pack's metadata (or ``None``), the pack name to load its files under, problems and notes."""
    path = source.path / "pack.yaml"
    fallback = source.path.resolve().name
    try:
        doc = load_yaml(path)
    except PackLoadError as exc:
        return None, fallback, [Problem.from_error(exc)], []
    if not isinstance(doc.data, dict):
        return None, fallback, [_not_a_mapping(doc)], []
    data = dict(doc.data)
    declared = data.get("ref") or data.get("name")
    name = declared if isinstance(declared, str) and declared else fallback
    notes = []
    known = list(PackMeta.model_fields)
    for key in [k for k in data if k not in PackMeta.model_fields]:
        # StackStorm accepts unknown pack.yaml fields, so a pack written for it still loads.
        notes.append(
            f"{path}:{doc.line_of(str(key))}: field '{key}' is not a pack.yaml field and is ignored"
            f"{_suggestion(str(key), known)}"
        )
        del data[key]
    for key in ("config_schema", "config", "config_file"):
        if key in data:
            notes.append(f"{path}:{doc.line_of(key)}: field '{key}' is not a pack.yaml field and is ignored")
            del data[key]
    data["path"] = str(source.path.resolve())
    try:
        meta = PackMeta.model_validate(data)
    except ValidationError as exc:
        return None, name, _validation_problems(exc, doc, PackMeta), notes
    field = "ref" if "ref" in doc.data else "name"
    if meta.ref in RESERVED_PACK_NAMES:
        reason = f"the pack name '{meta.ref}' is reserved; choose another"
        return None, name, [_problem(doc, field, reason)], notes
    if meta.ref == CORE_PACK and not source.builtin:
        reason = "the pack name 'core' is reserved for st2lite's built-in core pack; choose another"
        return None, name, [_problem(doc, field, reason)], notes
    return meta, meta.ref, [], notes


def _with_config(reader: _PackReader, source: PackSource, pack: PackMeta) -> PackMeta | None:
    """``pack`` with its ``config.schema.yaml`` and its site config; ``None`` when either is wrong.

    A wrong schema or config keeps the whole pack out (its actions and sensors
    would run with a configuration they cannot use), with a problem naming the
    file, line and key.
    """
    schema: dict[str, Any] = {}
    ok = True
    schema_path = source.path / "config.schema.yaml"
    if schema_path.is_file():
        doc = _read_mapping(reader, schema_path)
        if doc is None:
            return None
        for where, message in schema_problems(doc.data):
            reader.problems.append(_problem(doc, where, message))
            ok = False
        schema = dict(doc.data)
    config: dict[str, Any] = {}
    config_path = source.configs_dir / f"{pack.ref}.yaml" if source.configs_dir is not None else None
    if ok and config_path is not None and config_path.is_file():
        try:
            doc = load_yaml(config_path)
        except PackLoadError as exc:
            reader.problems.append(Problem.from_error(exc))
            return None
        data = {} if doc.data is None else doc.data
        for where, message in config_problems(schema, data):
            reader.problems.append(_problem(doc, "" if where == "(top level)" else where, message))
            ok = False
        config = dict(data) if isinstance(data, dict) else {}
    if not ok:
        reader.notes.append(f"{source.path}: nothing from pack '{pack.ref}' is registered until its config is fixed")
        return None
    return pack.model_copy(
        update={"config_schema": schema, "config": config, "config_file": str(config_path) if config else ""}
    )


def _read_mapping(reader: _PackReader, path: Path) -> YamlDoc | None:
    try:
        doc = load_yaml(path)
    except PackLoadError as exc:
        reader.problems.append(Problem.from_error(exc))
        return None
    if not isinstance(doc.data, dict):
        reader.problems.append(_not_a_mapping(doc))
        return None
    return doc


def _not_a_mapping(doc: YamlDoc) -> Problem:
    if doc.data is None:
        message = "the file is empty; write the definition's fields in it, or delete it"
    else:
        message = f"the file must hold a mapping of fields (name: value), not {_describe(doc.data)}"
    return Problem(path=str(doc.path), line=doc.line_of(""), message=message)


def _load_action(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """An action's metadata: fields, parameter names, runner type, runner parameter overrides, entry point."""
    problems = reader.claim(doc, data)
    data["pack_path"] = str(reader.root)
    data["metadata_file"] = reader.relative(doc)
    action, errors = _validate(Action, data, doc)
    problems += errors
    if action is not None:
        problems += [
            _problem(doc, f"parameters.{name}", f"parameter name '{name}' may only use letters, digits and _")
            for name in action.parameters
            if not _PARAMETER_NAME.match(name)
        ]
        runner = RUNNERS.get(action.runner_type)
        if runner is None:
            known = sorted(RUNNERS)
            message = f"unknown runner type '{action.runner_type}'" + (
                _suggestion(action.runner_type, known) or f"; use one of: {', '.join(known)}"
            )
            problems.append(_problem(doc, "runner_type", message))
        else:
            problems += _runner_override_problems(reader, doc, action, runner.parameters)
        if action.runner_type in ENTRY_POINT_RUNNERS:
            reason = _missing_entry_point(reader.root, "actions", action.entry_point, action.runner_type)
            if reason:
                problems.append(_problem(doc, "entry_point", reason))
            elif action.runner_type == CHAIN_RUNNER:
                try:
                    load_chain(reader.source.path / "actions" / action.entry_point)
                except PackLoadError as exc:
                    problems.append(Problem.from_error(exc))
        problems += reader.unique(doc, "action", action.full_ref)
    if problems or action is None:
        reader.reject(doc, "action", data.get("name"), problems)
        return
    reader.actions[action.full_ref] = action


def _runner_override_problems(
    reader: _PackReader, doc: YamlDoc, action: Action, runner_parameters: Mapping[str, ParameterSpec]
) -> list[Problem]:
    """An action may redefine a runner parameter, changing only default, description, enum, immutable, required."""
    problems = []
    for name, spec in action.parameters.items():
        base = runner_parameters.get(name)
        if base is None:
            continue
        base_values = {**base.model_dump(exclude={"default"}), **(base.model_extra or {})}
        for attribute, value in spec.model_dump(exclude_unset=True).items():
            if attribute in OVERRIDABLE or value == base_values.get(attribute):
                continue
            problems.append(
                _problem(
                    doc,
                    f"parameters.{name}.{attribute}",
                    f"'{name}' is a parameter of runner '{action.runner_type}', whose '{attribute}' is "
                    f"{base_values.get(attribute)!r}; an action may only change its "
                    f"{', '.join(sorted(OVERRIDABLE))}",
                )
            )
    return problems


def _missing_entry_point(pack_dir: Path, folder: str, entry_point: str, what: str) -> str | None:
    """Why ``entry_point`` (relative to ``<pack>/<folder>``) is unusable, or ``None``."""
    if not entry_point:
        return f"{what} needs an entry_point: the file to run, relative to the pack's {folder}/ folder"
    normal = os.path.normpath(entry_point)
    if os.path.isabs(entry_point) or normal == ".." or normal.startswith("../"):
        return f"entry_point '{entry_point}' must be a path inside the pack's {folder}/ folder"
    if not (pack_dir / folder / normal).is_file():
        return f"'{folder}/{entry_point}' does not exist; create it or correct the entry_point"
    return None


def _load_rule(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """A rule: fields and criteria (references are checked once every pack is loaded)."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    rule, errors = _validate(Rule, data, doc)
    problems += errors
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        problems += _criteria_problems(doc, criteria)
    if rule is not None:
        problems += reader.unique(doc, "rule", rule.full_ref)
    if problems or rule is None:
        reader.reject(doc, "rule", data.get("name"), problems)
        return
    reader.rules[rule.full_ref] = rule
    reader.rule_files[rule.full_ref] = doc


def check_rule(
    data: Mapping[str, Any], content: ContentSet, *, where: str = "request body"
) -> tuple[Rule | None, list[Problem]]:
    """Validate one rule given as data (the rules API) exactly as a rule file is, against ``content``.

    Fields, criteria (operators, keys, patterns), pack name, then what only the
    registry can tell: the trigger type exists and its parameters fit, the
    action exists and its parameters fit. Returns the rule (``None`` when there
    are problems) and every problem, named by field; ``where`` stands for the
    file name in them.
    """
    doc = YamlDoc(path=Path(where), data=data)
    rule, problems = _validate(Rule, data, doc)
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        problems += _criteria_problems(doc, criteria)
    if rule is not None:
        if not PACK_NAME.match(rule.pack):
            message = f"'{rule.pack}' is not a valid pack name; use only lowercase letters, digits and _"
            problems.append(_problem(doc, "pack", message))
        if not rule.name or "." in rule.name:
            problems.append(_problem(doc, "name", f"'{rule.name}' is not a valid rule name; give a name without dots"))
        problems += _rule_problems(rule, content, doc, {})
    return (rule if not problems else None), problems


def _criteria_problems(doc: YamlDoc, criteria: Mapping[Any, Any]) -> list[Problem]:
    """One problem per criterion that does not compile, at that criterion's line."""
    problems = []
    for key, spec in criteria.items():
        try:
            compile_criteria({key: spec})
        except St2liteError as exc:
            # The field already names the key; criteria's messages start with it too.
            message = str(exc).removeprefix(f"criteria {key!r}: ")
            problems.append(_problem(doc, f"criteria.{key}", message))
    return problems


def _load_trigger_type(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """A trigger type file: fields and valid JSON schemas."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    trigger_type, errors = _validate_trigger_type(doc, data, prefix="")
    problems += errors
    if trigger_type is not None:
        problems += reader.unique(doc, "trigger_type", trigger_type.ref)
    if problems or trigger_type is None:
        reader.reject(doc, "trigger_type", data.get("name"), problems)
        return
    reader.trigger_types[trigger_type.ref] = trigger_type


def _validate_trigger_type(doc: YamlDoc, data: dict[str, Any], prefix: str) -> tuple[TriggerType | None, list[Problem]]:
    """Validate a trigger type (a file, or an entry of a sensor's ``trigger_types`` at ``prefix``)."""
    data = {key: _draft4(value) if key in _SCHEMA_FIELDS else value for key, value in data.items()}
    trigger_type, problems = _validate(TriggerType, data, doc, prefix)
    for key in _SCHEMA_FIELDS:
        schema = data.get(key)
        if isinstance(schema, dict) and schema:
            try:
                jsonschema.Draft4Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                where = ".".join(str(part) for part in (prefix + key, *exc.relative_path) if part != "")
                problems.append(_problem(doc, where, f"not a valid JSON schema: {exc.message}"))
    return (trigger_type if not problems else None), problems


_SCHEMA_FIELDS: Final = ("payload_schema", "parameters_schema")


def _draft4(schema: Any) -> Any:
    """Rewrite StackStorm's draft-3 style ``required: true`` on properties into draft 4's ``required`` list."""
    if isinstance(schema, list):
        return [_draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    properties = schema.get("properties")
    flagged = [
        name
        for name, prop in (properties.items() if isinstance(properties, dict) else ())
        if isinstance(prop, dict) and prop.get("required") is True
    ]
    out = {key: _draft4(value) for key, value in schema.items() if not (key == "required" and isinstance(value, bool))}
    if flagged:
        existing = out.get("required")
        merged = list(existing) if isinstance(existing, list) else []
        out["required"] = merged + [name for name in flagged if name not in merged]
    return out


def _load_sensor(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """A sensor's metadata, its entry point, and the trigger types it declares (pack prefix added)."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    data["pack_path"] = str(reader.root)
    if isinstance(data.get("class_name"), str) and not data.get("name"):
        data["name"] = data["class_name"]
    sensor, errors = _validate(SensorMeta, data, doc)
    problems += errors
    trigger_types: list[TriggerType] = []
    if sensor is not None:
        reason = _missing_entry_point(reader.root, "sensors", sensor.entry_point, "a sensor")
        if reason:
            problems.append(_problem(doc, "entry_point", reason))
        for index, raw in enumerate(sensor.trigger_types):
            prefix = f"trigger_types.{index}."
            entry = dict(raw) | {"metadata_file": reader.relative(doc)}
            entry.setdefault("pack", reader.pack_name)
            if entry["pack"] != reader.pack_name:
                problems.append(_problem(doc, prefix + "pack", f"must be '{reader.pack_name}' or left out"))
                continue
            trigger_type, errors = _validate_trigger_type(doc, entry, prefix)
            problems += errors
            if trigger_type is not None:
                problems += reader.unique(doc, "trigger_type", trigger_type.ref, prefix + "name")
                trigger_types.append(trigger_type)
        problems += reader.unique(doc, "sensor", sensor.full_ref)
    if problems or sensor is None:
        reader.reject(doc, "sensor", data.get("name"), problems)
        for trigger_type in trigger_types:
            reader.rejected.setdefault(f"trigger_type:{trigger_type.ref}", str(doc.path))
        return
    reader.sensors[sensor.full_ref] = sensor
    reader.trigger_types.update((t.ref, t) for t in trigger_types)


def _load_policy(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """A policy: fields, then its parameters by the rules of its type (its action is checked by :func:`load_all`)."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    policy, errors = _validate(Policy, data, doc)
    problems += errors
    if policy is not None:
        params, errors = _validate(PARAMETER_MODELS[policy.policy_type], policy.parameters, doc, "parameters.")
        problems += errors
        if params is not None:
            policy = policy.model_copy(update={"parameters": params.model_dump()})
        problems += reader.unique(doc, "policy", policy.full_ref)
    if problems or policy is None:
        reader.reject(doc, "policy", data.get("name"), problems)
        return
    reader.policies[policy.full_ref] = policy
    reader.policy_files[policy.full_ref] = doc


def _policy_problems(
    policy: Policy, actions: Mapping[str, Action], rejected: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The policy's action exists and, for ``action.concurrency.attr``, has the parameters it names."""
    action = actions.get(policy.resource_ref)
    if action is None:
        hint = "point resource_ref at an action defined in a pack's actions/ folder"
        return [("resource_ref", _missing_ref("action", policy.resource_ref, actions, rejected, hint))]
    if policy.policy_type != PolicyType.CONCURRENCY_ATTR:
        return []
    runner = RUNNERS.get(action.runner_type)
    known = sorted(merge_parameters(dict(runner.parameters) if runner else {}, dict(action.parameters)))
    return [
        (
            f"parameters.attributes.{index}",
            f"action '{action.full_ref}' has no parameter '{name}'"
            + (_suggestion(name, known) or f"; its parameters are: {', '.join(known)}"),
        )
        for index, name in enumerate(policy.parameters.get("attributes", []))
        if name not in known
    ]


def _load_webhook(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """A webhook declaration: fields, a valid ``body_schema``, a url used once in the pack."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    data.setdefault("name", doc.path.stem)
    webhook, errors = _validate(Webhook, data, doc)
    problems += errors
    if webhook is not None:
        bad_schema = schema_problem(webhook.body_schema) if webhook.body_schema else None
        if bad_schema is not None:
            where, reason = bad_schema
            problems.append(_problem(doc, ".".join(p for p in ("body_schema", where) if p), reason))
        problems += reader.unique(doc, "webhook", webhook.full_ref)
        problems += reader.unique(doc, "webhook url", webhook.url, "url")
    if problems or webhook is None:
        reader.reject(doc, "webhook", data.get("name"), problems)
        return
    reader.webhooks[webhook.full_ref] = webhook
    reader.webhook_files[webhook.full_ref] = doc


def _load_alias(reader: _PackReader, doc: YamlDoc, data: dict[str, Any]) -> None:
    """An action alias: fields, at least one format, every format compiles (its action is checked by
    :func:`load_all`)."""
    problems = reader.claim(doc, data)
    data["metadata_file"] = reader.relative(doc)
    alias, errors = _validate(ActionAlias, data, doc)
    problems += errors
    if alias is not None:
        if not alias.representations():
            problems.append(_problem(doc, "formats", "an alias needs at least one format, like 'restart {{unit}}'"))
        for field, text in _format_fields(alias):
            try:
                compile_format(text)
            except FormatError as exc:
                problems.append(_problem(doc, field, f"format '{text}' does not compile: {exc}"))
        problems += reader.unique(doc, "alias", alias.full_ref)
    if problems or alias is None:
        reader.reject(doc, "alias", data.get("name"), problems)
        return
    reader.aliases[alias.full_ref] = alias
    reader.alias_files[alias.full_ref] = doc


def _format_fields(alias: ActionAlias) -> list[tuple[str, str]]:
    """Each format text of ``alias`` with its field path (``formats.0``, ``formats.1.representation.0``)."""
    out = []
    for index, item in enumerate(alias.formats):
        if isinstance(item, str):
            out.append((f"formats.{index}", item))
        elif item.representation:
            out += [(f"formats.{index}.representation.{i}", text) for i, text in enumerate(item.representation)]
        elif item.display:
            out.append((f"formats.{index}.display", item.display))
    return out


_FileLoader = Callable[[_PackReader, YamlDoc, dict[str, Any]], None]

#: Content folder -> how to load one of its YAML files (StackStorm's content types).
_FOLDER_LOADERS: Final[dict[str, _FileLoader]] = {
    "triggers": _load_trigger_type,
    "actions": _load_action,
    "sensors": _load_sensor,
    "rules": _load_rule,
    "policies": _load_policy,
    "webhooks": _load_webhook,
    "aliases": _load_alias,
}


# --- pydantic errors -> problems -------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _validate(
    model: type[_M], data: Mapping[str, Any], doc: YamlDoc, prefix: str = ""
) -> tuple[_M | None, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, _validation_problems(exc, doc, model, prefix)


def _validation_problems(exc: ValidationError, doc: YamlDoc, model: type[BaseModel], prefix: str = "") -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        field = prefix + ".".join(str(part) for part in error["loc"])
        message = _ERROR_MESSAGES.get(error["type"], _pydantic_message)(error, model)
        problems.append(_problem(doc, field, message))
    return problems


def _problem_order(problem: Problem) -> tuple[str, int]:
    """Problems are listed by file, then line (stable: same-line problems keep their order)."""
    return problem.path, problem.line or 0


def _problem(doc: YamlDoc, field: str, message: str) -> Problem:
    return Problem(path=str(doc.path), line=doc.line_of(field), field=field, message=message)


def _unknown_field(error: ErrorDetails, model: type[BaseModel]) -> str:
    *parent, name = error["loc"]
    known = _fields_at(model, parent)
    return "unknown field" + (_suggestion(str(name), known) or (f"; known fields: {', '.join(known)}" if known else ""))


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The field names of the (nested) model at ``loc`` inside ``model``, or ``[]``."""
    current = model
    for part in loc:
        info = current.model_fields.get(str(part))
        annotation = info.annotation if info is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)


def _missing(error: ErrorDetails, model: type[BaseModel]) -> str:
    return "required field is missing; add it"


def _custom(error: ErrorDetails, model: type[BaseModel]) -> str:
    return str(error.get("ctx", {}).get("error", error["msg"]))


def _pydantic_message(error: ErrorDetails, model: type[BaseModel]) -> str:
    expected = _EXPECTED.get(error["type"])
    if expected is not None:
        return f"must be {expected}, not {_describe(error['input'])}"
    message = error["msg"]
    return message[:1].lower() + message[1:]


#: pydantic error type -> what the value must be, in YAML words.
_EXPECTED: Final[dict[str, str]] = {
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
}


def _bound(error: ErrorDetails, name: str) -> str:
    """A numeric limit of a pydantic error, written as in YAML (``0``, not ``0.0``)."""
    return f"{error.get('ctx', {})[name]:g}"


#: pydantic error type -> message builder; anything else goes through :func:`_pydantic_message`.
_ERROR_MESSAGES: Final[dict[str, Callable[[ErrorDetails, type[BaseModel]], str]]] = {
    "extra_forbidden": _unknown_field,
    "missing": _missing,
    "value_error": _custom,
    "literal_error": lambda error, _model: f"must be {error['ctx']['expected']}, not {error['input']!r}",
    "greater_than_equal": lambda error, _model: f"must be at least {_bound(error, 'ge')}, not {error['input']!r}",
    "greater_than": lambda error, _model: f"must be more than {_bound(error, 'gt')}, not {error['input']!r}",
    "less_than_equal": lambda error, _model: f"must be at most {_bound(error, 'le')}, not {error['input']!r}",
    "too_short": lambda error, _model: "must not be empty",
}


#: Python type -> its name in YAML words (bool before int: a bool is an int to Python).
_YAML_KINDS: Final[tuple[tuple[type, str], ...]] = (
    (bool, "a boolean"),
    (dict, "a mapping"),
    (list, "a list"),
    (str, "a string"),
    (int, "a whole number"),
    (float, "a number"),
)


def _describe(value: Any) -> str:
    """What ``value`` is, in YAML words: 'a list', 'a string', 'empty (null)'."""
    if value is None:
        return "empty (null)"
    return next((words for kind, words in _YAML_KINDS if isinstance(value, kind)), type(value).__name__)


def _suggestion(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


# --- cross references ------------------------------------------------------------------------------


def validate_references(
    content: ContentSet,
    rule_files: Mapping[str, YamlDoc] | None = None,
    rejected: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Check every rule against the registry: trigger type, trigger parameters, action, action parameters.

    Args:
        content: The registry to check (its rules, and what they refer to).
        rule_files: Rule ref -> its parsed file, to give lines; a rule not in it is
            located by re-reading ``<pack path>/<metadata_file>`` when that exists.
        rejected: ``<kind>:<ref>`` -> file, for definitions that failed to load, so a
            reference to one says so instead of "unknown".
    """
    problems = []
    for ref in sorted(content.rules):
        rule = content.rules[ref]
        doc = (rule_files or {}).get(ref) or _locate(content, rule)
        problems += _rule_problems(rule, content, doc, rejected or {})
    for ref in sorted(content.actions):
        action = content.actions[ref]
        if action.runner_type == CHAIN_RUNNER:
            problems += _chain_task_problems(action, Path(action.pack_path), set(content.actions), rejected or {})
    return problems


def _chain_task_problems(
    action: Action, pack_folder: Path, known: set[str], rejected: Mapping[str, str]
) -> list[Problem]:
    """Every task of a chain refers to an action that exists (located in the chain file under ``pack_folder``)."""
    path = pack_folder / "actions" / action.entry_point
    try:
        doc = load_yaml(path)
        spec = parse_chain(doc)
    except PackLoadError:
        return []  # reported when the action was loaded
    hint = "define it in a pack's actions/ folder"
    return [
        _problem(
            doc,
            f"chain.{index}.ref",
            f"task '{task.name}': " + _missing_ref("action", task.ref, known, rejected, hint),
        )
        for index, task in enumerate(spec.chain)
        if task.ref not in known
    ]


def _locate(content: ContentSet, rule: Rule) -> YamlDoc:
    """The rule's file, re-read for line numbers; without lines when it cannot be read."""
    pack = content.packs.get(rule.pack)
    if pack is not None and pack.path and rule.metadata_file:
        path = Path(pack.path) / rule.metadata_file
        try:
            return load_yaml(path)
        except PackLoadError:
            return YamlDoc(path=path, data=None)
    return YamlDoc(path=Path(rule.metadata_file or rule.full_ref), data=None)


def _rule_problems(rule: Rule, content: ContentSet, doc: YamlDoc, rejected: Mapping[str, str]) -> list[Problem]:
    """Every cross-reference problem of one rule, located in its file."""
    return [
        _problem(doc, field, message)
        for check in (_trigger_problems, _action_problems)
        for field, message in check(rule, content, rejected)
    ]


def _missing_ref(kind: str, ref: str, known: Iterable[str], rejected: Mapping[str, str], hint: str) -> str:
    """Why ``ref`` resolves to nothing: it failed to load, it is misspelt, or it needs defining."""
    failed = rejected.get(f"{kind.replace(' ', '_')}:{ref}")
    if failed is not None:
        return f"{kind} '{ref}' failed to load; fix the problems reported for {failed}"
    close = difflib.get_close_matches(ref, list(known), n=1)
    return f"unknown {kind} '{ref}'; " + (f"did you mean '{close[0]}'?" if close else hint)


def _trigger_problems(rule: Rule, content: ContentSet, rejected: Mapping[str, str]) -> list[tuple[str, str]]:
    """The rule's trigger type exists and its trigger parameters fit the type's ``parameters_schema``."""
    ref = rule.trigger.type
    trigger_type = content.trigger_types.get(ref)
    if trigger_type is None:
        hint = "define it in a pack's triggers/ folder or a sensor's trigger_types"
        return [("trigger.type", _missing_ref("trigger type", ref, content.trigger_types, rejected, hint))]
    if ref in TIMER_TYPES:
        return _timer_problems(rule)
    if not trigger_type.parameters_schema:
        return []
    validator = jsonschema.Draft4Validator(trigger_type.parameters_schema)
    errors = sorted(validator.iter_errors(rule.trigger.parameters), key=lambda e: [str(p) for p in e.path])
    return [
        (
            ".".join(["trigger.parameters", *(str(part) for part in error.absolute_path)]),
            f"{error.message} (parameters of trigger type '{ref}')",
        )
        for error in errors
    ]


def _timer_problems(rule: Rule) -> list[tuple[str, str]]:
    """A timer's parameters make a schedule (cron fields and expression, interval, time zone, date).

    These checks replace the JSON schema check: they cover it and say more (a field's range, a
    misspelt parameter, an unknown time zone).
    """
    ref = rule.trigger.type
    return [
        (
            f"trigger.parameters.{error.parameter}" if error.parameter else "trigger.parameters",
            f"{error.reason} (rule '{rule.full_ref}', trigger type '{ref}')",
        )
        for error in schedule_problems(ref, rule.trigger.parameters)
    ]


def _action_problems(rule: Rule, content: ContentSet, rejected: Mapping[str, str]) -> list[tuple[str, str]]:
    """The rule's action exists, and its parameters are the action's (or its runner's) and fit them.

    Values holding templates are only known after rendering, so only their names are checked.
    """
    ref = rule.action.ref
    action = content.actions.get(ref)
    if action is None:
        hint = "define it in a pack's actions/ folder"
        return [("action.ref", _missing_ref("action", ref, content.actions, rejected, hint))]
    runner = RUNNERS.get(action.runner_type)
    specs = merge_parameters(dict(runner.parameters) if runner else {}, dict(action.parameters))
    problems = []
    for name, value in rule.action.parameters.items():
        field = f"action.parameters.{name}"
        spec = specs.get(name)
        if spec is None:
            known = sorted(specs)
            hint = _suggestion(name, known) or (f"; its parameters are: {', '.join(known)}" if known else "")
            problems.append((field, f"action '{ref}' has no parameter '{name}'{hint}"))
        elif spec.immutable and value != spec.default:
            problems.append((field, f"parameter '{name}' of action '{ref}' is immutable; remove it from the rule"))
        elif value is not None and not _has_template(value):
            try:
                validate_parameters({name: spec}, {name: cast_value(name, spec, value)}, action_ref=ref)
            except ParameterError as exc:
                problems.append((field, str(exc)))
    missing = sorted(
        name
        for name, spec in specs.items()
        if spec.required and not spec.has_default and rule.action.parameters.get(name) is None
    )
    problems += [
        ("action.parameters", f"required parameter '{name}' of action '{ref}' has no default; set it here")
        for name in missing
    ]
    return problems


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return has_template(value)


# --- everything ------------------------------------------------------------------------------------


def load_all(sources: Iterable[PackSource], base: ContentSet | None = None) -> LoadReport:
    """Load every source, check references, and keep only valid definitions.

    A pack whose ``pack.yaml`` is broken, or whose name another source already
    used, is left out entirely; a file with problems is left out; a rule whose
    references fail is left out. Everything else is in ``content``.

    Args:
        sources: The packs to load (see :func:`discover`).
        base: Content already registered; references to its packs resolve (the
            loaded packs replace its packs of the same name).
    """
    problems: list[Problem] = []
    notes: list[str] = []
    kept: dict[str, PackLoad] = {}
    rejected: dict[str, str] = {}
    rule_files: dict[str, YamlDoc] = {}
    policy_files: dict[str, YamlDoc] = {}
    webhook_files: dict[str, YamlDoc] = {}
    alias_files: dict[str, YamlDoc] = {}
    for source in sources:
        load = load_pack(source)
        problems += load.problems
        notes += load.notes
        rejected.update(load.rejected)
        if load.pack is None:
            continue
        first = kept.get(load.pack.ref)
        if first is not None:
            problems.append(_duplicate_pack(load, first))
            continue
        kept[load.pack.ref] = load
        rule_files.update(load.rule_files)
        policy_files.update(load.policy_files)
        webhook_files.update(load.webhook_files)
        alias_files.update(load.alias_files)
    loads = list(kept.values())
    actions = [a for load in loads for a in load.actions]
    every_action = {a.full_ref for a in actions} | set(base.actions if base is not None else ())
    for action in [a for a in actions if a.runner_type == CHAIN_RUNNER]:
        folder = kept[action.pack].source.path if action.pack in kept else Path(action.pack_path)
        chain_problems = _chain_task_problems(action, folder, every_action, rejected)
        if chain_problems:  # a chain whose tasks cannot run is left out, like a rule whose action is missing
            problems += chain_problems
            actions.remove(action)
            rejected[f"action:{action.full_ref}"] = chain_problems[0].path
    content = ContentSet(
        packs=[load.pack for load in loads if load.pack is not None],
        actions=actions,
        rules=[r for load in loads for r in load.rules],
        trigger_types=[t for load in loads for t in load.trigger_types],
        sensors=[s for load in loads for s in load.sensors],
    )
    scope = base.with_packs(content) if base is not None else content
    good_rules = []
    for ref in sorted(content.rules):
        rule = content.rules[ref]
        rule_problems = _rule_problems(rule, scope, rule_files[ref], rejected)
        problems += rule_problems
        if not rule_problems:
            good_rules.append(rule)
    good_policies = []
    for load in loads:
        for policy in load.policies:
            policy_problems = [
                _problem(policy_files[policy.full_ref], field, message)
                for field, message in _policy_problems(policy, scope.actions, rejected)
            ]
            problems += policy_problems
            if not policy_problems:
                good_policies.append(policy)
    good_webhooks, webhook_problems = _unique_urls(
        [w for load in loads for w in load.webhooks], base, set(kept), webhook_files
    )
    problems += webhook_problems
    good_aliases = []
    for load in loads:
        for alias in load.aliases:
            if alias.action_ref in scope.actions:
                good_aliases.append(alias)
                continue
            hint = "point action_ref at an action defined in a pack's actions/ folder"
            message = _missing_ref("action", alias.action_ref, scope.actions, rejected, hint)
            problems.append(_problem(alias_files[alias.full_ref], "action_ref", message))
    valid = ContentSet(
        packs=content.packs.values(),
        actions=content.actions.values(),
        rules=good_rules,
        trigger_types=[t for ref, t in content.trigger_types.items() if ref not in _BUILTIN_TRIGGER_REFS],
        sensors=content.sensors.values(),
        policies=good_policies,
        webhooks=good_webhooks,
        aliases=good_aliases,
    )
    problems.sort(key=_problem_order)
    return LoadReport(content=valid, problems=problems, notes=notes)


def _unique_urls(
    webhooks: list[Webhook], base: ContentSet | None, loaded: set[str], files: Mapping[str, YamlDoc]
) -> tuple[list[Webhook], list[Problem]]:
    """Each url declared by one webhook only (across packs, and against registered packs not reloaded)."""
    owner = {w.url: w.full_ref for w in (base.webhooks.values() if base is not None else ()) if w.pack not in loaded}
    good, problems = [], []
    for webhook in sorted(webhooks, key=lambda w: w.full_ref):
        first = owner.setdefault(webhook.url, webhook.full_ref)
        if first != webhook.full_ref:
            message = f"url '{webhook.url}' is already declared by webhook '{first}'; declare each url once"
            problems.append(_problem(files[webhook.full_ref], "url", message))
        else:
            good.append(webhook)
    return good, problems


def _duplicate_pack(load: PackLoad, first: PackLoad) -> Problem:
    assert load.pack is not None  # only called for loaded packs
    path = load.source.path / "pack.yaml"
    where = first.source.path
    message = f"pack '{load.pack.ref}' is already loaded from {where}; this copy is ignored, rename one of them"
    if load.source.site:
        return Problem(path=str(load.source.path), message=message)
    try:
        doc = load_yaml(path)
    except PackLoadError:
        return Problem(path=str(path), message=message)
    field = "ref" if isinstance(doc.data, dict) and "ref" in doc.data else "name"
    return _problem(doc, field, message)
