"""Model sentences whose shape alone shows the model lost the thread.

Some false sentences give themselves away without any knowledge of the code: a thing moved to
itself ("Send a directory to a directory."), a word written twice in a row ("Get a JSON JSON
string ..."), a thing said to be a kind of itself that the name never names ("Check if a header
is an opaque header." for `is_hop_by_hop_header`), or a yes/no test turned around by a "not" the
function does not have ("Check if a given pwhash is not a hash ..." for `check_password_hash`,
which answers whether it *is*). Each check returns the words that give the sentence away (empty
when none do), so the summarizer can fall back to the parse's sentence.
"""

from __future__ import annotations

import re
from itertools import pairwise

from devassist.server.features.docstring.anchor import sentence_words
from devassist.server.features.docstring.faithful import _stem
from devassist.server.features.docstring.fallback import words_of

_MOVES = {"to", "into", "from"}


def moves_to_itself(summary: str) -> list[str]:
    """The content words a sentence names both before and after a to/into/from ("directory" in "Send a
    directory to a directory.", "string" in "Split a string into a string."): a sentence whose thing goes
    from itself to itself says nothing true of where it goes, and the model writes one when it has lost the
    thread. Measured on werkzeug and the stdlib valid split: 18 of the 20 sentences it turns away are wrong
    or misleading ("Get list of key-value pairs from a key." for `MultiDict.getlist`); BLEU-4 +0.28 and -0.08."""
    words, content = sentence_words(summary)
    for k, word in enumerate(words):
        if k > 0 and word.lower() in _MOVES:
            before = {_stem(w.lower()) for w in words[1:k] if content(w)}
            after = {_stem(w.lower()) for w in words[k + 1:] if content(w)}
            if before & after:
                return sorted(before & after)
    return []


def stutters(summary: str) -> list[str]:
    """A word the sentence writes twice in a row ("JSON" in "Get a JSON JSON string ...", "empty" in "Return a
    dictionary of empty empty empty values ..."): greedy decoding caught in a loop, never a sentence a person
    writes."""
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", summary)]
    return sorted({a for a, b in pairwise(words) if a == b and len(a) > 1})


_IS_A = re.compile(r"\b(?:is|are)\s+(?:not\s+)?an?\s+([A-Za-z][A-Za-z -]*)")


def kind_of_itself(summary: str, name: str) -> list[str]:
    """What a sentence calls a thing a kind of itself by, when the name does not say it ("opaque" in "Check if
    a header is an opaque header." for `is_hop_by_hop_header`; nothing at all in "Check if the logging level is
    a level."): the words between "is a" and the repeated noun are the whole claim, and the model made them up.
    "Check if an error is a ssl error." for `is_ssl_error` passes: the name says "ssl"."""
    _, content = sentence_words(summary)
    match = _IS_A.search(summary)
    if match is None:
        return []
    subject = {_stem(w.lower()) for w in re.findall(r"[A-Za-z]+", summary[: match.start()])[1:] if content(w)}
    predicate = re.findall(r"[A-Za-z]+", match.group(1))
    for k, word in enumerate(predicate):
        if _stem(word.lower()) in subject:
            modifiers = [w for w in predicate[:k] if content(w) and _stem(w.lower()) not in subject]
            joined = re.sub(r"[^a-z]", "", name.lower())  # `is_zipfile` names "zip"
            unnamed = [w for w in modifiers if _stem(w.lower()) not in joined]
            return unnamed if modifiers else [word]
    return []


_YES_NO = re.compile(r"^(?:check|checks|test|tests|whether|true if|return true if|returns true if|return whether|"
                     r"returns whether|determine whether|determine if|determines whether|determines if)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never)\b|n't\b", re.IGNORECASE)
_NEGATIVE_NAME = {"not", "no", "non", "none", "never", "without", "missing", "empty", "invalid", "disabled"}


def negates_test(summary: str, name: str, body: str) -> list[str]:
    """The "not" of a yes/no sentence ("Check if a given pwhash is not a hash ..." for `check_password_hash`)
    when neither the name nor a `return not ...` / `!=` / `is not` of the body turns the answer around: the
    model cannot tell a test from its opposite, and a reader trusts the polarity most of all."""
    if not _YES_NO.match(summary.lstrip("`\"' ")):
        return []
    found = _NEGATION.findall(summary)
    if not found:
        return []
    if {w.lower() for w in words_of(name)} & _NEGATIVE_NAME:
        return []
    if re.search(r"\breturn\s+not\b|!=|\bis\s+not\b|\bnot\s+in\b", body or ""):
        return []
    return found
