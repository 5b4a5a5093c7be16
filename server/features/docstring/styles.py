"""Docstrings as structure: parse Google, NumPy and Sphinx text, sync it with the code, render it.

A `DocModel` is the prose (summary and description) followed by blocks: parameter, returns,
yields and raises sections it understands, and any other section kept verbatim ("raw"), so
that updating a docstring rewrites only the sections the code decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devassist.server.features.docstring.describe import (
    PLACEHOLDER, param_description, raises_description, returns_description, yields_description)
from devassist.server.features.docstring.facts import FunctionFacts, Param

STYLES = ("google", "numpy", "sphinx")
ORDER = {"params": 0, "returns": 1, "yields": 2, "raises": 3}

GOOGLE_HEADERS = {
    "Args": "params", "Arguments": "params", "Parameters": "params", "Params": "params",
    "Keyword Args": "params", "Keyword Arguments": "params", "Other Parameters": "params",
    "Returns": "returns", "Return": "returns", "Yields": "yields", "Yield": "yields",
    "Raises": "raises", "Raise": "raises", "Exceptions": "raises",
}
GOOGLE_OTHER = {"Attributes", "Example", "Examples", "Note", "Notes", "Warning", "Warnings",
                "See Also", "Todo", "References", "Methods", "Warns", "Seealso"}
NUMPY_HEADERS = {"Parameters": "params", "Other Parameters": "params", "Returns": "returns",
                 "Yields": "yields", "Raises": "raises"}
SPHINX_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*?))?:(?:\s+(.*)|\s*)$")
SPHINX_KINDS = {"param": "params", "parameter": "params", "arg": "params", "argument": "params",
                "key": "params", "keyword": "params", "type": "type", "returns": "returns",
                "return": "returns", "rtype": "rtype", "yields": "yields", "yield": "yields",
                "ytype": "ytype", "raises": "raises", "raise": "raises", "except": "raises",
                "exception": "raises"}
_GOOGLE_ENTRY = re.compile(r"^(\\?\*{0,2}[\w.]+)\s*(?:\((.*)\))?\s*:(?:\s+(.*)|\s*)$")
_GOOGLE_RETURN = re.compile(r"^([^:\s][^:]*?)\s*:(?:\s+(.*)|\s*)$")
_NUMPY_ENTRY = re.compile(r"^(\\?\*{0,2}[\w.]+)(?:\s*:\s*(.*))?$")


@dataclass
class Entry:
    """One item of a section: a parameter, a return value or an exception."""

    name: str = ""
    type: str | None = None
    desc: list[str] = field(default_factory=list)  # lines, relative indentation kept


@dataclass
class Block:
    """A section: `kind` is params/returns/yields/raises, or raw (kept as `lines`)."""

    kind: str
    label: str = ""
    entries: list[Entry] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


@dataclass
class DocModel:
    """A docstring: prose lines, then blocks."""

    style: str
    prose: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def block(self, kind: str) -> Block | None:
        """The first block of a kind."""
        return next((b for b in self.blocks if b.kind == kind), None)

    def params(self) -> list[Entry]:
        """Every documented parameter, across all parameter blocks."""
        return [e for b in self.blocks if b.kind == "params" for e in b.entries]


def clean_lines(text: str) -> list[str]:
    """Docstring text as lines with the common indentation removed (like inspect.cleandoc)."""
    lines = text.expandtabs(8).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    rest = [ln for ln in lines[1:] if ln.strip()]
    margin = min((len(ln) - len(ln.lstrip()) for ln in rest), default=0)
    out = [lines[0].strip()] + [ln[margin:].rstrip() for ln in lines[1:]]
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def detect_style(lines: list[str]) -> str | None:
    """The style a docstring's sections are written in, or None when it has none."""
    for i, ln in enumerate(lines[:-1]):
        if ln.strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip()) and ln.strip() in NUMPY_HEADERS:
            return "numpy"
    if any(SPHINX_FIELD.match(ln) and SPHINX_FIELD.match(ln).group(1) in SPHINX_KINDS for ln in lines):
        return "sphinx"
    if any(ln.endswith(":") and ln[:-1] in GOOGLE_HEADERS for ln in lines):
        return "google"
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_entries(lines: list[str], head: re.Pattern) -> list[tuple[re.Match | None, list[str]]]:
    """Group lines into (head match, description lines) at the block's base indentation."""
    body = [ln for ln in lines]
    base = min((_indent(ln) for ln in body if ln.strip()), default=0)
    groups: list[tuple[re.Match | None, list[str]]] = []
    for ln in body:
        if ln.strip() and _indent(ln) == base:
            groups.append((head.match(ln.strip()), [] if head.match(ln.strip()) else [ln.strip()]))
        elif groups:
            groups[-1][1].append(ln[base:] if ln.strip() else "")
        elif ln.strip():
            groups.append((None, [ln.strip()]))
    return [(m, _dedent(d)) for m, d in groups]


