"""Loading packs from disk: YAML with lines, discovery, per-file validation, cross references."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from st2lite.content import ContentSet
from st2lite.exceptions import PackLoadError
from st2lite.packs import (
    PackLoad,
    PackSource,
    Problem,
    discover,
    load_all,
    load_pack,
    validate_references,
)
from st2lite.yamlfile import load_yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "packs"

PACK_YAML = "name: {name}\ndescription: test pack\nversion: 0.1.0\nauthor: tests\n"


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in the fixtures folder, so problem paths are short and exact."""
    monkeypatch.chdir(FIXTURES)
    return FIXTURES


@pytest.fixture
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_pack(name: str, files: dict[str, str], pack_yaml: str | None = None) -> PackSource:
    """Create ``./<name>`` (relative to the current folder) with a pack.yaml and ``files``."""
    folder = Path(name)
    folder.mkdir()
    (folder / "pack.yaml").write_text(PACK_YAML.format(name=name) if pack_yaml is None else pack_yaml)
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return PackSource(path=folder)


def messages(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


ECHO_ACTION = """
    name: echo
    runner_type: local-shell-cmd
    parameters:
      message:
        type: string
        required: true
      count:
        type: integer
        default: 1
      cmd:
        default: "echo {{ message }}"
        immutable: true
"""


def rule_yaml(action: str = "p.echo", trigger: str = "core.st2.webhook", extra: str = "") -> str:
    return (
        "name: r\n"
        "enabled: true\n"
        "trigger:\n"
        f"  type: {trigger}\n"
        "  parameters:\n"
        "    url: hook\n"
        "action:\n"
        f"  ref: {action}\n"
        "  parameters:\n"
        "    message: hi\n" + extra
    )


# --- yamlfile --------------------------------------------------------------------------------------


def test_load_yaml_records_the_line_of_every_field(tmp_path: Path) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text(
        "name: r\n"
        "criteria:\n"
        "  trigger.body.name:\n"
        "    type: equals\n"
        "    pattern: st2\n"
        "tags:\n"
        "  - name: team\n"
        "    value: sre\n"
    )
    doc = load_yaml(path)
    assert doc.data["criteria"] == {"trigger.body.name": {"type": "equals", "pattern": "st2"}}
    assert doc.lines["criteria.trigger.body.name.type"] == 4
    assert doc.lines["criteria.trigger.body.name.pattern"] == 5
    assert doc.lines["tags.0.value"] == 8
    # A missing field is located at its nearest enclosing field.
    assert doc.line_of("criteria.trigger.body.name.condition") == 3
    assert doc.line_of("action.ref") == 1


def test_load_yaml_points_merged_keys_at_the_key_in_effect(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b\n  x: 1\n  y: 2\nm:\n  <<: *b\n  y: 3\n")
    doc = load_yaml(path)
    assert doc.data["m"] == {"x": 1, "y": 3}
    assert doc.lines["m.x"] == 2
    assert doc.lines["m.y"] == 6


def test_load_yaml_empty_file_has_no_data(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    assert load_yaml(path).data is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: 1\n  b: 2\n",
            "{path}:2: invalid YAML: mapping values are not allowed here; "
            "check the indentation and quoting on this line and the one above",
        ),
        (
            "a: [1,\nb: 2\n",
            "{path}:3: invalid YAML: expected ',' or ']', but got the end of the file "
            "(in a flow sequence starting on line 1); check the indentation and quoting on this line "
            "and the one above",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "{path}:2: invalid YAML: expected a single document in the stream, but found another document; "
            "keep one definition per file, without '---' separators",
        ),
        (
            "a: !!python/object/apply:os.system [ls]\n",
            "{path}:1: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'; only plain YAML is allowed "
            "(no '!!python' or other tags)",
        ),
        (
            "a: 1\nb: 2\na: 3\n",
            "{path}:3: key 'a' appears twice in one mapping (first on line 1); "
            "YAML keeps only the last one, so remove or rename one of them",
        ),
    ],
    ids=["indentation", "unclosed", "two-documents", "python-tag", "duplicate-key"],
)
def test_load_yaml_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PackLoadError) as info:
        load_yaml(path)
    assert str(info.value) == message.format(path=path)
    assert info.value.path == str(path)


