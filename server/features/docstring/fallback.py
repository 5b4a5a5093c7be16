"""The summary the parse alone can write, and the marked placeholder when it cannot.

`parse_summary` reads the name, the parameters, the decorators and what the body returns or
raises: ``indent(text, margin)`` returning a value gives "Return ``text`` indented by
``margin``.", ``is_secure`` on a ``Request`` gives "Return whether this request is secure.",
``read_config`` gives "Read the config.". Every word it writes is the name's, a parameter's or
plain English, so it cannot invent a fact. When no rule applies it returns None and the
feature writes `summary_placeholder`, which the editor selects for the user to type over.
"""

from __future__ import annotations

import re

from devassist.server.features.docstring.facts import FunctionFacts

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
VERBS = set("""
accept add adjust allocate append apply assert build cache calculate call cancel check clean clear clone close
collect combine compare compile compute configure connect convert copy count create decode decorate delete
detect dispatch drop dump emit enable disable encode ensure escape evaluate execute expand export extend extract
fetch fill filter find finish fix flatten flush format generate get group guess handle hash import indent
init initialize insert install invalidate invoke join keep launch list load lock log lookup make map mark match
merge migrate move normalize notify open pack pad parse patch pop post prepare print process publish pull push
put quote raise read rebuild receive record refresh register reload remove rename render reorder repeat replace
report request require reset resolve restore retry return reverse run save scan schedule search select send
serialize set setup shift show shuffle shutdown skip sort split start stop store strip submit subscribe swap
sync tokenize trace track transform translate trim truncate try unpack unquote unregister unwrap update upload
validate verify visit wait walk warn wrap write yield zip scale sum multiply divide""".split())
_BY = {"indent", "sort", "split", "group", "filter", "pad", "shift", "truncate", "wrap", "join", "trim", "scale",
       "multiply", "divide"}
# Verbs whose result is the first argument transformed: `indent(text, margin)` returns text, indented.
_TRANSFORMS = _BY | {"dedent", "strip", "quote", "unquote", "escape", "unescape", "encode", "decode", "normalize",
                     "format", "reverse", "shuffle", "flatten", "expand", "serialize", "clean", "convert", "merge",
                     "render", "resolve", "compile", "translate", "tokenize", "unwrap", "copy"}
_IRREGULAR = {"split": "split", "set": "set", "put": "put", "read": "read", "write": "written", "make": "made",
              "build": "built", "get": "got", "find": "found", "send": "sent", "run": "run", "shut": "shut",
              "cut": "cut", "hold": "held", "keep": "kept", "spin": "spun", "hide": "hidden"}
# Verbs whose one argument is what the object is changed with: `HeaderSet.update(iterable)`.
_WITH = {"update", "extend", "fill", "configure", "patch", "merge"}
_DOUBLE = {"pad", "wrap", "strip", "trim", "drop", "skip", "stop", "swap", "map", "ship", "zip", "plan", "tag"}
_DUNDER = {
    "__repr__": "Return the developer representation of the object.",
    "__str__": "Return the object as a string.",
    "__len__": "Return the number of items.",
    "__iter__": "Iterate over the items.",
    "__hash__": "Return the hash of the object.",
    "__bool__": "Return whether the object is truthy.",
    "__enter__": "Enter the context and return the object to bind.",
    "__exit__": "Leave the context.",
    "__call__": "Call the object.",
    "__del__": "Clean up when the object is garbage collected.",
}
_COMPARE = {"__eq__": "equal to", "__ne__": "not equal to", "__lt__": "less than", "__le__": "at most",
            "__gt__": "greater than", "__ge__": "at least"}
SUMMARY_PLACEHOLDER = "TODO: summarize what ``{name}`` does."


# Words of a name that cannot stand in the noun phrase after its verb.
_NOT_IN_A_NOUN = {"do", "does", "is", "are", "has", "have", "can", "should", "needs", "supports"}


