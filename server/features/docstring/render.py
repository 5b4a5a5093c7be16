"""Render a `DocModel` as Google, NumPy or Sphinx text (lines without quotes or indentation)."""

from __future__ import annotations

from devassist.server.features.docstring.styles import GOOGLE_HEADERS, NUMPY_HEADERS, DocModel

_LABELS = {
    "google": {"params": "Args", "returns": "Returns", "yields": "Yields", "raises": "Raises"},
    "numpy": {"params": "Parameters", "returns": "Returns", "yields": "Yields", "raises": "Raises"},
}


def _render_google(model: DocModel) -> list[str]:
    out = list(model.prose)
    for b in model.blocks:
        out += [""] if out else []
        if b.kind == "raw":
            out += b.lines
            continue
        label = b.label if b.label in GOOGLE_HEADERS else _LABELS["google"][b.kind]
        out.append(label + ":")
        for e in b.entries:
            if b.kind in ("returns", "yields"):
                desc = list(e.desc)
                if e.type:
                    out.append(f"    {e.type}:" + (f" {desc.pop(0)}" if desc else ""))
                out += [f"    {d}" if d else "" for d in desc]
                continue
            head = f"    {e.name}" + (f" ({e.type})" if e.type and b.kind == "params" else "") + ":"
            out.append(head + (f" {e.desc[0]}" if e.desc else ""))
            out += [f"        {d}" if d else "" for d in e.desc[1:]]
    return out


def _render_numpy(model: DocModel) -> list[str]:
    out = list(model.prose)
    for b in model.blocks:
        out += [""] if out else []
        if b.kind == "raw":
            out += b.lines
            continue
        label = b.label if b.label in NUMPY_HEADERS else _LABELS["numpy"][b.kind]
        out += [label, "-" * len(label)]
        for e in b.entries:
            if b.kind in ("returns", "yields") and not e.name:
                if e.type:
                    out.append(e.type)
                    out += [f"    {d}" if d else "" for d in e.desc]
                else:
                    out += e.desc
                continue
            out.append(e.name + (f" : {e.type}" if e.type else ""))
            out += [f"    {d}" if d else "" for d in e.desc]
    return out


def _render_sphinx(model: DocModel) -> list[str]:
    out = list(model.prose)
    fields: list[str] = []

    def field_(head: str, desc: list[str]) -> None:
        fields.append(head + (f" {desc[0]}" if desc else ""))
        fields.extend(f"    {d}" if d else "" for d in desc[1:])

    raw: list[str] = []
    for b in model.blocks:
        for e in b.entries:
            if b.kind == "params":
                field_(f":param {e.name}:", e.desc)
                if e.type:
                    fields.append(f":type {e.name}: {e.type}")
            elif b.kind == "raises":
                field_(f":raises {e.name}:", e.desc)
            else:
                word, tword = ("returns", "rtype") if b.kind == "returns" else ("yields", "ytype")
                if e.desc or not e.type:
                    field_(f":{word}:", e.desc)
                if e.type:
                    fields.append(f":{tword}: {e.type}")
        if b.kind == "raw":
            raw += ([""] if raw else []) + b.lines
    for part in (fields, raw):
        if part:
            out += ([""] if out else []) + part
    return out


def render(model: DocModel, style: str | None = None) -> list[str]:
    """The docstring's lines (no quotes, no indentation) in a style (default: the model's)."""
    style = style or model.style
    if style == "numpy":
        return _render_numpy(model)
    if style == "sphinx":
        return _render_sphinx(model)
    return _render_google(model)