def _dedent(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    margin = min((_indent(ln) for ln in lines if ln.strip()), default=0)
    return [ln[margin:] for ln in lines]


def _google_header(line: str) -> bool:
    """Whether a (dedented) line opens a Google section."""
    return line.endswith(":") and (line[:-1] in GOOGLE_HEADERS or line[:-1] in GOOGLE_OTHER)


def _parse_google(lines: list[str]) -> DocModel:
    model = DocModel("google")
    i = 0
    while i < len(lines) and not _google_header(lines[i]):
        model.prose.append(lines[i])
        i += 1
    while i < len(lines):
        label = lines[i][:-1]
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
            j += 1
        section = lines[i + 1 : j]
        kind = GOOGLE_HEADERS.get(label, "raw")
        block = Block(kind, label)
        if kind == "raw":
            block.lines = _strip_blank(lines[i:j])
        else:
            if kind in ("returns", "yields"):
                body = _dedent(_strip_blank(section))
                m = _GOOGLE_RETURN.match(body[0].strip()) if body else None
                if m and not body[0].strip().startswith(PLACEHOLDER):  # "TODO: describe ..." is no type
                    block.entries.append(Entry("", m.group(1), ([m.group(2)] if m.group(2) else []) + body[1:]))
                else:
                    block.entries.append(Entry("", None, body))
            else:
                for m, desc in _split_entries(section, _GOOGLE_ENTRY):
                    if m:
                        block.entries.append(Entry(m.group(1), m.group(2), ([m.group(3)] if m.group(3) else []) + desc))
                    else:
                        block.entries.append(Entry("", None, desc))
        model.blocks.append(block)
        # a non-indented line that is no header ends the sections: keep it as raw text
        i = j
        while i < len(lines) and not _google_header(lines[i]):
            k = i
            while k < len(lines) and not _google_header(lines[k]):
                k += 1
            if any(ln.strip() for ln in lines[i:k]):
                model.blocks.append(Block("raw", lines=_strip_blank(lines[i:k])))
            i = k
    model.prose = _strip_blank(model.prose)
    return model


def _strip_blank(lines: list[str]) -> list[str]:
    lines = list(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _parse_numpy(lines: list[str]) -> DocModel:
    model = DocModel("numpy")
    heads = [i for i in range(len(lines) - 1) if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())]
    model.prose = _strip_blank(lines[: heads[0]] if heads else lines)
    for n, h in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        label = lines[h].strip()
        kind = NUMPY_HEADERS.get(label, "raw")
        block = Block(kind, label)
        section = _strip_blank(lines[h + 2 : end])
        if kind == "raw":
            block.lines = _strip_blank(lines[h:end])
        else:
            for m, desc in _split_entries(section, _NUMPY_ENTRY):
                if m is None:
                    block.entries.append(Entry("", None, desc))
                elif kind in ("returns", "yields") and not m.group(2):
                    block.entries.append(Entry("", m.group(1), desc))
                elif kind in ("returns", "yields"):
                    block.entries.append(Entry(m.group(1), m.group(2), desc))
                elif kind == "raises":
                    block.entries.append(Entry(m.group(1), None, desc))
                else:
                    block.entries.append(Entry(m.group(1), m.group(2) or None, desc))
        model.blocks.append(block)
    return model


def _parse_sphinx(lines: list[str]) -> DocModel:
    model = DocModel("sphinx")
    first = next(i for i, ln in enumerate(lines) if SPHINX_FIELD.match(ln))
    model.prose = _strip_blank(lines[:first])
    fields: list[tuple[str, str, list[str]]] = []  # (kind, argument, desc lines)
    raw: list[str] = []
    for ln in lines[first:]:
        m = SPHINX_FIELD.match(ln)
        if m and m.group(1) in SPHINX_KINDS:
            fields.append((SPHINX_KINDS[m.group(1)], (m.group(2) or "").strip(), [m.group(3)] if m.group(3) else []))
        elif m or (not ln.startswith((" ", "\t")) and ln.strip()) or not fields:
            raw.append(ln)
            fields.append(("raw", "", []))
        elif fields[-1][0] == "raw":
            raw.append(ln)
        else:
            fields[-1][2].append(ln.strip())
    types = {a: " ".join(d) for k, a, d in fields if k == "type"}
    blocks: dict[str, Block] = {}
    for kind, arg, desc in fields:
        if kind in ("params", "raises"):
            parts = arg.split()
            name = parts[-1] if parts else ""
            typ = " ".join(parts[:-1]) or (types.get(name) if kind == "params" else None)
            blocks.setdefault(kind, Block(kind)).entries.append(Entry(name, typ, desc))
        elif kind in ("returns", "yields"):
            blocks.setdefault(kind, Block(kind)).entries.append(Entry("", None, desc))
        elif kind in ("rtype", "ytype"):
            target = blocks.setdefault("returns" if kind == "rtype" else "yields", Block("returns" if kind == "rtype" else "yields"))
            if not target.entries:
                target.entries.append(Entry())
            target.entries[0].type = " ".join(desc)
    model.blocks = sorted(blocks.values(), key=lambda b: ORDER[b.kind])
    if any(ln.strip() for ln in raw):
        model.blocks.append(Block("raw", lines=_strip_blank(raw)))
    return model


def parse_docstring(text: str, default_style: str = "google") -> DocModel:
    """Parse a docstring's text into a model, in the style it is written in."""
    lines = clean_lines(text)
    style = detect_style(lines)
    if style == "numpy":
        return _parse_numpy(lines)
    if style == "sphinx":
        return _parse_sphinx(lines)
    if style == "google":
        return _parse_google(lines)
    return DocModel(default_style, prose=lines)


# ---- building and syncing ---------------------------------------------------------------


def _param_entry(param: Param, facts: FunctionFacts) -> Entry:
    return Entry(param.name, param.type, param_description(param, facts))


def _returns_entry(facts: FunctionFacts) -> Entry:
    rtype, desc = returns_description(facts)
    return Entry("", rtype, desc)


def _yields_entry(facts: FunctionFacts) -> Entry:
    return Entry("", facts.yield_type, yields_description(facts))


def blocks_for(facts: FunctionFacts) -> list[Block]:
    """The sections the code decides, in canonical order; none without a source in the code."""
    blocks = []
    if facts.params:
        blocks.append(Block("params", entries=[_param_entry(p, facts) for p in facts.params]))
    if facts.returns:
        blocks.append(Block("returns", entries=[_returns_entry(facts)]))
    if facts.yields:
        blocks.append(Block("yields", entries=[_yields_entry(facts)]))
    if facts.raises:
        blocks.append(Block("raises", entries=[Entry(name, None, raises_description(name, facts)) for name in facts.raises]))
    return blocks


def new_model(facts: FunctionFacts, summary: str, description: str | None, style: str) -> DocModel:
    """A fresh docstring: the summary, an optional description, the code's sections."""
    prose = [summary] + ([""] + description.splitlines() if description else [])
    return DocModel(style, prose=prose, blocks=blocks_for(facts))


def _bare(name: str) -> str:
    return name.replace("\\", "").lstrip("*")


def _insert(model: DocModel, block: Block) -> None:
    """Put a new block after the blocks that come before it in canonical order."""
    rank = ORDER[block.kind]
    at = 0
    for i, b in enumerate(model.blocks):
        if b.kind in ORDER and ORDER[b.kind] < rank:
            at = i + 1
        elif b.kind in ORDER and ORDER[b.kind] > rank:
            break
    model.blocks.insert(at, block)


def sync(model: DocModel, facts: FunctionFacts, no_return_annotation: bool = False) -> DocModel:
    """Bring a parsed docstring's sections in line with the code; keep all existing prose."""
    if facts.kind != "function":
        return model
    wanted = {_bare(p.name): p for p in facts.params}
    has_kwargs = any(p.name.startswith("**") for p in facts.params)
    documented = {_bare(e.name): e for e in model.params()}
    first_params = model.block("params")
    for block in [b for b in model.blocks if b.kind == "params"]:
        keep_extra = has_kwargs and block.label.startswith(("Keyword", "Other"))
        kept = []
        for entry in block.entries:
            param = wanted.get(_bare(entry.name))
            if param is not None:
                entry.type = param.type or entry.type
                if not entry.desc:
                    entry.desc = param_description(param, facts)
                kept.append(entry)
            elif keep_extra and entry.name:
                kept.append(entry)
        block.entries = kept
    missing = [p for p in facts.params if _bare(p.name) not in documented]
    if missing:
        if first_params is None:
            first_params = Block("params")
            _insert(model, first_params)
        first_params.entries.extend(_param_entry(p, facts) for p in missing)
    # signature order within the main block
    order = {_bare(p.name): i for i, p in enumerate(facts.params)}
    if first_params is not None:
        first_params.entries.sort(key=lambda e: order.get(_bare(e.name), len(order)))
    model.blocks = [b for b in model.blocks if b.kind != "params" or b.entries]

    returns = model.block("returns")
    if facts.returns and returns is None:
        _insert(model, Block("returns", entries=[_returns_entry(facts)]))
    elif returns is not None and (facts.yields or no_return_annotation):
        model.blocks.remove(returns)
    elif returns is not None and facts.return_type and returns.entries:
        returns.entries[0].type = facts.return_type
    if facts.yields and model.block("yields") is None:
        _insert(model, Block("yields", entries=[_yields_entry(facts)]))
    if facts.raises:
        raises = model.block("raises")
        if raises is None:
            raises = Block("raises")
            _insert(model, raises)
        have = {e.name.split(".")[-1] for e in raises.entries}
        raises.entries.extend(Entry(n, None, raises_description(n, facts))
                              for n in facts.raises if n.split(".")[-1] not in have)
    return model
