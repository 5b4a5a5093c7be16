"""A model sentence must name what the function's own name says: a word of the name, its action, its object."""

from __future__ import annotations

import pytest

from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.anchor import (
    action, anchored, contradicts_name, general_name, general_name_unbacked, invented_object,
    name_words)
from devassist.server.features.docstring.simple import Summary

USAGE = ("class Command:\n    def get_usage(self, ctx):\n        formatter = ctx.make_formatter()\n"
         "        self.format_usage(ctx, formatter)\n        return formatter.getvalue()\n")


class Fixed:
    """A summarizer that always answers the same sentence, as if a model had written it."""

    name = "model"

    def __init__(self, text: str):
        self.text = text

    def summarize(self, request, deadline=None, is_cancelled=None):
        """The fixed sentence, claimed by the model."""
        return Summary(self.text, source="model")


@pytest.mark.parametrize("summary,name,ok", [
    ("Get the formatter for a given context.", "get_usage", False),
    ("Return the usage line for ``ctx``.", "get_usage", True),
    ("Open the file and return a stream.", "close", False),
    ("Close the file and write the records.", "close", True),
    ("Get a reader object for the given encoding.", "getreader", True),  # a name written as one word
    ("Return a list of file names in the archive.", "namelist", True),
    ("Return the position of the stream.", "tell", False),
    ("Return the value of the object.", "__getattr__", True),  # a dunder sets no condition
    ("Return the value for the key.", "get", True),  # nothing but a general word
    ("Remove the files.", "_remove_filenames", True),  # stems: files / filenames
], ids=["other-object", "its-object", "other-action", "its-action", "compound", "compound-plural", "synonym-not-known",
        "dunder", "generic-name", "stems"])
def test_a_summary_shares_a_word_with_the_name(summary, name, ok):
    assert anchored(summary, name) is ok


def test_name_words_leave_out_general_words_and_dunders():
    assert name_words("get_usage") == {"usage"}
    assert name_words("is_set_to_value") == set()
    assert name_words("__init__") == set()
    assert name_words("parseRFCDate") == {"parse", "rfc", "date"}


def test_action_reads_verb_forms():
    assert [action(w) for w in ("Sets", "Creates", "Parsed", "Loads", "the", "Returns")] == [
        "set", "create", "parse", "load", None, "return"]


@pytest.mark.parametrize("summary,name,prop,why", [
    ("Sets the cookie(s) given as a dict.", "delete_cookie", False, ["Sets"]),
    ("Delete a cookie by its key.", "delete_cookie", False, []),
    ("Remove the cookie.", "delete_cookie", False, []),  # the same action in other words
    ("Create a copy of ``self``.", "make_copy", False, []),
    ("Check if the request has been sent.", "_process_range_request", False, ["Check"]),
    ("Parse a sequence of strings.", "parse_list_header", False, ["header", "list"]),
    ("Parse a list header into a list.", "parse_list_header", False, []),
    ("Return a :class:`Accept` object.", "accept_encodings", True, []),  # a property's name is a noun
    ("Return a :class:`Accept` object.", "accept_encodings", False, ["Return"]),  # "accept" is a verb
    ("The next line of the stream.", "__next__", False, []),
    ("Add lp spec to the user.", "addr_spec", True, ["Add"]),  # reading a property does no other act
    ("Get the current host, or a string of the host.", "get_current_url", False, ["url"]),  # "current" is GENERIC
], ids=["other-verb", "same-verb", "synonym", "make-create", "check-for-process", "object-missing", "object-named",
        "property", "not-a-property", "dunder", "property-doing-another-act", "generic-word-inside-the-name"])
def test_a_verb_first_name_fixes_the_action_and_its_object(summary, name, prop, why):
    assert contradicts_name(summary, name, prop) == why


def test_the_feature_replaces_a_sentence_about_another_object_by_the_parse_summary():
    edit = DocstringFeature(summarizer=Fixed("Get the formatter for a given context.")).edit_for(USAGE, 1, 0)
    assert edit.summary_source == "fallback"
    assert edit.docstring.splitlines()[0] == "Return the usage for ``ctx``."