def test_load_yaml_rejects_non_utf8_and_missing_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(PackLoadError, match="latin.yaml: the file is not UTF-8 text; save it as UTF-8$"):
        load_yaml(latin)
    with pytest.raises(PackLoadError, match="nope.yaml: cannot read the file: No such file or directory$"):
        load_yaml(tmp_path / "nope.yaml")


# --- Problem ---------------------------------------------------------------------------------------


def test_problem_str_names_path_line_and_field() -> None:
    assert str(Problem(path="rules/x.yaml", line=5, field="critera", message="unknown field")) == (
        "rules/x.yaml:5: field 'critera': unknown field"
    )
    assert str(Problem(path="rules/x.yaml", message="the file is empty")) == "rules/x.yaml: the file is empty"


# --- discover --------------------------------------------------------------------------------------


def test_discover_finds_packs_folders_of_packs_and_the_site_pack(in_fixtures: Path) -> None:
    sources = discover([Path("examples"), Path("."), Path("broken/pack.yaml")], site_dir=Path("site"))
    assert sources == [
        PackSource(path=Path("examples")),
        PackSource(path=Path("broken")),
        PackSource(path=Path("site"), site=True),
    ]


def test_discover_skips_a_site_without_content(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    assert discover([], site_dir=tmp_path) == []


def test_discover_rejects_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PackLoadError) as info:
        discover([tmp_path / "nope"], None)
    assert str(info.value) == (
        f"{tmp_path / 'nope'}: does not exist; give a pack folder (one with a pack.yaml) or a folder of packs"
    )


# --- the fixture packs -----------------------------------------------------------------------------


def test_examples_pack_loads_every_definition(in_fixtures: Path) -> None:
    load = load_pack(PackSource(path=Path("examples")))
    assert load.problems == []
    assert load.pack is not None
    assert load.pack.path == str(in_fixtures / "examples")
    assert load.pack.python_versions == ["3"]
    actions = {a.full_ref: a for a in load.actions}
    # actions/workflows/deploy.yaml is an entry point, not action metadata.
    assert sorted(actions) == ["examples.backup", "examples.deploy_chain", "examples.greet", "examples.hello"]
    assert actions["examples.greet"].pack_path == str(in_fixtures / "examples")
    assert actions["examples.greet"].metadata_file == "actions/greet.yaml"
    assert sorted(r.full_ref for r in load.rules) == [
        "examples.backstop",
        "examples.search_alerts",
        "examples.webhook_st2",
    ]
    trigger_types = {t.ref: t for t in load.trigger_types}
    assert sorted(trigger_types) == ["examples.alert", "examples.queue_depth_high"]
    # StackStorm's draft-3 style `required: true` becomes draft 4's list.
    assert sorted(a.full_ref for a in load.aliases) == ["examples.greet", "examples.hello"]
    assert trigger_types["examples.alert"].parameters_schema == {
        "type": "object",
        "properties": {"source": {"type": "string"}},
        "required": ["source"],
    }
    assert trigger_types["examples.queue_depth_high"].metadata_file == "sensors/queue_depth.yaml"
    [sensor] = load.sensors
    assert (sensor.full_ref, sensor.entry_point, sensor.poll_interval) == (
        "examples.QueueDepthSensor",
        "queue_depth.py",
        30,
    )
    assert sensor.trigger_type_refs == ["examples.queue_depth_high"]
    [policy] = load.policies
    assert (policy.full_ref, policy.resource_ref, policy.policy_type) == (
        "examples.greet.retry",
        "examples.greet",
        "action.retry",
    )
    assert policy.parameters == {"retry_on": "failure", "max_retry_count": 2, "delay": 0}
    assert load.notes == []


BROKEN_PROBLEMS = [
    "broken/actions/bad_runner.yaml:2: field 'runner_type': unknown runner type 'local-shell-cmdd'; "
    "did you mean 'local-shell-cmd'?",
    "broken/actions/missing_script.yaml:4: field 'entry_point': 'actions/scripts/missing.sh' does not exist; "
    "create it or correct the entry_point",
    "broken/rules/bad_runner_rule.yaml:8: field 'action.ref': action 'broken.bad_runner' failed to load; "
    "fix the problems reported for broken/actions/bad_runner.yaml",
    "broken/rules/bad_yaml.yaml:4: invalid YAML: mapping values are not allowed here; "
    "check the indentation and quoting on this line and the one above",
    "broken/rules/misspelt.yaml:5: field 'critera': unknown field; did you mean 'criteria'?",
    "broken/rules/unknown_action.yaml:8: field 'action.ref': unknown action 'broken.ecko'; did you mean 'broken.echo'?",
]


