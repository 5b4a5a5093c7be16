"""What a docstring may say about a function, read from the tree-sitter parse and nothing else.

Parameters (without self/cls, `*args`/`**kwargs` named as such, types from annotations,
defaults), what it returns (annotation, else `return <value>` statements), what it yields (a
generator), and one entry per exception class raised in its own body. Nested functions,
classes and lambdas are not part of the body for these questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from devassist.server.features.docstring.usage import (
    ParamUsage, RaiseDetail, ReturnValue, caught_inside, own_nodes, parameter_usage, raise_detail, return_value)
from devassist.server.parsing import Definition, node_text

def no_return_type(annotation: str | None) -> bool:
    """Whether a return annotation means nothing comes back: `None`, or `NoReturn` / `Never` under any
    module alias (`typing.NoReturn`, `t.NoReturn`, `te.Never`)."""
    return annotation is not None and annotation.rsplit(".", 1)[-1] in ("None", "NoReturn", "Never")


# Generic wrappers whose first argument is the yielded type.
GENERATOR_TYPES = re.compile(
    r"^(?:typing\.|collections\.abc\.|t\.)?(?:Iterator|Iterable|Generator|AsyncIterator|AsyncIterable|AsyncGenerator)\[(.+)\]$",
    re.S,
)


@dataclass
class Param:
    """One documented parameter."""

    name: str  # "x", "*args", "**kwargs"
    type: str | None = None
    default: str | None = None


@dataclass
class FunctionFacts:
    """Everything the sections of a docstring are built from."""

    kind: str  # "function" or "class"
    name: str
    params: list[Param] = field(default_factory=list)
    returns: bool = False  # a Returns section belongs in the docstring
    return_type: str | None = None
    return_values: list[str] = field(default_factory=list)  # source of `return <value>` expressions
    yields: bool = False
    yield_type: str | None = None
    raises: list[str] = field(default_factory=list)
    usage: dict[str, ParamUsage] = field(default_factory=dict)  # by bare parameter name
    raise_details: dict[str, RaiseDetail] = field(default_factory=dict)  # the first `raise` of each class
    return_info: list[ReturnValue] = field(default_factory=list)  # one per distinct returned expression
    yield_info: list[ReturnValue] = field(default_factory=list)  # one per distinct yielded expression
    returns_none_too: bool = False  # a bare `return` or `return None` besides returned values
    decorators: set[str] = field(default_factory=set)
    is_method: bool = False
    only_raises: str | None = None  # the body is a lone `raise X` (e.g. NotImplementedError)
    never_returns: bool = False  # annotated `NoReturn` / `Never`: every call raises or exits
    stub: bool = False  # the body is only `...` or `pass` (a protocol, an overload, an abstract method)


def _one_line(text: str) -> str:
    """Collapse a (possibly multi-line) source fragment to single spaces."""
    text = re.sub(r"\\\r?\n", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _param(node: Node, src: bytes) -> Param | None:
    """A Param from one child of a `parameters` node, or None for separators."""
    t = node.type
    if t == "identifier":
        return Param(node_text(node, src))
    if t == "list_splat_pattern":
        return Param("*" + node_text(node.named_children[0], src)) if node.named_children else None
    if t == "dictionary_splat_pattern":
        return Param("**" + node_text(node.named_children[0], src)) if node.named_children else None
    if t in ("typed_parameter", "typed_default_parameter", "default_parameter"):
        name_node = node.child_by_field_name("name")
        if name_node is None:  # typed_parameter: the first named child is the name or a splat
            name_node = node.named_children[0] if node.named_children else None
        if name_node is None:
            return None
        inner = _param(name_node, src) if name_node.type != "identifier" else Param(node_text(name_node, src))
        if inner is None:
            return None
        type_node = node.child_by_field_name("type")
        value_node = node.child_by_field_name("value")
        inner.type = _one_line(node_text(type_node, src)) if type_node is not None else None
        inner.default = _one_line(node_text(value_node, src)) if value_node is not None else None
        return inner
    return None  # "/", "*", comments, errors


def parameters(defn: Definition, src: bytes) -> list[Param]:
    """The documented parameters of a function (self/cls of methods left out)."""
    params_node = defn.node.child_by_field_name("parameters")
    if params_node is None:
        return []
    params = [p for p in (_param(c, src) for c in params_node.named_children) if p is not None]
    if defn.is_method and params and params[0].name in ("self", "cls", "mcs", "mcls", "metacls"):
        decorators = _decorator_names(defn, src)
        if "staticmethod" not in decorators:
            params = params[1:]
    return params


def _decorator_names(defn: Definition, src: bytes) -> set[str]:
    """Names of the decorators applied to a definition (`functools.wraps(f)` -> `functools.wraps`)."""
    parent = defn.node.parent
    if parent is None or parent.type != "decorated_definition":
        return set()
    names = set()
    for dec in parent.children:
        if dec.type == "decorator" and dec.named_children:
            expr = dec.named_children[0]
            if expr.type == "call":
                expr = expr.child_by_field_name("function") or expr
            names.add(node_text(expr, src).split(".")[-1])
    return names


def _exception_name(expr: Node, src: bytes) -> str | None:
    """The class raised by `raise <expr>`: `X`, `X(...)`, `mod.X(...)`; None for instances in variables."""
    if expr.type == "call":
        expr = expr.child_by_field_name("function") or expr
    if expr.type not in ("identifier", "attribute"):
        return None
    name = node_text(expr, src)
    last = name.split(".")[-1]
    # An exception class is CapWords by convention; `raise err` re-raises an instance we cannot type.
    return name if last[:1].isupper() else None


def _yield_type(return_type: str | None) -> str | None:
    """The yielded type from `Iterator[X]`, `Generator[X, S, R]`, ...; None if unknown."""
    if not return_type:
        return None
    match = GENERATOR_TYPES.match(return_type)
    if not match:
        return None
    inner, depth, parts, start = match.group(1), 0, [], 0
    for i, ch in enumerate(inner):
        depth += ch in "[(" 
        depth -= ch in "])"
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return parts[0].strip() or None


def function_facts(defn: Definition, src: bytes) -> FunctionFacts:
    """The facts a docstring of this definition may state."""
    facts = FunctionFacts(kind=defn.kind, name=defn.name)
    if defn.kind != "function":
        return facts
    facts.params = parameters(defn, src)
    rt_node = defn.node.child_by_field_name("return_type")
    return_type = _one_line(node_text(rt_node, src)) if rt_node is not None else None
    facts.decorators = _decorator_names(defn, src)
    facts.is_method = defn.is_method
    raises: list[str] = []
    returns: list[str] = []
    is_generator = False
    bare = {p.name.lstrip("*") for p in facts.params}
    for node in own_nodes(defn.body_node):
        if node.type == "yield":
            is_generator = True
            values = [c for c in node.named_children if c.type != "comment"]
            yielded = values[0] if len(values) == 1 and not any(c.type == "from" for c in node.children) else None
            if yielded is not None and node_text(yielded, src) not in [y.source for y in facts.yield_info]:
                facts.yield_info.append(return_value(yielded, defn.body_node, bare, src))
        elif node.type == "return_statement":
            values = [c for c in node.named_children if c.type != "comment"]
            if values and not (len(values) == 1 and values[0].type == "none"):
                value = values[0] if len(values) == 1 else node
                returns.append(_one_line(node_text(value, src).removeprefix("return ")))
                if len(values) == 1 and returns[-1] not in [r.source for r in facts.return_info]:
                    facts.return_info.append(return_value(values[0], defn.body_node, bare, src))
            else:
                facts.returns_none_too = True
        elif node.type == "raise_statement":
            exprs = [c for c in node.named_children if c.type != "comment"]
            # `raise X from Y`: the raised one is the first expression.
            name = _exception_name(exprs[0], src) if exprs else None
            if name and name not in raises and not caught_inside(node, name, defn.body_node, src):
                raises.append(name)
                facts.raise_details[name] = raise_detail(node, name, exprs[0], defn.body_node, src)
    facts.raises = raises
    facts.usage = parameter_usage(defn.body_node, sorted(bare), src)
    statements = [c for c in defn.body_node.named_children if c.type not in ("comment",)]
    statements = [c for c in statements if not (c.type == "expression_statement" and c.named_children
                                                and c.named_children[0].type == "string")]
    if len(statements) == 1 and statements[0].type == "raise_statement" and raises:
        facts.only_raises = raises[0]
    facts.stub = all(c.type == "pass_statement" or (c.type == "expression_statement" and c.named_children
                                                    and c.named_children[0].type == "ellipsis") for c in statements)
    facts.never_returns = no_return_type(return_type) and return_type != "None"
    if is_generator:
        facts.yields = True
        facts.yield_type = _yield_type(return_type)
    elif return_type is not None:
        facts.returns = not no_return_type(return_type)
        facts.return_type = return_type if facts.returns else None
        facts.return_values = returns
    elif returns:
        facts.returns = True
        facts.return_values = returns
    return facts
