"""StackStorm's Jinja filters, exercised through the real sandboxed environment."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest

from st2lite.exceptions import TemplateError
from st2lite.template_filters import FILTERS, NONE_MARKER, TESTS, set_decryptor
from st2lite.templating import kv_context, render_template, render_typed


def render(source: str, **context: Any) -> str:
    return render_template(source, context)


def failure(source: str, **context: Any) -> str:
    with pytest.raises(TemplateError) as caught:
        render_template(source, context)
    return str(caught.value)


def test_registries_hold_every_stackstorm_name() -> None:
    assert set(FILTERS) == {
        "to_json_string", "to_yaml_string", "from_json_string", "from_yaml_string", "json_escape",
        "jsonpath_query", "to_complex", "use_none", "regex_match", "regex_replace", "regex_search",
        "regex_substring", "decrypt_kv", "to_human_time_from_seconds", "version_compare",
        "version_more_than", "version_less_than", "version_equal", "version_match", "version_bump_major",
        "version_bump_minor", "version_bump_patch", "version_strip_patch", "basename", "dirname",
    }  # fmt: skip
    assert set(TESTS) == {"in"}


# --- data ------------------------------------------------------------------------------------------


def test_to_json_string() -> None:
    assert render("{{ x | to_json_string }}", x={"a": [1, True, None]}) == '{"a": [1, true, null]}'
    assert render("{{ x | to_json_string(indent=2, sort_keys=True) }}", x={"b": 1, "a": 2}) == (
        '{\n  "a": 2,\n  "b": 1\n}'
    )


def test_to_json_string_encodes_objects_json_cannot() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    assert render("{{ x | to_json_string }}", x={"at": when, "tags": {"b"}}) == (
        '{"at": "2024-05-01T12:30:00+00:00", "tags": ["b"]}'
    )


def test_to_yaml_string_keeps_key_order_and_unicode() -> None:
    assert render("{{ x | to_yaml_string }}", x={"b": [1, 2], "a": "é"}) == "b:\n- 1\n- 2\na: é\n"


def test_from_json_string() -> None:
    assert render("{{ (x | from_json_string).a[1] }}", x='{"a": [1, 2]}') == "2"


def test_from_json_string_rejects_bad_json() -> None:
    assert failure("{{ x | from_json_string }}", x="{nope") == (
        "template '{{ x | from_json_string }}' failed: ValueError: from_json_string: the input is not "
        "valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )


def test_from_yaml_string() -> None:
    assert render("{{ (x | from_yaml_string)['hosts'] | join(',') }}", x="hosts: [a, b]") == "a,b"


def test_from_yaml_string_rejects_bad_yaml() -> None:
    message = failure("{{ x | from_yaml_string }}", x="a: [1")
    assert message.startswith(
        "template '{{ x | from_yaml_string }}' failed: ValueError: from_yaml_string: the input is not valid YAML ("
    )


def test_json_escape() -> None:
    assert render("{{ x | json_escape }}", x='say "hi"\n\tnow é') == 'say \\"hi\\"\\n\\tnow é'
    assert render("{{ x | json_escape }}", x=42) == "42"


def test_jsonpath_query() -> None:
    data = {"hosts": [{"name": "a", "up": True}, {"name": "b", "up": False}]}
    assert render("{{ x | jsonpath_query('$.hosts[*].name') }}", x=data) == "['a', 'b']"
    assert render("{{ x | jsonpath_query('$.hosts[?(@.up == false)].name') }}", x=data) == "['b']"
    assert render("{{ x | jsonpath_query('$.nothing') }}", x=data) == "None"


def test_jsonpath_query_rejects_bad_expression() -> None:
    message = failure("{{ x | jsonpath_query('$[') }}", x={})
    assert message.startswith(
        "template \"{{ x | jsonpath_query('$[') }}\" failed: ValueError: jsonpath_query: '$[' is not a "
        "valid JSONPath expression ("
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, 2.5]}, {"a": [1, 2.5]}),
        ("text", "text"),
        (None, None),
        (True, True),
        ((1, 2), [1, 2]),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (b"raw", "raw"),
        (frozenset({3, 1}), [1, 3]),
    ],
)
def test_to_complex_json_encodes_any_value(value: Any, expected: Any) -> None:
    assert json.loads(render("{{ x | to_complex }}", x=value)) == expected


def test_to_complex_falls_back_to_text_for_other_objects() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    assert render("{{ x | to_complex }}", x=Opaque()) == '"opaque!"'


def test_to_complex_of_missing_datastore_key_is_empty_string() -> None:
    context = {"st2kv": kv_context(lambda scope, name: None)}
    assert render_template("{{ st2kv.system.nope | to_complex }}", context) == '""'


def test_to_complex_refuses_a_whole_datastore_namespace() -> None:
    context = {"st2kv": kv_context(lambda scope, name: None)}
    with pytest.raises(TemplateError) as caught:
        render_template("{{ st2kv.system | to_complex }}", context)
    assert str(caught.value) == (
        "template '{{ st2kv.system | to_complex }}' failed: ValueError: st2kv.system and st2kv.user are "
        "namespaces; name a key, e.g. st2kv.system.my_key"
    )


def test_to_complex_of_undefined_is_an_undefined_error() -> None:
    assert failure("{{ trigger.nope | to_complex }}", trigger={}) == (
        "template '{{ trigger.nope | to_complex }}': 'dict object' has no attribute 'nope'"
    )


def test_use_none_gives_the_marker_for_none_only() -> None:
    assert render("{{ x | use_none }}", x=None) == NONE_MARKER
    assert render("{{ x | use_none }}", x=5) == "5"
    assert render("{{ x | use_none }}", x="") == ""


def test_use_none_marker_types_as_null() -> None:
    assert render_typed("{{ x | use_none }}", {"x": None}) is None


# --- regex -----------------------------------------------------------------------------------------


# Patterns travel as variables: Jinja string literals would need their backslashes escaped twice.


def test_regex_match_anchors_at_start() -> None:
    assert render("{{ x | regex_match(p) }}", x="v12 build", p=r"v\d+") == "True"
    assert render("{{ x | regex_match(p) }}", x="v12", p=r"\d+") == "False"


def test_regex_search_anywhere() -> None:
    assert render("{{ x | regex_search(p) }}", x="v12", p=r"\d+") == "True"
    assert render("{{ x | regex_search('z') }}", x="v12") == "False"


def test_regex_replace_with_groups() -> None:
    assert render("{{ x | regex_replace(p, r) }}", x="me@host", p=r"(\w+)@(\w+)", r=r"\2 at \1") == "host at me"


def test_regex_substring() -> None:
    assert render("{{ x | regex_substring(p) }}", x="a1 b22 c333", p=r"\d+") == "1"
    assert render("{{ x | regex_substring(p, 2) }}", x="a1 b22 c333", p=r"\d+") == "333"
    assert render("{{ x | regex_substring(p) }}", x="a1 b22", p=r"b(\d+)") == "22"


def test_regex_substring_without_that_match() -> None:
    assert failure("{{ x | regex_substring(p, 5) }}", x="a1 b22", p=r"\d+") == (
        "template '{{ x | regex_substring(p, 5) }}' failed: ValueError: regex_substring: '\\\\d+' "
        "matched 2 time(s), so there is no match at index 5"
    )


def test_regex_filters_reject_bad_patterns() -> None:
    assert failure("{{ x | regex_search('(') }}", x="a") == (
        "template \"{{ x | regex_search('(') }}\" failed: ValueError: '(' is not a valid regular "
        "expression: missing ), unterminated subpattern at position 0"
    )


# --- datastore and time ----------------------------------------------------------------------------


@pytest.fixture
def restore_decryptor() -> Iterator[None]:
    yield
    set_decryptor(None)


def test_decrypt_kv_is_identity_without_decryptor() -> None:
    context = {"st2kv": kv_context(lambda scope, name: "s3cret" if name == "token" else None)}
    assert render_template("{{ st2kv.system.token | decrypt_kv }}", context) == "s3cret"


@pytest.mark.usefixtures("restore_decryptor")
def test_decrypt_kv_uses_installed_decryptor() -> None:
    set_decryptor(lambda text: text[::-1])
    assert render("{{ x | decrypt_kv }}", x="terces") == "secret"
    set_decryptor(None)
    assert render("{{ x | decrypt_kv }}", x="terces") == "terces"


def test_decrypt_kv_of_missing_key_fails() -> None:
    context = {"st2kv": kv_context(lambda scope, name: None)}
    with pytest.raises(TemplateError) as caught:
        render_template("{{ st2kv.system.token | decrypt_kv }}", context)
    assert str(caught.value) == (
        "template '{{ st2kv.system.token | decrypt_kv }}' failed: ValueError: decrypt_kv got an empty "
        "value: the datastore key does not exist or is empty; store the secret in the datastore first"
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (56, "56s"),
        (56.4, "56s"),
        (456, "7m36s"),
        (4560, "1h16m0s"),
        (456000, "5d6h40m0s"),
        (45600000, "1y162d18h40m0s"),
        (0.25, "250ms"),
        ("90", "1m30s"),
    ],
)
def test_to_human_time_from_seconds(seconds: Any, expected: str) -> None:
    assert render("{{ x | to_human_time_from_seconds }}", x=seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        ("soon", "expects a number of seconds, got 'soon'"),
        (True, "expects a number of seconds, got True"),
        (None, "expects a number of seconds, got None"),
        (-1, "expects a duration of zero or more, got -1"),
        (float("inf"), "expects a duration of zero or more, got inf"),
        ("nan", "expects a duration of zero or more, got 'nan'"),
    ],
)
def test_to_human_time_from_seconds_rejects(seconds: Any, reason: str) -> None:
    assert failure("{{ x | to_human_time_from_seconds }}", x=seconds) == (
        f"template '{{{{ x | to_human_time_from_seconds }}}}' failed: ValueError: to_human_time_from_seconds {reason}"
    )


# --- versions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("1.2.3", "1.2.3", 0),
        ("1.2.3", "1.2.4", -1),
        ("1.10.0", "1.9.0", 1),
        ("2.0.0", "10.0.0", -1),
        ("1.0.0-rc.1", "1.0.0", -1),
        ("1.0.0-alpha", "1.0.0-alpha.1", -1),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta", -1),
        ("1.0.0-beta.2", "1.0.0-beta.11", -1),
        ("1.0.0-rc.1", "1.0.0-beta.11", 1),
        ("1.0.0+build.5", "1.0.0", 0),
        ("1.0.0-x.7.z.92", "1.0.0-x.7.z.92", 0),
    ],
)
def test_version_compare_follows_semver_precedence(left: str, right: str, expected: int) -> None:
    assert render("{{ a | version_compare(b) }}", a=left, b=right) == str(expected)


def test_version_predicates() -> None:
    assert render("{{ '1.3.0' | version_more_than('1.2.9') }}") == "True"
    assert render("{{ '1.3.0' | version_less_than('1.2.9') }}") == "False"
    assert render("{{ '1.3.0' | version_equal('1.3.0+meta') }}") == "True"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (">=1.2.0", True),
        (">1.2.3", False),
        ("<2.0.0", True),
        ("<=1.2.2", False),
        ("==1.2.3", True),
        ("!=1.2.3", False),
        ("1.2.3", True),
        (" >= 1.0.0 ", True),
    ],
)
def test_version_match(expression: str, expected: bool) -> None:
    assert render("{{ '1.2.3' | version_match(e) }}", e=expression) == str(expected)


def test_version_match_rejects_malformed_expression() -> None:
    assert failure("{{ '1.2.3' | version_match('>= 1 2') }}") == (
        "template \"{{ '1.2.3' | version_match('>= 1 2') }}\" failed: ValueError: version_match: "
        "'>= 1 2' is not '<operator><version>', such as '>=1.2.0'"
    )


def test_version_bumps_and_strip() -> None:
    assert render("{{ '1.2.3-rc.1+b' | version_bump_major }}") == "2.0.0"
    assert render("{{ '1.2.3' | version_bump_minor }}") == "1.3.0"
    assert render("{{ '1.2.3' | version_bump_patch }}") == "1.2.4"
    assert render("{{ '1.2.3' | version_strip_patch }}") == "1.2"


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3", "01.2.3", "1.2.3-01", "1.2.3-", "latest"])
def test_versions_must_be_semantic(bad: str) -> None:
    assert failure("{{ v | version_bump_patch }}", v=bad) == (
        f"template '{{{{ v | version_bump_patch }}}}' failed: ValueError: {bad!r} is not a semantic "
        "version (MAJOR.MINOR.PATCH, such as 1.4.0 or 2.0.0-rc.1)"
    )


# --- paths and tests -------------------------------------------------------------------------------


def test_basename_and_dirname() -> None:
    assert render("{{ p | basename }}|{{ p | dirname }}", p="/opt/packs/ops/run.sh") == "run.sh|/opt/packs/ops"
    assert render("{{ p | basename }}|{{ p | dirname }}", p="run.sh") == "run.sh|"


def test_in_test() -> None:
    assert render("{{ 'b' is in ['a', 'b'] }}|{{ 'z' is in 'abc' }}") == "True|False"
    assert render("{% if x is in allowed %}ok{% endif %}", x=2, allowed=[1, 2]) == "ok"