def test_the_feature_keeps_a_sentence_that_names_the_functions_object():
    edit = DocstringFeature(summarizer=Fixed("Return the usage line for ``ctx``.")).edit_for(USAGE, 1, 0)
    assert edit.summary_source == "model"
    assert edit.docstring.splitlines()[0] == "Return the usage line for ``ctx``."


def test_the_check_off_shows_the_sentence_as_written():
    feature = DocstringFeature(summarizer=Fixed("Get the formatter for a given context."), faithful=False)
    assert feature.edit_for(USAGE, 1, 0).docstring.splitlines()[0] == "Get the formatter for a given context."


@pytest.mark.parametrize("src,line,summary", [
    ("class Client:\n    def post(self, *args, **kw):\n        return self.open(*args, method='POST', **kw)\n", 1,
     "TODO: summarize what ``post`` does."),  # not "Post this client."
    ("class Client:\n    def head(self, *args, **kw):\n        return self.open(*args, **kw)\n", 1,
     "TODO: summarize what ``head`` does."),  # not "Return the head."
    ("class Parser:\n    def parse(self):\n        return self.subparse()\n", 1,
     "TODO: summarize what ``parse`` does."),  # not "Parse this parser."
    ("class Stream:\n    def tell(self):\n        return self._pos\n", 1, "TODO: summarize what ``tell`` does."),
    ("class Encoder:\n    def getstate(self):\n        return self.buffer\n", 1, "Return the state."),
    ("class HeaderSet:\n    def update(self, iterable):\n        for h in iterable:\n            self.add(h)\n", 1,
     "Update this header set with ``iterable``."),
    ("class Request:\n    @property\n    def is_json(self):\n        return self.mimetype == 'application/json'\n", 2,
     "Return whether this request is json."),
    ("class Cycler:\n    def reset(self):\n        self.pos = 0\n", 1, "Reset this cycler."),
    ("class Flask:\n    def full_dispatch_request(self):\n        return self.finalize_request(self.dispatch())\n", 1,
     "TODO: summarize what ``full_dispatch_request`` does."),  # not "Return the full dispatch request."
    ("def group(name=None, cls=None, **attrs):\n    return command(name, cls, **attrs)\n", 0,
     "TODO: summarize what ``group`` does."),  # not "Return ``name`` grouped by ``cls``."
    ("def indent(text, margin):\n    return margin + text\n", 0, "Return ``text`` indented by ``margin``."),
    ("class NodeTransformer:\n    def visit_list(self, node):\n        return [self.visit(node)]\n", 1,
     "TODO: summarize what ``visit_list`` does."),  # not "Visit the list.": it visits a node
    ("def sync_do_first(environment, seq):\n    return next(iter(seq))\n", 0,
     "TODO: summarize what ``sync_do_first`` does."),  # not "Sync the do first."
    ("class LoopContext:\n    @property\n    def first(self) -> bool:\n        return self.index0 == 0\n", 2,
     "Whether this loop context is first."),  # not "The first.": a truth value, not an item
    ("class Sandbox:\n    def is_safe_callable(self, obj):\n        return not getattr(obj, 'unsafe', False)\n", 1,
     "TODO: summarize what ``is_safe_callable`` does."),  # of `obj`, not "this sandbox"
    ("def is_internal_attribute(obj, attr):\n    return attr.startswith('__')\n", 0,
     "TODO: summarize what ``is_internal_attribute`` does."),  # of `attr` on `obj`: which one is unsure
    ("def is_ascii_encoding(encoding):\n    return encoding == 'ascii'\n", 0,
     "Return whether ``encoding`` is ascii encoding."),
], ids=["passes-everything-on", "passes-everything-on-returns", "verb-of-its-class", "one-word-name-may-be-a-verb",
        "compound-getter", "updated-with-its-argument", "predicate-property", "verb-on-this", "no-known-verb",
        "transform-of-an-optional-argument", "transform", "visitor-dispatch", "grammar-word-in-the-noun",
        "truth-valued-property", "predicate-method-with-an-argument", "predicate-of-two-arguments",
        "predicate-of-one-argument"])
