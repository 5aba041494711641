"""StackStorm's criteria operators: the reference table and test_operators.py behaviours 1-46.

Behaviours 47-54 (``search``) need child criteria and live in test_criteria.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from st2lite.exceptions import MatchError, UnknownOperatorError
from st2lite.operators import OPERATORS, canonical_name, describe, get_operator


def op(name: str, value: Any, pattern: Any) -> bool:
    return OPERATORS[name](value, pattern)


def check_raises(name: str, value: Any, pattern: Any, message: str) -> None:
    with pytest.raises(MatchError) as caught:
        op(name, value, pattern)
    assert str(caught.value) == message


ALL_NAMES = {
    "equals", "eq", "nequals", "neq", "iequals", "ieq", "contains", "ncontains", "icontains",
    "incontains", "startswith", "istartswith", "endswith", "iendswith", "lessthan", "lt",
    "greaterthan", "gt", "matchwildcard", "matchregex", "regex", "iregex", "timediff_lt", "td_lt",
    "timediff_gt", "td_gt", "exists", "nexists", "inside", "in", "ninside", "nin", "search",
}  # fmt: skip


def test_every_stackstorm_operator_and_alias_is_registered() -> None:
    assert set(OPERATORS) == ALL_NAMES


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("eq", "equals"),
        ("neq", "nequals"),
        ("ieq", "iequals"),
        ("lt", "lessthan"),
        ("gt", "greaterthan"),
        ("td_lt", "timediff_lt"),
        ("td_gt", "timediff_gt"),
        ("in", "inside"),
        ("nin", "ninside"),
    ],
)
def test_aliases_share_their_operator(alias: str, name: str) -> None:
    assert OPERATORS[alias] is OPERATORS[name]
    assert canonical_name(alias) == name
    assert canonical_name(alias.upper()) == name


# --- 1-6 matchwildcard -------------------------------------------------------


def test_matchwildcard() -> None:
    assert op("matchwildcard", "v1", "v1")  # 1
    assert not op("matchwildcard", "test foo test", "foo")  # 2: the whole string must match
    assert op("matchwildcard", "test foo test", "*foo*")  # 3
    assert op("matchwildcard", "bar", "b*r")  # 4
    assert op("matchwildcard", "bar", "b?r")
    assert op("matchwildcard", b"bar", "b?r")  # 5
    assert op("matchwildcard", "bar", b"b?r")
    assert op("matchwildcard", b"bar", b"b?r")
    assert not op("matchwildcard", "1", None)  # 6


def test_matchwildcard_is_case_sensitive() -> None:
    assert not op("matchwildcard", "BAR", "b*r")


def test_matchwildcard_on_a_non_string_value_fails() -> None:
    check_raises(
        "matchwildcard",
        1,
        "1",
        "operator 'matchwildcard' needs a string value and a string pattern, got int 1 and str '1'",
    )


# --- 7-12 matchregex ---------------------------------------------------------


def test_matchregex() -> None:
    assert op("matchregex", "v1", "v1$")  # 7
    assert op("matchregex", "foo\nbar\nbaz", ".*bar.*")  # 8: DOTALL
    assert op("matchregex", "foo\r\nponies\nbar\nfooooo", ".*ponies.*")  # 9
    assert op("matchregex", b"foo\nbar", ".*bar.*")  # 10: mixed bytes and str
    assert op("matchregex", "foo\nbar", b".*bar.*")
    assert get_operator("MATCHREGEX") is get_operator("MATCHregex") is get_operator("matchregex")  # 11
    assert not op("matchregex", "v1_foo", "v1$")  # 12: anchored at the start
    assert not op("matchregex", "1", None)


def test_matchregex_is_anchored_at_the_start_only() -> None:
    assert not op("matchregex", "xv1", "v1")
    assert op("matchregex", "v1 and more", "v1")


# --- 13-19 iregex and regex ----------------------------------------------------


def test_iregex() -> None:
    assert op("iregex", "V1", "v1$")  # 13
    assert op("iregex", "fooPONIESbarfooooo", "ponies")  # 14
    assert op("iregex", b"fooPONIESbarfooooo", "ponies")
    assert op("iregex", "fooPONIESbarfooooo", b"ponies")
    assert not op("iregex", "V1_foo", "v1$")  # 15
    assert not op("iregex", "1", None)


def test_regex() -> None:
    assert op("regex", "v1", "v1$")  # 16
    assert op("regex", "fooponiesbarfooooo", "ponies")
    assert op("regex", "apple ponies oranges", "(ponies|unicorns)")  # 17
    assert op("regex", "apple unicorns oranges", "(ponies|unicorns)")
    assert not op("regex", "apple unicorns oranges", "(pikachu|snorlax|charmander)")  # 18
    assert not op("regex", "v1_foo", "v1$")  # 19
    assert not op("regex", "fooPONIESbarfooooo", "ponies")  # case-sensitive
    assert not op("regex", "1", None)


def test_regex_has_no_dotall() -> None:
    assert not op("regex", "a\nb", "a.b")
    assert op("matchregex", "a\nb", "a.b")


def test_invalid_regex_fails_with_the_reason() -> None:
    check_raises(
        "regex",
        "abc",
        "(unclosed",
        "operator 'regex' pattern '(unclosed' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
    )


def test_regex_on_a_non_string_value_fails() -> None:
    check_raises(
        "iregex",
        12,
        "1",
        "operator 'iregex' needs a string value and a string pattern, got int 12 and str '1'",
    )


# --- 20-27 equals, nequals, iequals ------------------------------------------


def test_equals() -> None:
    assert op("equals", 1, 1)  # 20
    assert op("equals", "1", "1")
    assert op("equals", "", "")
    assert op("equals", b"1", "1")  # 21
    assert op("equals", "1", b"1")
    assert not op("equals", "1", "2")  # 22
    assert not op("equals", "1", None)


def test_equals_has_no_coercion_beyond_pythons_own() -> None:
    assert not op("equals", "1", 1)
    assert op("equals", True, True)
    assert not op("equals", "True", True)
    assert op("equals", [1, "a"], [1, "a"])
    assert op("equals", {"a": 1}, {"a": 1})
    # bool is a subclass of int: Python (and StackStorm) equality holds.
    assert op("equals", True, 1)
    assert op("equals", 1, 1.0)


def test_equals_with_a_none_pattern_never_matches_even_a_none_value() -> None:
    assert not op("equals", None, None)


def test_nequals() -> None:
    assert op("nequals", "foo", "bar")  # 23
    assert op("nequals", "foo", "foo1")
    assert op("nequals", "foo", "FOO")
    assert op("nequals", "True", True)  # 24
    assert op("nequals", "None", None)
    assert not op("nequals", "True", "True")  # 25
    assert not op("nequals", None, None)
    assert not op("nequals", b"foo", "foo")


def test_nequals_has_no_none_guard() -> None:
    assert op("nequals", "anything", None)
    assert op("neq", 0, None)


def test_iequals() -> None:
    assert op("iequals", "ABC", "abc")  # 26
    assert op("iequals", "AbC", "aBc")
    assert op("iequals", b"ABC", "abc")
    assert op("iequals", "ABC", b"abc")
    assert not op("iequals", "ABC", "BCA")  # 27
    assert not op("iequals", "ABC", None)


def test_iequals_on_non_strings_fails() -> None:
    check_raises(
        "iequals",
        1,
        "abc",
        "operator 'iequals' needs a string value and a string pattern, got int 1 and str 'abc'",
    )
    check_raises(
        "iequals",
        None,
        "abc",
        "operator 'iequals' needs a string value and a string pattern, got None and str 'abc'",
    )


# --- 28-34 contains, icontains, ncontains, incontains ---------------------------


@pytest.mark.parametrize("value", ["needle haystack", "haystack needle haystack", "haystack needle", "needle"])
def test_contains_finds_the_needle_anywhere(value: str) -> None:  # 28
    assert op("contains", value, "needle")
    assert op("contains", value.encode(), "needle")


def test_contains_misses() -> None:
    assert not op("contains", "hasystack needl haystack", "needle")  # 29
    assert not op("contains", "needla", "needle")
    assert not op("contains", "needle", None)


def test_contains_on_lists_is_membership() -> None:
    assert op("contains", ["prod", "db"], "db")
    assert not op("contains", ["prod", "db"], "d")
    assert op("contains", [1, 2], 2)
    assert not op("ncontains", [1, 2], 2)


def test_contains_on_a_missing_value_fails() -> None:
    check_raises("contains", None, "x", "operator 'contains' cannot look for str 'x' in None")
    check_raises("ncontains", 5, "x", "operator 'ncontains' cannot look for str 'x' in int 5")


def test_icontains() -> None:
    assert op("icontains", "hasystack nEEdle haystack", "needle")  # 30
    assert op("icontains", "neeDle", "NeedlE")
    assert op("icontains", b"neeDle", "NeedlE")
    assert not op("icontains", "hasystack needl haystack", "needle")  # 31
    assert not op("icontains", "needla", "needlE")
    assert not op("icontains", "needle", None)


def test_icontains_on_lists_fails() -> None:
    check_raises(
        "icontains",
        ["a"],
        "a",
        "operator 'icontains' needs a string value and a string pattern, got list ['a'] and str 'a'",
    )


def test_ncontains() -> None:
    assert op("ncontains", "needlehaystack", "needlex")  # 32
    assert op("ncontains", "needle", "foo")
    assert not op("ncontains", "haystack needle haystack", "needle")  # 33
    assert not op("ncontains", "needle", None)  # None pattern: False, not True


def test_incontains() -> None:
    assert op("incontains", "needle", "FOO")  # 34
    assert not op("incontains", "haystack needle haystack", "nEeDle")
    assert not op("incontains", "needlA", "needlA")
    assert not op("incontains", "needle", None)


# --- 35-38 startswith, istartswith, endswith, iendswith --------------------------


def test_startswith() -> None:
    assert op("startswith", "hasystack needle haystack", "hasystack")  # 35
    assert op("startswith", "a hasystack needle haystack", "a ")
    assert not op("startswith", "hasystack needle haystack", "needle")
    assert not op("startswith", "hasystack", None)


def test_istartswith() -> None:
    assert op("istartswith", "haystack needle haystack", "HAYstack")  # 36
    assert op("istartswith", "HAYSTACK needle haystack", "haystack")
    assert not op("istartswith", "haystack needle haystack", "NEEDLE")
    assert not op("istartswith", "haystack", None)


def test_endswith() -> None:
    assert op("endswith", "hasystack needle haystackend", "haystackend")  # 37
    assert op("endswith", "hasystack needle haystack b", "b")
    assert not op("endswith", "hasystack needle haystackend", "haystack")
    assert not op("endswith", "hasystack", None)


def test_iendswith() -> None:
    assert op("iendswith", "hasystack needle haystackEND", "HAYstackend")  # 38
    assert not op("iendswith", "a hasystack needle haystack", "a ")
    assert not op("iendswith", "haystack", None)


def test_startswith_on_a_number_fails() -> None:
    check_raises(
        "startswith",
        12,
        "1",
        "operator 'startswith' needs a string value and a string pattern, got int 12 and str '1'",
    )


# --- 39-40 lessthan, greaterthan ----------------------------------------------


def test_lessthan() -> None:
    assert op("lessthan", 1, 2)  # 39
    assert op("lessthan", "a", "b")
    assert op("lessthan", "aba", "bcb")
    assert not op("lessthan", 1, 1)
    assert not op("lessthan", 1, None)


def test_greaterthan() -> None:
    assert op("greaterthan", 2, 1)  # 40
    assert not op("greaterthan", 2, 3)
    assert not op("greaterthan", 2, None)


def test_zero_pattern_is_not_treated_as_missing() -> None:
    assert op("gt", 1, 0)
    assert not op("lt", 1, 0)
    assert op("lt", -1, 0)


def test_ordering_mixes_int_float_and_bool_as_python_does() -> None:
    assert op("lt", 1, 1.5)
    assert op("gt", True, 0)


def test_ordering_across_types_fails() -> None:
    check_raises("lessthan", "a", 1, "operator 'lessthan' cannot compare str 'a' with int 1")
    check_raises("lt", None, 1, "operator 'lessthan' cannot compare None with int 1")
    check_raises(
        "greaterthan", {"a": 1}, {"b": 2}, "operator 'greaterthan' cannot compare dict {'a': 1} with dict {'b': 2}"
    )


# --- 41-42 timediff ------------------------------------------------------------


def iso_ago(seconds: float, *, naive: bool = True) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds)
    return (moment.replace(tzinfo=None) if naive else moment).isoformat()


def test_timediff_lt() -> None:
    now = iso_ago(0)
    assert op("timediff_lt", now, 10)  # 41
    assert op("timediff_lt", now, "10")
    assert not op("timediff_lt", "2014-07-01T00:01:01.000000", 10)
    assert not op("timediff_lt", "2014-07-01T00:01:01.000000", "10")
    assert not op("timediff_lt", now, None)


def test_timediff_gt() -> None:
    assert op("timediff_gt", "2014-07-01T00:01:01.000000", 1)  # 42
    assert op("timediff_gt", "2014-07-01T00:01:01.000000", "1")
    assert not op("timediff_gt", iso_ago(0), 10)
    assert not op("timediff_gt", iso_ago(0), None)


def test_timediff_dates_with_a_zone_and_other_formats() -> None:
    assert op("td_lt", iso_ago(5, naive=False), 60)
    five_ago_in_paris = (datetime.now(UTC) - timedelta(seconds=5)).astimezone(timezone(timedelta(hours=2)))
    assert op("td_lt", five_ago_in_paris.isoformat(), 60)
    assert op("td_lt", iso_ago(5).replace("+00:00", "") + "Z", 60)
    rfc2822 = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert op("td_lt", rfc2822, 60)
    assert op("td_gt", rfc2822, 1.5)


def test_timediff_compares_the_whole_age_not_the_seconds_within_a_day() -> None:
    # StackStorm compares timedelta.seconds, which would call this "5 seconds old".
    assert not op("td_lt", iso_ago(86400 + 5), 60)
    assert op("td_gt", iso_ago(86400 + 5), 60)


def _timediff_message(name: str, value: str, pattern: str) -> str:
    return (
        f"operator '{name}' needs a date (ISO 8601, naive means UTC) as value and a number of "
        f"seconds as pattern, got {value} and {pattern}"
    )


@pytest.mark.parametrize(
    ("name", "value", "pattern", "described"),
    [
        ("td_lt", "not a date", 10, ("timediff_lt", "str 'not a date'", "int 10")),
        ("td_gt", None, 10, ("timediff_gt", "None", "int 10")),
        ("td_lt", 1404172861, 10, ("timediff_lt", "int 1404172861", "int 10")),
        ("td_lt", "2014-07-01T00:00:00", "ten", ("timediff_lt", "str '2014-07-01T00:00:00'", "str 'ten'")),
        ("td_lt", "2014-07-01T00:00:00", True, ("timediff_lt", "str '2014-07-01T00:00:00'", "bool True")),
    ],
)
def test_timediff_with_bad_operands_fails(name: str, value: Any, pattern: Any, described: tuple[str, str, str]) -> None:
    check_raises(name, value, pattern, _timediff_message(*described))


# --- 43 exists / nexists --------------------------------------------------------


@pytest.mark.parametrize("value", [False, 0, "", "foo", 1, [], {}])
def test_exists_counts_falsy_values_as_existing(value: Any) -> None:  # 43
    assert op("exists", value, None)
    assert not op("nexists", value, None)


def test_exists_and_nexists_on_none() -> None:
    assert not op("exists", None, None)
    assert op("nexists", None, None)


def test_exists_ignores_the_pattern() -> None:
    assert op("exists", "x", "whatever")
    assert not op("exists", None, "whatever")
    assert op("nexists", None, "whatever")


# --- 44-45 inside / ninside ------------------------------------------------------


def test_inside() -> None:
    assert not op("inside", "a", None)  # 44
    assert not op("inside", "a", "bcd")
    assert op("inside", "a", "abc")
    assert op("inside", b"a", "abc")
    assert op("inside", "a", b"abc")
    assert op("inside", "prod", ["prod", "staging"])
    assert not op("inside", "dev", ["prod", "staging"])


def test_ninside() -> None:
    assert not op("ninside", "a", None)  # 45
    assert not op("ninside", "a", "abc")
    assert op("ninside", "a", "bcd")
    assert op("nin", "dev", ["prod", "staging"])


def test_inside_a_string_with_a_number_fails() -> None:
    check_raises("inside", 1, "123", "operator 'inside' cannot look for int 1 in str '123'")


# --- 46 lookup -------------------------------------------------------------------


def test_get_operator_ignores_case() -> None:  # 46
    assert get_operator("equals") is get_operator("EQUALS") is get_operator("Equals")


def test_get_operator_rejects_unknown_names() -> None:
    with pytest.raises(UnknownOperatorError) as caught:
        get_operator("weird")
    assert str(caught.value) == ("unknown criteria operator 'weird'; use one of: " + ", ".join(sorted(ALL_NAMES)))
    assert caught.value.name == "weird"
    with pytest.raises(UnknownOperatorError):
        canonical_name("weird")


# --- shared rules -----------------------------------------------------------------


def test_search_is_known_but_needs_the_criteria_engine() -> None:
    with pytest.raises(MatchError) as caught:
        op("search", [1], {})
    assert str(caught.value) == "operator 'search' needs child criteria; evaluate it with st2lite.criteria"


def test_undecodable_bytes_fail() -> None:
    check_raises("equals", b"\xff", "x", "operator 'equals' cannot decode bytes b'\\xff' as UTF-8")


def test_errors_keep_the_original_cause() -> None:
    with pytest.raises(MatchError) as caught:
        op("lt", "a", 1)
    assert isinstance(caught.value.__cause__, TypeError)


def test_describe_shortens_long_values() -> None:
    assert describe(None) == "None"
    assert describe("a") == "str 'a'"
    assert len(describe("x" * 1000)) < 80
