"""Pack configuration: schema checks, defaults, template values, secrets (no Redis: lookups are functions)."""

from __future__ import annotations

from typing import Any

import pytest

from st2lite.exceptions import ContentError
from st2lite.pack_configs import ConfigContext, config_problems, json_schema, resolve_config, schema_problems

SCHEMA: dict[str, Any] = {
    "base_url": {"type": "string", "required": True, "description": "Looker API URL"},
    "client_secret": {"type": "string", "secret": True, "required": True},
    "timeout": {"type": "integer", "default": 30},
    "retry": {
        "type": "object",
        "properties": {"times": {"type": "integer", "default": 2}, "when": {"type": "string", "required": True}},
    },
}


def test_the_schema_becomes_a_json_schema_with_required_lifted_up() -> None:
    schema = json_schema(SCHEMA)
    assert schema["required"] == ["base_url", "client_secret"]
    assert schema["properties"]["client_secret"] == {"type": "string"}
    assert schema["properties"]["retry"]["required"] == ["when"]
    assert "additionalProperties" not in schema  # extra keys are allowed, as in StackStorm


@pytest.mark.parametrize(
    ("schema", "problems"),
    [
        ([1, 2], [("", "config.schema.yaml must be a mapping of setting name to {type, description, ...}")]),
        ({"a": "string"}, [("a", "must be a mapping like {type: string, description: ..., required: true}")]),
        (
            {"a": {"type": "text"}},
            [("a", "type 'text' is not one of array, boolean, integer, null, number, object, string")],
        ),
        ({"a": {"type": "string", "secret": "yes"}}, [("a", "'secret' must be true or false")]),
        (
            {"a": {"type": "object", "properties": {"b": {"type": "int"}}}},
            [("a.b", "type 'int' is not one of array, boolean, integer, null, number, object, string")],
        ),
    ],
)
def test_schema_problems_name_the_key_and_what_to_write(schema: Any, problems: list[tuple[str, str]]) -> None:
    assert schema_problems(schema)[: len(problems)] == problems


def test_a_good_schema_has_no_problems() -> None:
    assert schema_problems(SCHEMA) == []


def test_config_problems_skip_template_values_but_check_the_rest() -> None:
    values = {"base_url": "https://looker", "client_secret": "{{ st2kv.system.looker_secret }}", "retry": {"when": "x"}}
    assert config_problems(SCHEMA, values) == []
    assert config_problems(SCHEMA, {"client_secret": "{{ st2kv.system.s }}", "timeout": "soon"}) == [
        ("(top level)", "'base_url' is a required property"),
        ("timeout", "'soon' is not of type 'integer'"),
    ]
    assert config_problems(SCHEMA, ["not", "a", "mapping"]) == [
        ("", "the pack config must be a mapping of setting name to value")
    ]


def lookup_from(values: dict[str, str]) -> Any:
    def lookup(scope: str, name: str) -> str | None:
        return values.get(f"{scope}:{name}")

    return lookup


def test_resolve_renders_datastore_values_fills_defaults_and_decrypts_secrets() -> None:
    store = {"system:looker_secret": "gAAAAAB-token", "system:looker_url": "https://looker.example"}
    decrypted: list[str] = []

    def decrypt(token: str) -> str:
        decrypted.append(token)
        return "clear-secret"

    config = resolve_config(
        SCHEMA,
        {
            "base_url": "{{ st2kv.system.looker_url }}",
            "client_secret": "{{ st2kv.system.looker_secret }}",
            "retry": {"when": "failed"},
        },
        lookup=lookup_from(store),
        decrypt=decrypt,
        pack="looker",
    )
    assert config == {
        "base_url": "https://looker.example",
        "client_secret": "clear-secret",
        "timeout": 30,
        "retry": {"when": "failed", "times": 2},
    }
    assert decrypted == ["gAAAAAB-token"]  # only the value marked secret: true


def test_a_rendered_config_that_breaks_the_schema_says_what_to_fix() -> None:
    with pytest.raises(ContentError) as caught:
        resolve_config(
            SCHEMA,
            {"base_url": "x", "client_secret": "s", "timeout": "{{ st2kv.system.timeout }}", "retry": {"when": "a"}},
            lookup=lookup_from({"system:timeout": "soon"}),
            pack="looker",
        )
    assert str(caught.value) == (
        "the config of pack 'looker' is invalid at timeout: 'soon' is not of type 'integer'; "
        "fix configs/looker.yaml or the datastore values it reads"
    )


def test_a_failing_template_names_the_pack_and_key() -> None:
    with pytest.raises(ContentError, match=r"the config of pack 'looker' at retry.when: template .* failed"):
        resolve_config(SCHEMA, {"retry": {"when": "{{ 1 / 0 }}"}}, pack="looker")


def test_config_context_resolves_on_first_use_only() -> None:
    calls: list[int] = []

    def resolve() -> dict[str, Any]:
        calls.append(1)
        return {"region": "eu"}

    context = ConfigContext(resolve)
    assert calls == []
    assert context.region == "eu"
    assert context["region"] == "eu"
    assert dict(context) == {"region": "eu"}
    assert calls == [1]
    with pytest.raises(AttributeError):
        _ = context.missing