def test_the_parse_summary_says_nothing_it_cannot_know(src, line, summary):
    edit = DocstringFeature().edit_for(src, line, 0)
    assert edit.docstring.splitlines()[0] == summary


@pytest.mark.parametrize("summary,name,why", [
    ("Reads a prompt function from a text.", "prompt", ["Reads"]),  # the body's `_readline_prompt` is no evidence
    ("Prompt the user for input.", "prompt", []),
    ("Return the value the user typed.", "user_input", []),  # a general action, a name with no verb
    ("Generate salt for a given length.", "gen_salt", []),  # `gen` abbreviates the action
    ("Remove a connection to the socket.", "sock_recv", ["Remove"]),
    ("End the writing process started by `start_write`.", "simple_write", ["End"]),
], ids=["other-action", "its-action", "general-action", "abbreviation", "other-action-2", "end-for-write"])
def test_an_action_the_name_does_not_name_is_refused(summary, name, why):
    assert contradicts_name(summary, name) == why


REGISTER = ("class Blueprint:\n    def app_url_value_preprocessor(self, f):\n"
            "        self.record_once(lambda s: s.app.url_value_preprocessors.append(f))\n        return f\n")


@pytest.mark.parametrize("summary,source", [
    ("Return a T_url_value_preprocessor instance.", "fallback"),  # gives ``f`` back; registering is the point
    ("Return ``f`` after recording it as a url value preprocessor of the app.", "model"),
], ids=["return-claim-without-the-argument", "names-the-argument"])
def test_a_function_that_gives_its_argument_back_is_not_said_to_return_something_else(summary, source):
    edit = DocstringFeature(summarizer=Fixed(summary)).edit_for(REGISTER, 1, 0)
    assert edit.summary_source in ((source,) if source == "model" else ("fallback", "placeholder"))


def test_an_argument_assigned_before_it_is_returned_is_a_new_value():
    from devassist.server.features.docstring.facts import function_facts
    from devassist.server.features.docstring.faithful import returned_argument
    from devassist.server.parsing import definitions

    def given_back(src):
        (defn,) = definitions(src)
        return returned_argument(function_facts(defn, src.encode()), src.split(":", 1)[1])

    assert given_back("def deco(f):\n    REGISTRY.append(f)\n    return f\n") == "f"
    assert given_back("def clean(name):\n    name = name.strip()\n    return name\n") is None
    assert given_back("def grow(n):\n    n += 1\n    return n\n") is None
    assert given_back("def pick(a, b):\n    if a:\n        return a\n    return b\n") is None


PARSER = "class Parser:\n    def parse(self) -> 'Template':\n        result = Template(self.subparse())\n        return result\n"


@pytest.mark.parametrize("summary,name,shown", [
    ("Parse a list of environment variables.", "parse", False),  # nothing of the signature
    ("Parse the whole template.", "parse", True),  # the return annotation
    ("Parse the tokens of this parser.", "parse", True),  # the class
    ("Parse this parser's tokens.", "parse", False),  # the class, but it ends on an invented object (`invented_object`)
], ids=["unnamed-object", "return-annotation", "class", "class-invented-object"])
def test_a_one_word_name_needs_an_object_the_signature_names(summary, name, shown):
    edit = DocstringFeature(summarizer=Fixed(summary)).edit_for(PARSER, 1, 0)
    assert (edit.summary_source == "model") is shown


def test_a_methods_one_argument_is_not_taken_for_the_verbs_object():
    src = "class ZipExtFile:\n    def read(self, n):\n        return self._buf[:n]\n"
    assert DocstringFeature().edit_for(src, 1, 0).docstring.splitlines()[0] == "TODO: summarize what ``read`` does."
    assert DocstringFeature().edit_for("def send(msg):\n    SOCK.send(msg)\n", 0, 0).docstring.startswith("Send ``msg``.")