def test_broken_pack_reports_every_problem_and_keeps_the_good_content(in_fixtures: Path) -> None:
    report = load_all(discover([Path("broken")]))
    found = messages(report.problems)
    operator_problem = found.pop(-1)
    assert found == BROKEN_PROBLEMS
    assert operator_problem.startswith(
        "broken/rules/unknown_operator.yaml:11: field 'criteria.trigger.body.count': "
        "unknown operator 'greater_than' (did you mean 'greaterthan'?); use one of: "
    )
    assert sorted(report.content.rules) == ["broken.good"]
    assert sorted(report.content.actions) == ["broken.echo"]
    assert report.content.rule("broken.good").action.parameters == {"message": "hello {{ trigger.body.name }}"}


def test_all_fixture_packs_load_together(in_fixtures: Path) -> None:
    report = load_all(discover([Path(".")], site_dir=Path("site")))
    assert len(report.problems) == len(BROKEN_PROBLEMS) + 1
    content = report.content
    assert sorted(content.packs) == ["broken", "default", "examples"]
    assert content.pack("default").path == str(in_fixtures / "site")
    assert content.action("default.site_echo").pack_path == str(in_fixtures / "site")
    assert [r.full_ref for r in content.enabled_rules()] == [
        "broken.good",
        "default.site_timer",
        "examples.backstop",
        "examples.webhook_st2",
    ]
    assert content.rule("examples.backstop").type.ref == "backstop"
    assert content.rule("examples.search_alerts").criteria["trigger.alerts"]["condition"] == "any"
    assert "examples.QueueDepthSensor" in content.sensors


# --- pack.yaml -------------------------------------------------------------------------------------


def test_pack_yaml_problems_keep_the_pack_out_but_check_its_files(in_tmp: Path) -> None:
    source = write_pack("p", {"rules/r.yaml": "name: r\n"}, pack_yaml="name: p\nversion: 1.x\n")
    load = load_pack(source)
    assert load.pack is None
    assert messages(load.problems) == [
        "p/pack.yaml:1: field 'description': required field is missing; add it",
        "p/pack.yaml:1: field 'author': required field is missing; add it",
        "p/pack.yaml:2: field 'version': '1.x' is not a semantic version; write it like 0.1.0",
        "p/rules/r.yaml:1: field 'trigger': required field is missing; add it",
        "p/rules/r.yaml:1: field 'action': required field is missing; add it",
    ]


@pytest.mark.parametrize(
    ("pack_yaml", "message"),
    [
        (
            "name: My Pack\n",
            "p/pack.yaml:1: field 'ref': the pack name 'My Pack' is not a valid ref, so a 'ref' is needed; "
            "add 'ref:' with only lowercase letters, digits and _",
        ),
        (
            "name: x\nref: My-Pack\n",
            "p/pack.yaml:2: field 'ref': 'My-Pack' is not a valid pack ref; use only lowercase letters, digits and _",
        ),
        ("name: packs\n", "p/pack.yaml:1: field 'name': the pack name 'packs' is reserved; choose another"),
        ("name: x\nref: _global\n", "p/pack.yaml:2: field 'ref': the pack name '_global' is reserved; choose another"),
        (
            "name: core\n",
            "p/pack.yaml:1: field 'name': the pack name 'core' is reserved for st2lite's built-in core pack; "
            "choose another",
        ),
    ],
)
def test_pack_names_and_refs_are_checked(in_tmp: Path, pack_yaml: str, message: str) -> None:
    source = write_pack("p", {}, pack_yaml=pack_yaml + "description: d\nversion: 0.1.0\nauthor: a\n")
    load = load_pack(source)
    assert load.pack is None
    assert messages(load.problems) == [message]


def test_only_the_builtin_source_may_be_the_core_pack(in_tmp: Path) -> None:
    write_pack("p", {"actions/a.yaml": "name: a\nrunner_type: noop\n"}, pack_yaml=PACK_YAML.format(name="core"))
    load = load_pack(PackSource(path=Path("p"), builtin=True))
    assert load.problems == []
    assert [a.full_ref for a in load.actions] == ["core.a"]


