"""Action aliases from pack files: fields, formats, duplicates and the action they name, with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from st2lite.content import ContentSet
from st2lite.packs import PackSource, Problem, load_all, load_pack

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
"""


def write_pack(name: str, files: dict[str, str]) -> PackSource:
    folder = Path(name)
    folder.mkdir()
    (folder / "pack.yaml").write_text(f"name: {name}\ndescription: test pack\nversion: 0.1.0\nauthor: tests\n")
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return PackSource(path=folder)


def messages(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


@pytest.fixture(autouse=True)
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


GOOD = """
    name: greet
    action_ref: p.echo
    description: Say hello
    formats:
      - "greet {{message}}"
      - display: "hi <message> [count]"
        representation: ["hi {{message}} {{count=1}}"]
    ack:
      format: "saying {{ execution.parameters.message }}"
    result:
      format: "said {{ execution.result.stdout }}"
    immutable_parameters:
      count: 2
"""


def test_a_good_alias_loads_and_is_registered() -> None:
    source = write_pack("p", {"actions/echo.yaml": ECHO_ACTION, "aliases/greet.yaml": GOOD})
    load = load_pack(source)
    assert load.problems == [] and load.notes == []
    (alias,) = load.aliases
    assert alias.full_ref == "p.greet"
    assert alias.metadata_file == "aliases/greet.yaml"
    assert alias.representations() == ["greet {{message}}", "hi {{message}} {{count=1}}"]
    assert alias.display_of("hi {{message}} {{count=1}}") == "hi <message> [count]"
    report = load_all([source])
    assert report.problems == []
    assert list(report.content.aliases) == ["p.greet"]
    # Stored and read back like the other kinds.
    again = ContentSet.from_json(report.content.to_json())
    assert again.aliases["p.greet"] == alias


def test_broken_alias_files_are_problems_with_file_and_line() -> None:
    source = write_pack(
        "p",
        {
            "actions/echo.yaml": ECHO_ACTION,
            "aliases/a_unknown_field.yaml": "name: a\naction_ref: p.echo\nformats: ['a']\nformat: x\n",
            "aliases/b_no_action_ref.yaml": "name: b\nformats: ['b']\n",
            "aliases/c_bad_format.yaml": "name: c\naction_ref: p.echo\nformats:\n  - 'c {{}}'\n  - 'c {{x}} {{x}}'\n",
            "aliases/d_no_formats.yaml": "name: d\naction_ref: p.echo\n",
            "aliases/e_first.yaml": "name: e\naction_ref: p.echo\nformats: ['e1']\n",
            "aliases/f_again.yaml": "description: again\nname: e\naction_ref: p.echo\nformats: ['e2']\n",
            "aliases/g_repr.yaml": "name: g\naction_ref: p.echo\nformats:\n  - display: g\n    representation:\n"
            "      - 'g {{ok}}'\n      - 'g {{bad'\n",
        },
    )
    load = load_pack(source)
    assert messages(load.problems) == [
        "p/aliases/a_unknown_field.yaml:4: field 'format': unknown field; did you mean 'formats'?",
        "p/aliases/b_no_action_ref.yaml:1: field 'action_ref': required field is missing; add it",
        "p/aliases/c_bad_format.yaml:4: field 'formats.0': format 'c {{}}' does not compile: placeholder '{{}}' "
        "needs a parameter name (letters, digits, _): write {{name}} or {{name=default}}",
        "p/aliases/c_bad_format.yaml:5: field 'formats.1': format 'c {{x}} {{x}}' does not compile: "
        "parameter 'x' has two placeholders; use each {{x}} once",
        "p/aliases/d_no_formats.yaml:1: field 'formats': an alias needs at least one format, like 'restart {{unit}}'",
        "p/aliases/f_again.yaml:2: field 'name': alias 'p.e' is already defined in p/aliases/e_first.yaml; "
        "give each one a unique name",
        "p/aliases/g_repr.yaml:7: field 'formats.0.representation.1': format 'g {{bad' does not compile: "
        "unbalanced placeholder braces in '{{bad'; write {{name}} or {{name=default}}",
    ]
    assert [a.full_ref for a in load.aliases] == ["p.e"]  # the good one is kept


def test_an_unknown_action_ref_drops_only_that_alias() -> None:
    source = write_pack(
        "p",
        {
            "actions/echo.yaml": ECHO_ACTION,
            "aliases/good.yaml": "name: good\naction_ref: p.echo\nformats: ['good']\n",
            "aliases/typo.yaml": "name: typo\naction_ref: p.ecco\nformats: ['typo']\n",
        },
    )
    report = load_all([source])
    assert messages(report.problems) == [
        "p/aliases/typo.yaml:2: field 'action_ref': unknown action 'p.ecco'; did you mean 'p.echo'?"
    ]
    assert list(report.content.aliases) == ["p.good"]
    assert list(report.content.actions) == ["p.echo"]


def test_an_alias_of_an_action_that_failed_to_load_says_so() -> None:
    source = write_pack(
        "p",
        {
            "actions/broken.yaml": "name: broken\nrunner_type: nope\n",
            "aliases/a.yaml": "name: a\naction_ref: p.broken\nformats: ['a']\n",
        },
    )
    report = load_all([source])
    assert (
        "p/aliases/a.yaml:2: field 'action_ref': action 'p.broken' failed to load; fix the problems reported "
        "for p/actions/broken.yaml" in messages(report.problems)
    )
    assert report.content.aliases == {}