def words_of(name: str) -> list[str]:
    """Sub-words of a name, lower-cased, acronyms (two or more capitals) kept as written."""
    return [w if len(w) > 1 and w.isupper() else w.lower() for w in _WORDS.findall(name.strip("_"))]


def participle(verb: str) -> str:
    """`indent` -> indented, `strip` -> stripped, `write` -> written, `copy` -> copied."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb in _DOUBLE:
        return verb + verb[-1] + "ed"
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _noun(words: list[str]) -> str:
    """`["config"]` -> "the config"; keeps a leading article or quantifier."""
    phrase = " ".join(words)
    bare = ("a", "an", "the", "all", "every", "each", "some", "any", "to", "from", "for", "in", "into", "on", "with",
            "by", "of", "as", "at", "if")  # an article already, or a preposition: `map_to_type` -> "Map to type."
    return phrase if words and words[0] in bare else "the " + phrase


def _params(facts: FunctionFacts) -> list[str]:
    return [p.name for p in facts.params if not p.name.startswith("*")]


def _class_words(qualname: str) -> list[str]:
    parts = qualname.split(".")
    owner = parts[-2] if len(parts) >= 2 and parts[-2] != "<locals>" else ""
    return words_of(owner) if owner else []


def _function_summary(facts: FunctionFacts, qualname: str) -> str | None:
    name = facts.name
    params = _params(facts)
    owner = _class_words(qualname)
    this = ("this " + " ".join(owner)) if owner and facts.is_method else None
    if facts.only_raises == "NotImplementedError":
        return "Not implemented here; subclasses override it." if facts.is_method else "Not implemented."
    if name in _DUNDER:
        return _DUNDER[name]
    if name in _COMPARE and params:
        return f"Return whether the object is {_COMPARE[name]} ``{params[0]}``."
    if name == "__init__":
        what = " ".join(owner) if owner else "object"
        with_ = f" from {_list(params)}" if params and len(params) <= 3 else ""
        return f"Initialize the {what}{with_}."
    if name.startswith("__"):
        return None
    words = _split_compound(words_of(name))
    if not words or len(name.strip("_")) <= 2:  # `f`, `g2`: the name says nothing to build on
        return None
    head, rest = words[0], words[1:]
    # `post(self, *args, **kw)` passes everything on: "Post this client." would be a guess
    passes_on = any(p.name.startswith("*") for p in facts.params)
    if this and head in VERBS and any(w.startswith(head[:4]) for w in owner):
        return None  # `Parser.parse`: "Parse this parser." says nothing true
    prop = "property" in facts.decorators or "cached_property" in facts.decorators
    if prop and head in ("is", "has", "can", "should", "needs", "supports") and rest:
        return _sentence(f"return whether {this or 'it'} {head} {' '.join(rest)}")
    if prop and _returns_bool(facts):  # `LoopContext.first` is whether this is the first loop, not the first item
        return _sentence(f"whether {this or 'it'} is {' '.join(words)}")
    if prop:
        return _sentence(_noun(words))
    if facts.yields and head in ("iter", "iterate", "walk") and rest:  # `iter_lines` -> "Iterate over the lines."
        return _sentence(f"iterate over {_noun(rest)}")
    if facts.yields and head not in VERBS and words[-1].endswith("s") and not words[-1].endswith("ss"):
        # a generator named for what it yields (a plural): `values` -> "Iterate over the values."
        return _sentence(f"iterate over {_noun(words)}")
    if head in ("is", "has", "can", "should", "needs", "supports") and rest:
        # whose property it is must be certain: `is_safe_callable(self, obj)` asks it of `obj`, not of the
        # environment; `is_internal_attribute(obj, attr)` of `attr` on `obj`
        if (params if facts.is_method else len(params) > 1):
            return None
        subject = f"``{params[0]}``" if params and not facts.is_method else (this or "it")
        return _sentence(f"return whether {subject} {head} {' '.join(rest)}")
    if head == "test" and rest:
        return _sentence("test " + " ".join(rest))
    if "to" in rest[:-1] and head not in VERBS:  # `str_to_bool` -> "Convert str to bool."
        at = rest.index("to") + 1
        return _sentence(f"convert {' '.join(words[:at])} to {' '.join(words[at + 1:])}")
    if head in ("to", "as") and rest:
        return _sentence(f"convert {this or (f'``{params[0]}``' if params else 'it')} to {' '.join(rest)}")
    if head in ("on", "handle") and rest:
        return _sentence(f"handle {' '.join(rest)}")
    if head == "get" and rest:
        tail = f" for ``{params[0]}``" if len(params) == 1 else ""
        return _sentence(f"return {_noun(rest)}{tail}")
    if head == "get" and not rest:
        return f"Return the value for ``{params[0]}``." if params else None
    if head == "visit":  # a visitor's method is named for the node type it is dispatched on, not what it does
        return None
    if any(w in _NOT_IN_A_NOUN for w in rest):  # `sync_do_first`: "Sync the do first." is no sentence
        return None
    if head in VERBS and not rest:
        # the data a transform returns changed is its first argument, which has no default; `group(name=None,
        # cls=None, **attrs)` makes a command group, it does not return ``name`` grouped by ``cls``
        data = next((p for p in facts.params if p.name == params[0]), None) if params else None
        if facts.returns and data is not None and head in _TRANSFORMS and data.default is None and not passes_on:
            prep = "by" if head in _BY else "with"
            tail = f" {prep} ``{params[1]}``" if len(params) >= 2 else ""
            return _sentence(f"return ``{params[0]}`` {participle(head)}{tail}")
        if len(params) == 1 and this and head in _WITH:  # `HeaderSet.update(iterable)` updates the set
            return _sentence(f"{head} {this} with ``{params[0]}``")
        if len(params) == 1 and not facts.is_method:  # the verb's object: `send(msg)` -> "Send ``msg``."
            # (a method's one argument is as often a detail: `ZipExtFile.read(n)`, `Traversable.open(mode)`)
            return _sentence(f"{head} ``{params[0]}``")
        if params or passes_on:  # `load(environment, name)` loads a template, not the environment: say nothing
            return None
        return _sentence(f"{head} {this}") if this else None
    if head in VERBS:
        return _sentence(f"{head} {_noun(rest)}")
    # A name that opens with no known verb (`restart_with_reloader`, `full_dispatch_request`, `tell`) may
    # still be an action: "Return the restart with reloader." would be a guess, so nothing is said.
    return None


def _returns_bool(facts: FunctionFacts) -> bool:
    """Whether the function gives back a truth value (annotated `bool`, or every return a comparison or test)."""
    if facts.return_type is not None:
        return facts.return_type == "bool"
    return bool(facts.return_info) and all(rv.type == "bool" for rv in facts.return_info)


def _split_compound(words: list[str]) -> list[str]:
    """`getstate` -> get, state; `setpassword` -> set, password: a lower-case name written as one word."""
    word = words[0] if len(words) == 1 else ""
    if word[:3] in ("get", "set") and len(word) >= 7 and word[3] != "t":  # not `settings`, `getter`
        return [word[:3], word[3:]]
    return words


def _list(names: list[str]) -> str:
    quoted = [f"``{n}``" for n in names[:3]]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def parse_summary(facts: FunctionFacts, qualname: str = "") -> str | None:
    """A summary sentence from the parse alone, or None when nothing good can be said."""
    if facts.kind == "class":
        words = words_of(facts.name)
        if not words or len(facts.name.strip("_")) <= 2:
            return None
        first = words[0]
        # "an HTTP server" (the letter is read aloud), "a user"
        article = "An" if (first[0] in "AEFHILMNORSX" if first.isupper() else first[0] in "aeiou") else "A"
        return f"{article} {' '.join(words)}."
    return _function_summary(facts, qualname or facts.name)


def summary_placeholder(name: str) -> str:
    """The marked placeholder summary for a definition nothing good can be said about."""
    return SUMMARY_PLACEHOLDER.format(name=name)
