"""Summaries say only what the code supports; the model is rewritten, gated, or replaced by the parse's summary."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.faithful import allowed_context, mentions, ungrounded, unsupported, vocabulary
from devassist.server.features.docstring.summary import FimSummarizer
from devassist.server.parsing import definitions, parse

CASE_MATCH = ("import re\n\n\ndef _match_case(word, pattern):\n    if pattern.isupper():\n"
              "        return word.upper()\n    return word.lower()\n")


def test_mentions_are_identifiers_numbers_acronyms_and_names():
    found = mentions("Matching from RFC 2822 and disciple (LRFC 2965) format from RefceWrite to RFC 222 and.")
    assert found == ["RFC", "2822", "LRFC", "2965", "RefceWrite", "RFC", "222"]
    assert mentions("Return the list of items, or None.") == []  # plain words state nothing checkable
    assert mentions("Send ``msg`` to the Postgres server over HTTP.") == ["msg", "Postgres", "HTTP"]
    assert mentions("TODO: summarize what ``f`` does.") == ["f"]  # the placeholder invents nothing


def test_the_issue_example_is_caught_and_sub_words_support_a_mention():
    (defn,) = definitions(CASE_MATCH)
    data = CASE_MATCH.encode()
    allowed = allowed_context(defn, data, parse(data))
    bad = "Matching from RFC 2822 and disciple (LRFC 2965) format from RefceWrite to RFC 222 and."
    assert set(unsupported(bad, allowed)) == {"RFC", "2822", "LRFC", "2965", "RefceWrite", "222"}
    assert unsupported("Match the case of ``word`` to ``pattern``.", allowed) == []
    assert unsupported("Parse an RFC 2822 date.", vocabulary("def parse_rfc2822(s): ...")) == []


def test_numbers_spelled_out_are_mentions_the_code_must_back():
    assert mentions("Find the best four for the given module.") == ["four"]
    assert mentions("Return one item.") == []  # "one" is a pronoun too
    app = vocabulary("def find_best_app(module):\n    return module.app\n")
    assert unsupported("Find the best four for the given module.", app) == ["four"]
    assert unsupported("Split ``x`` into two halves.", vocabulary("def halves(x):\n    return x[: len(x) // 2]\n")) == []


def test_allowed_context_is_the_function_its_class_imports_and_call_sites():
    src = ("import hashlib\nfrom os import path as osp\n\nSECRET = 'unrelated'\n\n"
           "class Vault:\n    ALGORITHM = 'sha256'\n\n    def digest(self, blob):\n        return hashlib.new(self.ALGORITHM, blob)\n\n"
           "def other():\n    Vault().digest(b'payload')\n")
    data = src.encode()
    defn = next(d for d in definitions(src) if d.name == "digest")
    allowed = allowed_context(defn, data, parse(data))
    assert {"hashlib", "osp", "vault", "sha256", "payload"} <= allowed  # imports, class, the call site's line
    assert "secret" not in allowed and "unrelated" not in allowed


class WordLM:
    """A model with our decoding hooks that prefers a sentence with an invented standard.

    Its preferred next word follows a table; a banned token makes it take its second choice.
    """

    has_fim = True
    context_length = 256
    special_ids = {"fim_prefix": 0, "fim_suffix": 1, "fim_middle": 2, "eot": 3}
    eot_id = 3
    WORDS = ["<p>", "<s>", "<m>", "<e>", "Match", " RFC", " 2822", " case", " the", " of", " word", ".", " "]
    NEXT = {(): [4], (4,): [5, 8], (5,): [6], (6,): [11], (8,): [7], (7,): [9], (9,): [10], (10,): [11]}

    def __init__(self):
        self.calls = 0

    def encode(self, text):
        return [12] * min(len(text), 40)

    def decode(self, ids):
        return "".join(self.WORDS[i] for i in ids if i >= 4)

    def forward(self, ids, past=None):  # present so the summarizer uses its decoding hooks
        raise AssertionError("not used by this stand-in")

    def generate(self, prompt_ids, max_new_tokens=32, should_stop=None, deadline=None, is_cancelled=None,
                 logits_processor=None, reuse=None):
        self.calls += 1
        out = []
        for _ in range(max_new_tokens):
            logits = np.full(len(self.WORDS), -8.0)
            for rank, token in enumerate(self.NEXT.get(tuple(out[-1:]), [self.eot_id])):
                logits[token] = 2.0 - rank
            scores = logits_processor(logits, out) if logits_processor else logits
            token = int(np.argmax(scores))
            if token == self.eot_id:
                break
            out.append(token)
            if should_stop and should_stop(out):
                break

        class Result:
            ids, stop_reason, elapsed_ms = out, "eot", 1.0
        return Result()


def test_an_unsupported_mention_is_written_again_with_its_token_banned():
    lm = WordLM()
    feature = DocstringFeature(summarizer=FimSummarizer(lm, no_repeat_ngram=0, faithful_retries=2))
    edit = feature.edit_for(CASE_MATCH, 3, 0)
    assert lm.calls == 2  # "Match RFC 2822." was rejected, then " RFC" banned
    assert edit.summary_source == "model" and edit.docstring.startswith("Match the case of word.")
    assert edit.confidence is not None and edit.confidence < 0


def test_without_retries_the_parse_summary_replaces_an_unfaithful_one():
    lm = WordLM()
    feature = DocstringFeature(summarizer=FimSummarizer(lm, no_repeat_ngram=0, faithful_retries=0))
    edit = feature.edit_for(CASE_MATCH, 3, 0)
    assert lm.calls == 1 and edit.summary_source in ("fallback", "placeholder")
    assert "RFC" not in edit.docstring


def test_by_default_a_sentence_with_an_unsupported_mention_is_not_rewritten():
    # the model's next try after an invented name is as confused ("Return the jinja version of the jedi."
    # after "Return the Jinja version of Jin JinJa."), so the parse's summary is shown
    lm = WordLM()
    edit = DocstringFeature(summarizer=FimSummarizer(lm, no_repeat_ngram=0)).edit_for(CASE_MATCH, 3, 0)
    assert lm.calls == 1 and edit.summary_source in ("fallback", "placeholder") and "RFC" not in edit.docstring


def test_the_confidence_gate_decides_whether_the_model_is_shown():
    shown = DocstringFeature(summarizer=FimSummarizer(WordLM(), no_repeat_ngram=0, min_confidence=-5.0,
                                                      faithful_retries=2))
    hidden = DocstringFeature(summarizer=FimSummarizer(WordLM(), no_repeat_ngram=0, min_confidence=-0.01,
                                                       faithful_retries=2))
    a, b = shown.edit_for(CASE_MATCH, 3, 0), hidden.edit_for(CASE_MATCH, 3, 0)
    assert a.summary_source == "model" and a.confidence >= -5.0
    assert b.summary_source != "model" and b.confidence == a.confidence  # same sentence, below the gate


def test_the_check_can_be_turned_off_to_measure_it():
    feature = DocstringFeature(summarizer=FimSummarizer(WordLM(), no_repeat_ngram=0), faithful=False)
    edit = feature.edit_for(CASE_MATCH, 3, 0)
    assert edit.summary_source == "model" and edit.docstring.startswith("Match RFC 2822.")
    ast.parse(edit.apply(CASE_MATCH))


@pytest.mark.parametrize("src,line,summary", [
    ("def indent(text, margin):\n    return ''.join(margin + l for l in text.splitlines(True))\n", 0,
     "Return ``text`` indented by ``margin``."),
    ("class Request:\n    def is_secure(self):\n        return self.scheme == 'https'\n", 1,
     "Return whether this request is secure."),
    ("def read_config(path):\n    with open(path) as fh:\n        return fh.read()\n", 0, "Read the config."),
    ("def map_to_type(v):\n    return TYPES[v]\n", 0, "Map to type."),
    ("class Store:\n    def __init__(self, items):\n        self.items = items\n", 1, "Initialize the store from ``items``."),
    ("class Base:\n    def run(self):\n        raise NotImplementedError\n", 1, "Not implemented here; subclasses override it."),
    ("def frob(x):\n    return x\n", 0, "TODO: summarize what ``frob`` does."),
    ("class HTTPServer:\n    pass\n", 0, "An HTTP server."),
    ("def str_to_bool(value):\n    return value == 'yes'\n", 0, "Convert str to bool."),
    ("class Bag:\n    def values(self):\n        for k in self.keys:\n            yield self[k]\n", 1,
     "Iterate over the values."),
    ("def iter_lines(stream):\n    yield from stream\n", 0, "Iterate over the lines."),
    ("def _nullpager(stream):\n    yield stream\n", 0, "TODO: summarize what ``_nullpager`` does."),
], ids=["transform", "predicate-method", "verb-object", "preposition", "init", "abstract", "placeholder", "class",
        "conversion", "generator", "iter-generator", "generator-not-named-for-what-it-yields"])
def test_the_parse_summary(src, line, summary):
    edit = DocstringFeature().edit_for(src, line, 0)
    assert edit.docstring.splitlines()[0] == summary
    assert edit.summary_source == ("placeholder" if summary.startswith("TODO") else "fallback")


@pytest.mark.parametrize("summary,own_code,off_topic", [
    ("Return true if the object is a string.", "def test_mapping(value):\n    return isinstance(value, abc.Mapping)\n",
     True),
    ("Install the files in the environment.", "def edit_files(self, filenames):\n    environ = os.environ.copy()\n", True),
    ("Return true if the object is a mapping.", "def test_mapping(value):\n    return isinstance(value, abc.Mapping)\n",
     False),
    ("Edit the files in the editor.", "def edit_files(self, filenames):\n    editor = self.get_editor()\n", False),
], ids=["no-word-of-the-code", "unknown-leading-verb", "about-it", "about-it-by-stems"])
def test_a_summary_about_another_function_is_refused(summary, own_code, off_topic):
    assert bool(ungrounded(summary, vocabulary(own_code))) is off_topic


BLUEPRINTS = ("class Request:\n    @property\n    def blueprints(self) -> list[str]:\n        name = self.blueprint\n"
              "        if name is None:\n            return []\n        return _split_blueprint_path(name)\n")


def test_a_summary_of_invented_content_words_or_a_word_cut_short_is_refused():
    defn = next(d for d in definitions(BLUEPRINTS) if d.name == "blueprints")
    data = BLUEPRINTS.encode()
    allowed, own = allowed_context(defn, data, parse(data)), vocabulary(BLUEPRINTS)
    bad = "Return a list of lists of blue segments for this image."  # the hand-rated misleading summary
    assert set(ungrounded(bad, own, allowed)) == {"blue", "segments", "image"}
    assert ungrounded("Return the names of the blueprints of this request.", own, allowed) == []
    assert ungrounded("Split the blueprint path into a list of names.", own, allowed) == []
    assert ungrounded(bad, own) == []  # without the allowed context only the verb and topic rules apply


@pytest.mark.parametrize("src,summary,refuted", [
    ("def is_ascii_encoding(encoding: str) -> bool:\n    return codecs.lookup(encoding).name == 'ascii'\n",
     "Check if the encoding is a string.", True),
    ("def test_number(value):\n    return isinstance(value, Number)\n", "Return true if the object is a number.", False),
    ("def copy_current_request_context(f):\n    ctx = current().copy()\n\n    def wrapper(*args):\n"
     "        with ctx:\n            return f(*args)\n\n    return update_wrapper(wrapper, f)\n",
     "Return a copy of the current request context.", True),
    ("def copy_current_request_context(f):\n    def wrapper(*args):\n        return f(*args)\n\n    return wrapper\n",
     "Return a function that runs ``f`` in a copy of the current request context.", False),
    ("def current_context():\n    return _stack[-1].copy()\n", "Return a copy of the current context.", False),
    ("def get_load_dotenv(default=True):\n    val = os.environ.get('SKIP')\n    if not val:\n        return default\n"
     "    return val.lower() in ('0', 'false')\n", "Returns True if ``default`` is a load-only, False otherwise.", True),
    ("def is_empty(items):\n    return len(items) == 0\n", "Return True if ``items`` is empty.", False),
    ("def split_into_batches(records, size):\n    n = len(records) // size\n"
     "    return [records[i * size:(i + 1) * size] for i in range(n)]\n",
     "Split a batch of size into a single batch.", True),
    ("def first_batch(records, size):\n    return records[:size]\n", "Return a single batch of ``records``.", False),
    ("def call_stack(stack):\n    return stack.top()\n",
     "Call the stack where the stack is a string.", True),
], ids=["type-test-without-one", "type-test", "decorator-said-to-return-a-value", "decorator-said-to-return-a-function",
        "plain-return", "condition-on-a-parameter-never-examined", "condition-on-an-examined-parameter",
        "a-single-one-said-of-a-list", "a-single-one-returned", "type-stated-without-a-test"])
def test_claims_the_parse_refutes(src, summary, refuted):
    from devassist.server.features.docstring.facts import function_facts
    from devassist.server.features.docstring.faithful import false_claims

    defn = definitions(src)[0]
    facts = function_facts(defn, src.encode())
    assert bool(false_claims(summary, facts, vocabulary(src))) is refuted
