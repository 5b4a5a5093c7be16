"""Args, Returns and Raises entries with content from the code; placeholders marked and turned into tab stops."""

from __future__ import annotations

import re

import pytest

from devassist.evaluation.docstring import entry_counts
from devassist.server.features.docstring import DocstringFeature
from devassist.server.handlers_features import snippet_edits_supported
from devassist.server.parsing import definitions

F = DocstringFeature()


def doc_of(src: str, name: str, style: str = "google") -> str:
    """The generated docstring text of the definition called `name`."""
    (defn,) = [d for d in definitions(src) if d.name == name]
    return F.edit_for(src, defn.start_line, 0, style).docstring


def entry(doc: str, name: str) -> str:
    """The description of one Google entry."""
    match = re.search(rf"^    {re.escape(name)}(?: \([^)]*\))?: (.*)$", doc, re.M)
    assert match, doc
    return match.group(1)


USAGE = '''import json


def apply_all(func, items, out=None, *, encoder: json.JSONEncoder | None = None, limit=10):
    if out is None:
        out = []
    for item in items:
        out.append(func(item))
    if len(out) > limit:
        raise ValueError(f"more than {limit} results")
    return json.dumps(out, cls=encoder)
'''


def test_parameters_are_described_by_their_use_and_defaults():
    doc = doc_of(USAGE, "apply_all")
    assert entry(doc, "func") == "A callable; it is called."
    assert entry(doc, "items") == "Iterated over."
    assert entry(doc, "out") == ("Passed to ``len`` and ``json.dumps``. Used through its ``append`` method. "
                                 "Defaults to ``None``.")
    assert entry(doc, "encoder") == "Passed to ``json.dumps``. Defaults to ``None``."
    assert entry(doc, "limit") == "Defaults to ``10``."
    assert 'ValueError: If ``len(out) > limit`` ("more than {limit} results").' in doc


def test_a_call_written_over_several_lines_is_named_on_one_line():
    src = ("def parse_form_data(environ, silent=True):\n    return FormDataParser(\n        silent=silent,\n"
           "    ).parse_from_environ(environ)\n")
    doc = doc_of(src, "parse_form_data")
    assert entry(doc, "environ") == "Passed to ``FormDataParser(...).parse_from_environ``."
    assert entry(doc, "silent") == "Passed to ``FormDataParser``. Defaults to ``True``."


def test_an_exception_caught_by_its_own_try_is_not_raised_to_the_caller():
    src = ("def get_root_path(name):\n    try:\n        spec = find_spec(name)\n        if spec is None:\n"
           "            raise ValueError\n    except (ImportError, ValueError):\n        spec = None\n"
           "    if spec is None:\n        raise RuntimeError('no root path')\n    return spec.origin\n")
    doc = doc_of(src, "get_root_path")
    assert "ValueError" not in doc and "RuntimeError: If ``spec is None``" in doc
    other = "def f(x):\n    try:\n        raise KeyError(x)\n    except ValueError:\n        pass\n"
    assert "KeyError:" in doc_of(other, "f")  # another class gets through


def test_returns_describe_the_value_and_never_echo_it():
    cases = {
        "def first(items):\n    return items[0]\n": "The item of ``items`` at ``0``.",
        "class A:\n    def name(self):\n        return self._name\n": "The instance's ``_name`` attribute.",
        "def count_lines(text):\n    return len(text.splitlines())\n": "int: The number of items in ``text.splitlines()``.",
        "def ids(rows):\n    out = []\n    for r in rows:\n        out.append(r.id)\n    return out\n": "list: The list built in ``out``.",
        "class B:\n    def add(self, x):\n        self.x = x\n        return self\n": "This instance, so that calls can be chained.",
        "def has_key(d, k):\n    return k in d\n": "bool: Whether ``d`` has key.",
        "def wrap(func):\n    def inner(*a):\n        return func(*a)\n    return inner\n": "The inner function ``inner``.",
        "def lookup(k):\n    if k:\n        return TABLE[k]\n    return None\n": "The item of ``TABLE`` at ``k``, or ``None``.",
        "def pair(a, b):\n    return a, b\n": "tuple: A tuple of ``a`` and ``b``.",
        "def nothing():\n    return ()\n": "tuple: TODO: describe the return value.",
    }
    for src, expected in cases.items():
        name = definitions(src)[-1].name if "class" in src else definitions(src)[0].name
        doc = doc_of(src, name)
        returns = doc.split("Returns:\n")[1].splitlines()[0].strip()
        assert returns == expected, src
        assert entry_counts(doc, "google")["returns_echo"] == 0


def test_nothing_to_say_gives_a_marked_placeholder_not_an_empty_entry():
    doc = doc_of("def frob(x):\n    return x * 2\n", "frob")
    counts = entry_counts(doc, "google")
    assert counts["empty"] == 0 and counts["echo"] == 0 and counts["placeholder"] == 2  # x, and the return value
    assert "TODO: describe ``x``." in doc


def test_placeholders_become_tab_stops_in_a_snippet():
    src = "def frob(x, cost='$5 {a}'):\n    return x * 2\n"
    edit = F.edit_for(src, 0, 0)
    snippet = edit.snippet
    assert "${1:TODO: summarize what ``frob`` does.}" in snippet
    assert "${2:TODO: describe ``x``.}" in snippet and "${3:TODO: describe the return value.}" in snippet
    assert "\\$5 {a\\}" in snippet  # a literal $ and } from the code cannot start or end a tab stop
    assert edit.has_placeholder and not F.edit_for("def read_config(path):\n    return open(path)\n", 0, 0).has_placeholder


@pytest.mark.parametrize("caps,expected", [
    ({"workspace": {"workspace_edit": {"snippet_edit_support": True}}}, True),
    ({"workspace": {"workspace_edit": {}}}, False),
    ({}, False),
], ids=["declared", "not-declared", "no-workspace"])
def test_snippets_only_for_clients_that_declare_them(caps, expected):
    class Obj:
        def __init__(self, d):
            for k, v in d.items():
                setattr(self, k, Obj(v) if isinstance(v, dict) else v)

    class Server:
        client_capabilities = Obj(caps)

    assert snippet_edits_supported(Server()) is expected


def test_yields_are_described_or_marked_never_left_empty():
    src = ("from typing import Iterator\n\ndef walk(nodes) -> Iterator[int]:\n    for n in nodes:\n        yield n.id\n\n"
           "def both(a, b):\n    yield a, b\n")
    walk, both = doc_of(src, "walk"), doc_of(src, "both")
    assert walk.endswith("Yields:\n    int: TODO: describe the yielded items.")
    assert both.endswith("Yields:\n    A tuple of ``a`` and ``b``.")
    assert entry_counts(walk, "google")["empty"] == 0 and entry_counts(both, "google")["empty"] == 0
