"""The settings tree: defaults, camelCase on the wire, warnings instead of crashes."""

import json

import pytest

from devassist.server.settings import Settings, parse_settings, snake, to_wire


def test_defaults_and_round_trip():
    s, warnings = parse_settings(None)
    assert warnings == [] and s == Settings()
    wire = to_wire(s)
    assert wire["completion"]["maxTokens"] == 48 and wire["review"]["threshold"] == 99.0
    again, warnings = parse_settings(wire)
    assert again == s and warnings == []


def test_camel_case_values_apply():
    s, warnings = parse_settings({"completion": {"maxTokens": 16, "timeBudgetMs": 50, "multiline": False},
                                  "docstring": {"style": "numpy"}})
    assert (s.completion.max_tokens, s.completion.time_budget_ms, s.completion.multiline) == (16, 50, False)
    assert s.docstring.style == "numpy" and warnings == []


def test_invalid_values_keep_defaults_with_a_warning():
    s, warnings = parse_settings({"completion": {"maxTokens": -3, "enabled": "yes"}, "docstring": {"style": "weird"},
                                  "review": "nope"})
    assert s.completion.max_tokens == 48 and s.completion.enabled is True and s.docstring.style == "google"
    assert len(warnings) == 4
    assert any("maxTokens" in w for w in warnings) and any("style" in w for w in warnings)


def test_section_name_tolerated_and_base_kept():
    base, _ = parse_settings({"completion": {"maxTokens": 20}})
    s, _ = parse_settings({"devassist": {"review": {"enabled": False}}}, base)
    assert s.completion.max_tokens == 20 and s.review.enabled is False


def test_not_an_object():
    s, warnings = parse_settings(["x"])
    assert s == Settings() and warnings


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), json.loads("1e999")],
                         ids=["inf", "-inf", "nan", "1e999"])
@pytest.mark.parametrize("key", ["maxTokens", "cacheMix"])
def test_non_finite_numbers_keep_the_default_with_a_warning(key, value):
    settings, warnings = parse_settings({"completion": {key: value}})
    assert getattr(settings.completion, snake(key)) == getattr(Settings().completion, snake(key))
    assert len(warnings) == 1 and "finite" in warnings[0] and f"completion.{key}" in warnings[0]


def test_the_docstring_summary_policy_is_one_of_three():
    s, warnings = parse_settings({"docstring": {"summary": "parse-first"}})
    assert s.docstring.summary == "parse-first" and warnings == []
    s, warnings = parse_settings({"docstring": {"summary": "guess"}})
    assert s.docstring.summary == Settings().docstring.summary and any("summary" in w for w in warnings)
