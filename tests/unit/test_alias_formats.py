"""Alias formats compiled to regexes, and commands matched to aliases (pure, no I/O)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from st2lite.aliases import ActionAlias, AliasMatchError, FormatError, compile_format, match_alias, match_command


def parse(format_text: str, command: str) -> dict[str, Any] | None:
    found = compile_format(format_text).match(command)
    return None if found is None else found[0]


@pytest.mark.parametrize(
    ("format_text", "command", "expected"),
    [
        # bare words; the last placeholder takes the rest of the text
        ("restart {{unit}}", "restart nginx", {"unit": "nginx"}),
        ("run {{cmd}}", "run ls -la /tmp", {"cmd": "ls -la /tmp"}),
        # a placeholder in the middle stops at the next literal text
        ("run {{cmd}} on {{hosts}}", "run ls -la on web1,web2", {"cmd": "ls -la", "hosts": "web1,web2"}),
        # quotes: double, single, escaped quotes inside, quotes around text holding the literal word
        ("say {{msg}}", 'say "hello there"', {"msg": "hello there"}),
        ("say {{msg}}", "say 'it is \\'fine\\''", {"msg": "it is 'fine'"}),
        ("say {{msg}}", 'say "a \\"b\\" c"', {"msg": 'a "b" c'}),
        ("run {{cmd}} on {{hosts}}", 'run "echo on off" on h1', {"cmd": "echo on off", "hosts": "h1"}),
        ("say {{msg}}", "say it's fine", {"msg": "it's fine"}),
        # json, also nested and in the middle
        (
            "create {{obj}} in {{where}}",
            'create {"a": {"b": [1, 2]}} in x',
            {"obj": '{"a": {"b": [1, 2]}}', "where": "x"},
        ),
        ("set {{data}}", 'set {"k": "v w"}', {"data": '{"k": "v w"}'}),
        # defaults: the optional part is left out with the literal text before it
        ("restart {{unit}} dry {{dry_run=true}}", "restart nginx", {"unit": "nginx", "dry_run": "true"}),
        ("restart {{unit}} dry {{dry_run=true}}", "restart nginx dry false", {"unit": "nginx", "dry_run": "false"}),
        ("restart {{unit}} dry {{dry_run=true}} now", "restart nginx now", {"unit": "nginx", "dry_run": "true"}),
        ("deploy {{env=prod}}", "deploy", {"env": "prod"}),
        ("deploy {{env=prod}}", "deploy staging", {"env": "staging"}),
        ("deploy {{env=prod}}", "deploy env=staging", {"env": "staging"}),
        ("show {{n=10}} lines", "show lines", {"n": "10"}),
        ('say {{msg="hello world"}}', "say", {"msg": "hello world"}),
        ("deploy {{app}} {{env=prod}}", "deploy web", {"app": "web", "env": "prod"}),
        ("deploy {{app}} {{env=prod}}", "deploy web staging", {"app": "web", "env": "staging"}),
        # trailing key=value pairs, quoted values too
        (
            "run {{cmd}} on {{hosts}}",
            "run ls on h1 timeout=5 cwd='/a b' env=\"x y\"",
            {"cmd": "ls", "hosts": "h1", "timeout": "5", "cwd": "/a b", "env": "x y"},
        ),
        ("run {{cmd}}", "run uptime sudo=true", {"cmd": "uptime", "sudo": "true"}),
        ("restart {{unit}} dry {{dry_run=true}}", "restart nginx dry_run=false", {"unit": "nginx", "dry_run": "false"}),
        # a lone key=value is the required value itself
        ("run {{cmd}}", "run a=b", {"cmd": "a=b"}),
        # whitespace-tolerant: runs of spaces, tabs, surrounding whitespace
        ("run {{cmd}}  on {{hosts}}", "  run\tuptime   on  h1  ", {"cmd": "uptime", "hosts": "h1"}),
        # regex characters in the format are literal
        ("price (USD) {{x}}? [*] +1 $", "price (USD) 5? [*] +1 $", {"x": "5"}),
        ("set {{key}}={{value}}", "set a=b", {"key": "a", "value": "b"}),
        ("{{a}}:{{b}}", "x:y", {"a": "x", "b": "y"}),
        # unicode in the format and the values
        ("déployer {{app}} sur {{hôte}}", "déployer café sur 東京", {"app": "café", "hôte": "東京"}),
        ("say {{msg}}", "say 👋 ünïcødé", {"msg": "👋 ünïcødé"}),
        ("réserver {{été}}", "réserver juillet durée=3", {"été": "juillet", "durée": "3"}),
        # no placeholders
        ("status", "status", {}),
    ],
)
def test_formats_read_parameters(format_text: str, command: str, expected: dict[str, Any]) -> None:
    assert parse(format_text, command) == expected


@pytest.mark.parametrize(
    ("format_text", "command"),
    [
        ("restart {{unit}}", "restart"),  # a required value is missing
        ("restart {{unit}}", "reboot nginx"),  # other text
        ("restart {{unit}}", "please restart nginx"),  # anchored at the start
        ("status", "status now"),  # anchored at the end (a bare word is not a key=value pair)
        ("price (USD) {{x}}", "price USD 5"),  # the parentheses are literal
        ("a.b {{x}}", "aXb 1"),  # so is a dot
        ("run {{cmd}} on {{hosts}}", "run uptime"),  # the literal 'on' is required
        ("deploy {{env=prod}}", "deployed"),  # the leading word is never optional
        ("Restart {{unit}}", "restart nginx"),  # literal text is case-sensitive
    ],
)
def test_formats_that_do_not_match(format_text: str, command: str) -> None:
    assert parse(format_text, command) is None


@pytest.mark.parametrize(
    ("format_text", "message"),
    [
        ("", "the format is empty; write the command text, with {{param}} placeholders"),
        (
            "x {{}}",
            "placeholder '{{}}' needs a parameter name (letters, digits, _): write {{name}} or {{name=default}}",
        ),
        ("x {{1a}}", "placeholder '{{1a}}' needs a parameter name"),
        ("x {{a}} {{a=1}}", "parameter 'a' has two placeholders; use each {{a}} once"),
        ("x {{a", "unbalanced placeholder braces in '{{a'"),
        ("x a}}", "unbalanced placeholder braces in 'a}}'"),
        ("x {{a}}{{b}}", "placeholders 'a' and 'b' touch; put a space or text between them"),
        (
            "x {{a=1}} {{b=1}} {{c=1}} {{d=1}} {{e=1}} {{f=1}} {{g=1}}",
            "a format may have at most 6 optional placeholders, this one has 7",
        ),
    ],
)
def test_bad_formats(format_text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message.replace("{", r"\{").replace("(", r"\(").replace(")", r"\)")):
        compile_format(format_text)


def test_a_value_ends_at_the_first_place_the_text_after_it_matches() -> None:
    assert parse("say {{msg}} please", "say hi please") == {"msg": "hi"}
    assert parse("say {{msg}} please", "say hi please please") is None  # never tried longer
    assert parse("say {{msg}} please", "say 'hi please' please") == {"msg": "hi please"}  # quote it
    assert parse("{{a}} {{b}} end", "one two three end") == {"a": "one", "b": "two three"}  # a value before a value
    assert parse("{{a}} {{b}} end", '"one two" three end') == {"a": "one two", "b": "three"}


@pytest.mark.parametrize(
    ("format_text", "command"),
    [
        ("run {{a}} on {{b}} at {{c}} now", "run " + "x on at " * 249),
        ("{{a}} {{b}} {{c}} end", "x " * 999),
        ("{{a}} x {{b=1}} x {{c=2}} x {{d=3}} end", "x " * 999),
        ("run {{cmd}}", "run " + "a=b " * 499 + "!"),
        ("c {{a}} {{b}}", "c " + '{"k": ' * 300),
    ],
)
def test_long_commands_that_do_not_match_cost_little(format_text: str, command: str) -> None:
    """Each value commits to its first end: no trying every split of the text (that took minutes)."""
    compiled = compile_format(format_text)
    started = time.monotonic()
    compiled.match(command)
    assert time.monotonic() - started < 2.0


def test_commands_and_trailing_pairs_have_limits() -> None:
    with pytest.raises(AliasMatchError, match="the command is 2001 characters long; at most 2000 are matched"):
        match_command([alias("x", "say {{m}}")], "say " + "x" * 1997)
    many = "run a " + " ".join(f"k{i}=v" for i in range(25))
    found = parse("run {{cmd}}", many)
    assert found is not None
    assert found["cmd"] == "a " + " ".join(f"k{i}=v" for i in range(5))  # only the last 20 pairs are cut off
    assert sorted(k for k in found if k != "cmd") == sorted(f"k{i}" for i in range(5, 25))


def test_a_key_value_pair_contradicting_the_text_is_refused() -> None:
    with pytest.raises(AliasMatchError, match="parameter 'unit' is given twice"):
        compile_format("restart {{unit}}").match("restart nginx unit=apache")
    assert parse("restart {{unit}}", "restart nginx unit=nginx") == {"unit": "nginx"}


def alias(name: str, *formats: Any, pack: str = "ops", **fields: Any) -> ActionAlias:
    return ActionAlias.model_validate(
        {"name": name, "pack": pack, "action_ref": "ops.act", "formats": list(formats), **fields}
    )


def test_the_most_specific_format_of_an_alias_wins() -> None:
    restart = alias(
        "restart",
        "restart {{unit}}",
        {"display": "restart <unit> dry <yes>", "representation": ["restart {{unit}} dry {{dry_run}}"]},
    )
    found = match_alias(restart, "restart nginx dry true")
    assert found is not None
    assert found.parameters == {"unit": "nginx", "dry_run": "true"}
    assert found.representation == "restart {{unit}} dry {{dry_run}}"
    assert found.display == "restart <unit> dry <yes>"
    plain = match_alias(restart, "restart nginx")
    assert plain is not None and plain.display == "restart {{unit}}" and plain.parameters == {"unit": "nginx"}


def test_equally_specific_formats_take_the_first_listed() -> None:
    found = match_alias(alias("x", "go {{a}}", "go {{b}}"), "go home")
    assert found is not None and found.parameters == {"a": "home"}


def test_immutable_parameters_are_added_and_cannot_be_overridden() -> None:
    fixed = alias("deploy", "deploy {{app}}", immutable_parameters={"env": "prod"})
    found = match_command([fixed], "deploy web")
    assert found.action_parameters == {"app": "web", "env": "prod"}
    with pytest.raises(
        AliasMatchError, match=r"parameter 'env' is fixed by alias 'ops.deploy' \(immutable_parameters\)"
    ):
        match_command([fixed], "deploy web env=dev")


def test_templates_in_a_command_are_refused() -> None:
    with pytest.raises(AliasMatchError, match="parameter 'msg' holds a template"):
        match_command([alias("say", "say {{msg}}")], "say {{ st2kv.system.password }}")


def test_match_command_needs_exactly_one_enabled_alias() -> None:
    aliases = [
        alias("restart", "restart {{unit}}"),
        alias("reboot", "reboot {{host}}"),
        alias("restart_db", "restart db {{name}}", pack="db"),
        alias("off", "reboot now", enabled=False),
    ]
    assert match_command(aliases, "reboot web1").alias.full_ref == "ops.reboot"
    assert match_command(aliases, "  reboot now ").parameters == {"host": "now"}  # the disabled alias is skipped
    with pytest.raises(AliasMatchError) as info:
        match_command(aliases, "restart db main")
    assert str(info.value) == (
        "command 'restart db main' matched more than one action alias: db.restart_db ('restart db {{name}}'), "
        "ops.restart ('restart {{unit}}'); make the command more specific, or disable one of the aliases"
    )
    with pytest.raises(AliasMatchError) as info:
        match_command(aliases, "dance")
    assert str(info.value) == (
        "command 'dance' matched no action alias; list the aliases and their formats with 'st2lite alias list' "
        "(or POST /api/v1/actionalias/help)"
    )
    with pytest.raises(AliasMatchError, match="the command is empty"):
        match_command(aliases, "   ")


def test_alias_fields() -> None:
    with pytest.raises(ValueError, match="not a valid alias name"):
        alias("a.b", "x")
    full = alias("x", "x", ack={"enabled": False, "format": "ok", "append_url": False}, result={"format": "done"})
    assert (full.ack.enabled, full.ack.append_url, full.result.enabled, full.result.format) == (
        False,
        False,
        True,
        "done",
    )
