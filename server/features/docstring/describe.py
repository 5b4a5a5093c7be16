"""Descriptions of Args, Returns and Raises entries, built only from what the parse shows.

A parameter is described by its annotation, its default and its use in the body (iterated,
called, compared with ``None``, passed to a function, used through its methods, stored on the
instance); a return value by its type (annotation or the returned expressions) and what the
expressions are (an attribute, an item, a parameter, a built-up local); an exception by the
condition it is raised under and its message. Where the code says nothing, the entry gets a
marked placeholder (`PLACEHOLDER`) rather than nothing or an echo of the code.
"""

from __future__ import annotations

import re

from devassist.server.features.docstring.facts import FunctionFacts, Param

PLACEHOLDER = "TODO: describe"  # a marked placeholder the editor selects (snippet) and a reader spots
_COUNT = re.compile(r"^(?:count|num|n)_(.+)$")
_GETTER = re.compile(r"^(?:get|make|build|create|compute|calculate|read|load|fetch|find|parse|new|as|to)_(.+)$")
_OPTIONAL = re.compile(r"^(?:Optional\[.+\]|.+\|\s*None|None\s*\|.+)$")


def _join(names: list[str], limit: int = 2) -> str:
    quoted = [f"``{n}``" for n in names[:limit]]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _plural(word: str, items: list[str]) -> str:
    return word if len(items[:2]) == 1 else word + "s"


def param_description(param: Param, facts: FunctionFacts) -> list[str]:
    """Sentences describing one parameter (the placeholder when the code says nothing about it)."""
    bare = param.name.lstrip("*")
    u = facts.usage.get(bare)
    said: list[str] = []
    if param.name.startswith("**"):
        said.append("Extra keyword arguments.")
    elif param.name.startswith("*"):
        said.append("Extra positional arguments.")
    if u is not None:
        if u.stored_as:
            said.append(f"Stored as ``{u.stored_as}``.")
        if u.called:
            said.append("A callable; it is called.")
        if u.iterated:
            said.append("Iterated over.")
        if u.instance_of:
            said.append(f"Checked against ``{u.instance_of[0]}``.")
        if u.passed_to and not u.stored_as:
            said.append(f"Passed to {_join(u.passed_to)}.")
        if u.methods and len(said) < 2:
            said.append(f"Used through its {_join(u.methods)} {_plural('method', u.methods)}.")
        elif u.attributes and len(said) < 2:
            said.append(f"Its {_join(u.attributes)} {_plural('attribute', u.attributes)} {'is' if len(u.attributes[:2]) == 1 else 'are'} read.")
        if u.compared_with and len(said) < 2:
            said.append(f"Compared with {_join(u.compared_with)}.")
        if u.indexed and len(said) < 2:
            said.append("Indexed by the function.")
        if u.returned and len(said) < 2:
            said.append("Returned by the function.")
        none_default = param.default == "None"
        if (u.none_checked or (param.type and _OPTIONAL.match(param.type))) and not none_default:
            said.append("May be ``None``.")
    if param.default is not None:
        said.append(f"Defaults to ``{param.default}``.")
    return [" ".join(said)] if said else [f"{PLACEHOLDER} ``{bare}``."]


def returns_description(facts: FunctionFacts) -> tuple[str | None, list[str]]:
    """(type, sentences) for the Returns entry: the annotation or the evident type, and what the value is."""
    infos = facts.return_info
    types = {r.type for r in infos}
    rtype = facts.return_type or (next(iter(types)) if len(types) == 1 and None not in types else None)
    phrase = next((r.phrase for r in infos if r.phrase), None)
    if len(infos) > 1 and phrase is not None and len({r.phrase for r in infos}) > 1:
        phrase = None  # several different values: one of them would mislead
    words = _GETTER.match(facts.name.lstrip("_"))
    if phrase is None and rtype == "bool":
        prefix = re.match(r"^(is|has|can|should|needs|was|are|supports)_(.+)$", facts.name.lstrip("_"))
        single = infos[0].source if len(infos) == 1 and len(infos[0].source) <= 50 else None
        params = [p.name for p in facts.params if not p.name.startswith("*")]
        subject = f"``{params[0]}``" if params and not facts.is_method else "it"
        if prefix:
            phrase = f"Whether {subject} {prefix.group(1)} {' '.join(w for w in prefix.group(2).split('_') if w)}"
        elif single and single not in ("True", "False"):
            phrase = f"Whether ``{single}``"
    count = _COUNT.match(facts.name.lstrip("_"))
    if phrase is None and count and rtype in (None, "int"):
        phrase = "The number of " + " ".join(w for w in count.group(1).split("_") if w)
    if phrase is None and words:
        phrase = "The " + " ".join(w for w in words.group(1).split("_") if w)
    if phrase is None:
        return rtype, [PLACEHOLDER + " the return value."]
    if facts.returns_none_too and rtype is None:
        phrase += ", or ``None``"
    return rtype, [phrase + "."]


def yields_description(facts: FunctionFacts) -> list[str]:
    """What each yielded item is, when every `yield` says the same; else the placeholder."""
    phrases = {y.phrase for y in facts.yield_info}
    if len(phrases) == 1 and None not in phrases:
        return [phrases.pop() + "."]
    return [PLACEHOLDER + " the yielded items."]


def raises_description(name: str, facts: FunctionFacts) -> list[str]:
    """Why the exception is raised: its condition or the exception caught, and its message."""
    d = facts.raise_details.get(name)
    if d is None:
        return [PLACEHOLDER + " when it is raised."]
    if d.condition and d.message:
        return [f"If ``{d.condition}`` (\"{d.message}\")."]
    if d.condition:
        return [f"If ``{d.condition}``."]
    if d.caught and d.message:
        return [f"When ``{d.caught}`` is caught (\"{d.message}\")."]
    if d.caught:
        return [f"When ``{d.caught}`` is caught."]
    if d.message:
        return [f"With the message \"{d.message}\"."]
    if facts.only_raises == name:
        return ["Always; the method is meant to be overridden." if facts.is_method else "Always."]
    return [PLACEHOLDER + " when it is raised."]


def is_placeholder(lines: list[str]) -> bool:
    """Whether a description is the marked placeholder."""
    return bool(lines) and lines[0].startswith(PLACEHOLDER)