def test_pack_yaml_versions_unknown_fields_and_refs(in_tmp: Path) -> None:
    source = write_pack(
        "p", {}, pack_yaml="name: My Pack\nref: my_pack\ndescription: d\nversion: 0.1\nauthor: a\nautor: b\n"
    )
    load = load_pack(source)
    assert load.problems == []
    assert load.pack is not None
    assert (load.pack.name, load.pack.ref, load.pack.version) == ("My Pack", "my_pack", "0.1.0")
    assert load.notes == [
        "p/pack.yaml:6: field 'autor' is not a pack.yaml field and is ignored; did you mean 'author'?"
    ]


# --- per-file checks -------------------------------------------------------------------------------


def test_file_problems(in_tmp: Path) -> None:
    source = write_pack(
        "p",
        {
            "actions/empty.yaml": "# nothing yet\n",
            "actions/list.yaml": "- name: a\n",
            "actions/other_pack.yaml": "name: x\npack: q\nrunner_type: noop\n",
            "actions/bad_param.yaml": "name: bad_param\nrunner_type: noop\nparameters:\n  my-param: {}\n",
            "actions/escape.yaml": "name: escape\nrunner_type: local-shell-script\nentry_point: ../../etc/passwd\n",
            "actions/no_entry.yaml": "name: no_entry\nrunner_type: python-script\n",
            "actions/retype.yaml": "name: retype\nrunner_type: local-shell-cmd\nparameters:\n  timeout:\n"
            "    type: string\n    default: '30'\n",
            "actions/wrong_type.yaml": "name: wrong_type\nrunner_type: noop\nenabled: maybe\n",
            "rules/params_list.yaml": rule_yaml().replace("    message: hi\n", "    - message\n"),
            "rules/bad_type.yaml": rule_yaml().replace("name: r\n", "name: bad_type\ntype:\n  ref: first\n"),
        },
    )
    assert messages(load_pack(source).problems) == [
        "p/actions/bad_param.yaml:4: field 'parameters.my-param': parameter name 'my-param' may only use "
        "letters, digits and _",
        "p/actions/empty.yaml:1: the file is empty; write the definition's fields in it, or delete it",
        "p/actions/escape.yaml:3: field 'entry_point': entry_point '../../etc/passwd' must be a path inside "
        "the pack's actions/ folder",
        "p/actions/list.yaml:1: the file must hold a mapping of fields (name: value), not a list",
        "p/actions/no_entry.yaml:1: field 'entry_point': python-script needs an entry_point: the file to run, "
        "relative to the pack's actions/ folder",
        "p/actions/other_pack.yaml:2: field 'pack': this file is in pack 'p' but says pack 'q'; "
        "remove the 'pack' field or set it to 'p'",
        "p/actions/retype.yaml:5: field 'parameters.timeout.type': 'timeout' is a parameter of runner "
        "'local-shell-cmd', whose 'type' is 'integer'; an action may only change its default, description, "
        "enum, immutable, required",
        "p/actions/wrong_type.yaml:3: field 'enabled': must be true or false, not a string",
        "p/rules/bad_type.yaml:3: field 'type.ref': must be 'standard' or 'backstop', not 'first'",
        "p/rules/params_list.yaml:9: field 'action.parameters': must be a mapping, not a list",
    ]


def test_a_broken_file_never_stops_the_others(in_tmp: Path) -> None:
    source = write_pack(
        "p",
        {
            "actions/echo.yaml": ECHO_ACTION,
            "actions/broken.yaml": "name: [\n",
            "rules/a_bad.yaml": "name: a_bad\ncritera: {}\n",
            "rules/b_good.yaml": rule_yaml(),
        },
    )
    report = load_all([source])
    assert len(report.problems) == 4
    assert sorted(report.content.actions) == ["p.echo"]
    assert sorted(report.content.rules) == ["p.r"]


