"""Model sentences whose shape gives them away, and sentences that promise a value the function never gives."""

from __future__ import annotations

import pytest
from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.facts import function_facts
from devassist.server.features.docstring.faithful import promises_missing_value
from devassist.server.features.docstring.sentence_shape import (
    kind_of_itself,
    moves_to_itself,
    negates_test,
    stutters,
)
from devassist.server.parsing import definitions

from tests.unit.test_docstring_anchor import KEYS, Fixed


@pytest.mark.parametrize("summary,why", [
    ("Split a string into a string.", ["str"]),
    ("Get list of key-value pairs from a key.", ["key"]),  # werkzeug `MultiDict.getlist`
    ("Create a new header from a header.", ["header"]),
    ("Split a string into a list of words.", []),
    ("Copy the file from the source to the target.", []),
    ("Return the key of the key.", []),  # no move: `invented_object` and the others judge it
], ids=["into-itself", "from-itself", "created-from-itself", "into-another", "two-moves", "no-move"])
def test_a_sentence_that_moves_a_thing_to_itself_is_refused(summary, why):
    assert moves_to_itself(summary) == why


def test_the_feature_shows_the_parse_summary_for_a_sentence_that_moves_a_thing_to_itself():
    edit = DocstringFeature(summarizer=Fixed("Return a new keys name from a keys name.")).edit_for(KEYS, 1, 0)
    assert edit.summary_source != "model"


@pytest.mark.parametrize("summary,why", [
    ("Get a JSON JSON string for the given JSON string.", ["json"]),
    ("Return a dictionary of empty empty empty values.", ["empty"]),
    ("Return the JSON string for the given JSON object.", []),
    ("Set that that flag.", ["that"]),
], ids=["twice", "three-times", "repeated-not-adjacent", "grammar-word"])
def test_a_word_written_twice_in_a_row_gives_the_sentence_away(summary, why):
    assert stutters(summary) == why


@pytest.mark.parametrize("summary,name,why", [
    ("Check if a header is an opaque header.", "is_hop_by_hop_header", ["opaque"]),
    ("Check if the logging level is a level.", "_has_level_handler", ["level"]),
    ("Check if an error is a ssl error.", "is_ssl_error", []),  # the name says "ssl"
    ("Check if a file is a zip file.", "is_zipfile", []),  # inside a name written as one word
    ("Check if the path is a resource.", "is_resource", []),  # not a kind of itself
    ("Return the header.", "get_header", []),
], ids=["invented-kind", "nothing-but-itself", "named-kind", "named-in-one-word", "another-thing", "no-claim"])
def test_a_thing_called_a_kind_of_itself_needs_the_name_to_say_which(summary, name, why):
    assert kind_of_itself(summary, name) == why


@pytest.mark.parametrize("summary,name,body,why", [
    ("Check if a given pwhash is not a hash of the given p.", "check_password_hash",
     "    return hmac.compare_digest(a, b)\n", ["not"]),
    ("Check if the given parameter is not a valid color.", "var_changed_color", "    self.changed = True\n", ["not"]),
    ("Return True if the value is not set.", "is_unset", "    return not self._set\n", []),  # the body negates
    ("Check if the key is not present.", "key_missing", "    return key in self\n", []),  # the name negates
    ("Return the value if it is not None.", "get_value", "    return self.value\n", []),  # not a yes/no sentence
], ids=["turned-around", "turned-around-without-return", "body-negates", "name-negates", "not-a-test"])
def test_a_yes_no_sentence_may_not_turn_the_answer_around(summary, name, body, why):
    assert negates_test(summary, name, body) == why


@pytest.mark.parametrize("src,summary,why", [
    ("def abort(code, *args) -> t.NoReturn:\n    current_app.aborter(code, *args)\n    _wz_abort(code, *args)\n",
     "Make a new abort for the given code.", "Make"),
    ("def get_color(self, name):\n    self.color = self.theme[name]\n", "Return color dict for color in theme.", "Return"),
    ("def is_ready(self):\n    self.ready = True\n", "Whether the page is ready.", "Whether"),
    ("def create_tables(self):\n    self.db.execute('CREATE TABLE t (x)')\n", "Create the tables.", None),  # a side effect
    ("def get_color(self, name):\n    return self.theme[name]\n", "Return the color for ``name``.", None),
    ("def get_color(self, name):\n    ...\n", "Return the color for ``name``.", None),  # a stub
    ("def get_color(self, name):\n    raise NotImplementedError\n", "Return the color.", None),  # abstract
    ("def __init__(self, name):\n    self.name = name\n", "Create a new color.", None),  # a constructor
    ("def lines(self):\n    for x in self.xs:\n        yield x\n", "Return the lines.", None),  # a generator
], ids=["make-but-never-returns", "return-but-gives-nothing", "whether-but-gives-nothing", "create-as-side-effect",
        "returns", "stub", "abstract", "constructor", "generator"])
def test_a_sentence_may_not_promise_a_value_the_function_never_gives(src, summary, why):
    facts = function_facts(definitions(src)[0], src.encode())
    assert promises_missing_value(summary, facts) == why


def test_the_feature_shows_no_model_sentence_promising_a_value_for_a_function_that_raises():
    src = "def abort(code) -> t.NoReturn:\n    _wz_abort(code)\n"
    edit = DocstringFeature(summarizer=Fixed("Make a new abort for the given code.")).edit_for(src, 0, 4)
    assert edit.summary_source != "model"
    assert "Returns:" not in edit.docstring  # `t.NoReturn` means nothing comes back


PARSED = "def compile_rules(environment):\n    return [environment]\n"  # the parse says "Compile the rules."
UNNAMED = "def tell(stream):\n    return stream.pos\n"  # a one-word name the parse cannot make a sentence of
SAID = {PARSED: "Compile rules for a given environment.", UNNAMED: "Tell the position of ``stream``."}


@pytest.mark.parametrize("policy,src,source", [
    ("model", PARSED, "model"),
    ("parse-first", PARSED, "fallback"),
    ("parse-first", UNNAMED, "model"),
    ("parse", PARSED, "fallback"),
    ("parse", UNNAMED, "placeholder"),
], ids=["model", "parse-first-with-a-parse", "parse-first-without", "parse", "parse-placeholder"])
def test_the_summary_policy_decides_who_writes_the_summary_line(policy, src, source):
    feature = DocstringFeature(summarizer=Fixed(SAID[src]), summary=policy)
    assert feature.edit_for(src, 0, 4).summary_source == source
    overridden = DocstringFeature(summarizer=Fixed(SAID[src])).edit_for(src, 0, 4, summary=policy)
    assert overridden.summary_source == source