@pytest.mark.parametrize("name,general", [
    ("get", True), ("set_value", True), ("getitem", True), ("__call__", True), ("__getitem__", True), ("f", True),
    ("get_usage", False), ("setpassword", False), ("__init__", False), ("parse", False),
], ids=["get", "set-value", "compound", "dunder", "compound-dunder", "one-letter", "object", "compound-object",
        "init", "verb"])
def test_general_name_is_made_of_general_words_only(name, general):
    assert general_name(name) is general


CACHE = ("class Cache:\n    def get(self, key, default=None):\n        try:\n            return self[key]\n"
         "        except KeyError:\n            return default\n")
HEADERS = ("class Headers:\n    def set(self, key, value):\n        self._list = [h for h in self._list if h[0] != key]\n"
           "        self._list.append((key, value))\n        if key == 'Content-Type':\n            self.changed()\n")


@pytest.mark.parametrize("src,summary,why", [
    (CACHE, "Return a new key-value pair.", ["pair"]),  # no pair is made: the cached value comes back
    (CACHE, "Return the cached value for the key, or the default.", []),  # the class and the parameters
    (HEADERS, "Set a value to the Content-Type header.", ["Content", "Type"]),  # a body string backs nothing
    (HEADERS, "Set the value for the key in these headers.", []),
    ("class Job:\n    def run(self):\n        self.flush_buffer()\n", "Run and flush the buffer.", []),  # a called name
    ("class Job:\n    def run(self):\n        self.flush_buffer()\n", "Run the server where it is.", ["server"]),
], ids=["pair", "cached-value", "body-string", "signature", "called-name", "grammar-words-skipped"])
def test_a_general_name_holds_every_content_word_to_the_functions_own(src, summary, why):
    from devassist.server.features.docstring.facts import function_facts
    from devassist.server.parsing import definitions

    defn = [d for d in definitions(src) if d.kind == "function"][0]
    body = src.split(":\n", 2)[2]
    assert general_name_unbacked(summary, defn.name, defn.qualname, function_facts(defn, src.encode()), body) == why


def test_the_feature_shows_the_parse_summary_for_an_unbacked_sentence_of_a_general_name():
    edit = DocstringFeature(summarizer=Fixed("Return a new key-value pair.")).edit_for(CACHE, 1, 0)
    assert (edit.summary_source, edit.docstring.splitlines()[0]) == ("fallback", "Return the value for ``key``.")
    kept = DocstringFeature(summarizer=Fixed("Return the cached value for the key.")).edit_for(CACHE, 1, 0)
    assert kept.summary_source == "model"


KEYS = ("class KeysPage:\n    def get_new_keys_name(self, message):\n"
        "        used_names = idleConf.GetSectionList('user', 'keys')\n"
        "        return SectionName(self, 'New Custom Key Set', message, used_names).result\n")


@pytest.mark.parametrize("summary,why", [
    ("Return a new default key name for the current directory.", ["directory"]),  # the object is invented
    ("Return a new key set name from the user's message.", []),  # `message` is a parameter
    ("Return the name of a new custom key set.", []),  # `set` backed by the string 'New Custom Key Set'
    ("Return a new key name for the display itself.", ["display"]),  # "itself" names no object
    ("Return a new directory key name.", []),  # one invented word before the object passes
    ("Return the used names.", []),
], ids=["invented-object", "parameter", "string", "pronoun-skipped", "not-the-object", "identifier"])
def test_the_object_a_sentence_ends_on_must_occur_in_the_allowed_context(summary, why):
    from devassist.server.features.docstring.faithful import vocabulary

    assert invented_object(summary, vocabulary(KEYS)) == why


def test_the_feature_shows_the_parse_summary_for_a_sentence_ending_on_an_invented_object():
    edit = DocstringFeature(summarizer=Fixed("Return a new default key name for the current directory.")).edit_for(
        KEYS, 1, 0)
    assert (edit.summary_source, edit.docstring.splitlines()[0]) == (
        "fallback", "Return the new keys name for ``message``.")
    kept = DocstringFeature(summarizer=Fixed("Return a new key set name from the user's message.")).edit_for(KEYS, 1, 0)
    assert kept.summary_source == "model"