def test_duplicate_names_in_a_pack(in_tmp: Path) -> None:
    source = write_pack(
        "p",
        {
            "actions/a.yaml": "name: same\nrunner_type: noop\n",
            "actions/b.yml": "name: same\nrunner_type: noop\n",
            "triggers/t.yaml": "name: st2.webhook\npack: core\n",
        },
        pack_yaml=PACK_YAML.format(name="core"),
    )
    load = load_pack(PackSource(path=source.path, builtin=True))
    assert messages(load.problems) == [
        "p/actions/b.yml:1: field 'name': action 'core.same' is already defined in p/actions/a.yaml; "
        "give each one a unique name",
        "p/triggers/t.yaml:1: field 'name': trigger type 'core.st2.webhook' is built in; give yours another name",
    ]
    assert [a.metadata_file for a in load.actions] == ["actions/a.yaml"]


def test_duplicate_packs_keep_the_first(in_tmp: Path) -> None:
    first = write_pack("one", {}, pack_yaml=PACK_YAML.format(name="same"))
    second = write_pack("two", {"actions/a.yaml": "name: a\nrunner_type: noop\n"}, PACK_YAML.format(name="same"))
    report = load_all([first, second])
    assert messages(report.problems) == [
        "two/pack.yaml:1: field 'name': pack 'same' is already loaded from one; this copy is ignored, "
        "rename one of them"
    ]
    assert report.content.pack("same").path == str(in_tmp / "one")
    assert dict(report.content.actions) == {}


def test_trigger_type_and_sensor_problems(in_tmp: Path) -> None:
    source = write_pack(
        "p",
        {
            "triggers/bad_schema.yaml": "name: bad_schema\npayload_schema:\n  type: nonsense\n",
            "sensors/no_entry.yaml": "class_name: NoEntry\n",
            "sensors/missing.yaml": "class_name: Missing\nentry_point: missing.py\ntrigger_types:\n"
            "  - name: t\n    pack: q\n  - name: u\n    descripton: typo\n",
        },
    )
    assert messages(load_pack(source).problems) == [
        "p/sensors/missing.yaml:2: field 'entry_point': 'sensors/missing.py' does not exist; "
        "create it or correct the entry_point",
        "p/sensors/missing.yaml:5: field 'trigger_types.0.pack': must be 'p' or left out",
        "p/sensors/missing.yaml:7: field 'trigger_types.1.descripton': unknown field; did you mean 'description'?",
        "p/sensors/no_entry.yaml:1: field 'entry_point': a sensor needs an entry_point: the file to run, "
        "relative to the pack's sensors/ folder",
        "p/triggers/bad_schema.yaml:3: field 'payload_schema.type': not a valid JSON schema: "
        "'nonsense' is not valid under any of the given schemas",
    ]


# --- cross references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            rule_yaml(trigger="core.st2.webhok"),
            [
                "p/rules/r.yaml:4: field 'trigger.type': unknown trigger type 'core.st2.webhok'; "
                "did you mean 'core.st2.webhook'?"
            ],
        ),
        (
            rule_yaml(trigger="p.nothing_like_it"),
            [
                "p/rules/r.yaml:4: field 'trigger.type': unknown trigger type 'p.nothing_like_it'; "
                "define it in a pack's triggers/ folder or a sensor's trigger_types"
            ],
        ),
        (
            rule_yaml().replace("    url: hook\n", "    path: hook\n"),
            [
                "p/rules/r.yaml:5: field 'trigger.parameters': 'url' is a required property "
                "(parameters of trigger type 'core.st2.webhook')",
                "p/rules/r.yaml:5: field 'trigger.parameters': Additional properties are not allowed "
                "('path' was unexpected) (parameters of trigger type 'core.st2.webhook')",
            ],
        ),
        (
            rule_yaml(action="q.echo"),
            ["p/rules/r.yaml:8: field 'action.ref': unknown action 'q.echo'; did you mean 'p.echo'?"],
        ),
        (
            rule_yaml(extra="    mesage: typo\n"),
            [
                "p/rules/r.yaml:11: field 'action.parameters.mesage': action 'p.echo' has no parameter 'mesage'; "
                "did you mean 'message'?"
            ],
        ),
        (
            rule_yaml(extra="    cmd: rm -rf /\n"),
            [
                "p/rules/r.yaml:11: field 'action.parameters.cmd': parameter 'cmd' of action 'p.echo' is immutable; "
                "remove it from the rule"
            ],
        ),
        (
            rule_yaml(extra="    count: many\n"),
            ["p/rules/r.yaml:11: field 'action.parameters.count': parameter 'count' expects integer, got 'many'"],
        ),
        (
            rule_yaml().replace("    message: hi\n", "    count: 2\n"),
            [
                "p/rules/r.yaml:9: field 'action.parameters': required parameter 'message' of action 'p.echo' "
                "has no default; set it here"
            ],
        ),
        # Templates are only known after rendering; a cast-able literal is fine.
        (rule_yaml(extra="    count: '{{ trigger.body.n }}'\n    timeout: '30'\n"), []),
    ],
    ids=[
        "trigger-typo",
        "trigger-unknown",
        "trigger-parameters",
        "action-unknown",
        "parameter-unknown",
        "parameter-immutable",
        "parameter-type",
        "parameter-required",
        "parameters-ok",
    ],
)
def test_rule_references(in_tmp: Path, rule: str, expected: list[str]) -> None:
    source = write_pack("p", {"actions/echo.yaml": ECHO_ACTION, "rules/r.yaml": rule})
    report = load_all([source])
    assert messages(report.problems) == expected
    assert sorted(report.content.rules) == ([] if expected else ["p.r"])
    assert sorted(report.content.actions) == ["p.echo"]


def test_references_resolve_against_already_registered_content(in_tmp: Path) -> None:
    registered = load_all([write_pack("lib", {"actions/echo.yaml": ECHO_ACTION})]).content
    source = write_pack("p", {"rules/r.yaml": rule_yaml(action="lib.echo")})
    assert messages(load_all([source]).problems) == [
        "p/rules/r.yaml:8: field 'action.ref': unknown action 'lib.echo'; define it in a pack's actions/ folder"
    ]
    report = load_all([source], base=registered)
    assert report.problems == []
    assert sorted(report.content.packs) == ["p"]


def test_validate_references_on_a_registry_rereads_rule_lines(in_tmp: Path) -> None:
    source = write_pack("p", {"actions/echo.yaml": ECHO_ACTION, "rules/r.yaml": rule_yaml()})
    content = load_all([source]).content
    without_action = ContentSet.from_json({k: v for k, v in content.to_json().items() if not k.startswith("action:")})
    assert messages(validate_references(without_action)) == [
        f"{in_tmp / 'p/rules/r.yaml'}:8: field 'action.ref': unknown action 'p.echo'; "
        "define it in a pack's actions/ folder"
    ]
    assert validate_references(content) == []


def test_pack_load_is_immutable(in_fixtures: Path) -> None:
    load = load_pack(PackSource(path=Path("examples")))
    assert isinstance(load, PackLoad)
    with pytest.raises(ValueError, match="frozen"):
        load.pack = None


def test_chain_problems_name_the_chain_file_the_line_and_the_task(in_tmp: Path) -> None:
    chain = "name: {name}\nrunner_type: action-chain\nentry_point: chains/{name}.yaml\n"
    source = write_pack(
        "p",
        {
            "actions/echo.yaml": ECHO_ACTION,
            "actions/deploy.yaml": chain.format(name="deploy"),
            "actions/chains/deploy.yaml": "chain:\n  - name: one\n    ref: p.echo\n    on-success: two\n"
            "  - name: two\n    ref: p.ecko\n",
            "actions/bad.yaml": chain.format(name="bad"),
            "actions/chains/bad.yaml": "chain:\n  - name: one\n    ref: p.echo\n    on-success: nowhere\n",
            "actions/good.yaml": chain.format(name="good"),
            "actions/chains/good.yaml": "chain:\n  - name: one\n    ref: p.echo\n",
            "rules/r.yaml": rule_yaml(action="p.deploy"),
        },
    )
    report = load_all([source])
    assert messages(report.problems) == [
        "p/actions/chains/bad.yaml:4: field 'chain.0.on-success': task 'one': on-success target 'nowhere' is not "
        "a task of this chain; tasks: one",
        "p/actions/chains/deploy.yaml:6: field 'chain.1.ref': task 'two': unknown action 'p.ecko'; "
        "did you mean 'p.echo'?",
        "p/rules/r.yaml:8: field 'action.ref': action 'p.deploy' failed to load; fix the problems reported for "
        "p/actions/chains/deploy.yaml",
    ]
    assert sorted(report.content.actions) == ["p.echo", "p.good"]
    assert report.content.rules == {}
