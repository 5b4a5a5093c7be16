"""How a function uses its parameters, what its return statements give back, and why it raises.

Read from the tree-sitter parse of the function's own body (nested functions, classes and
lambdas excluded), so that every description built from it states only what the code shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from devassist.server.parsing import node_text, string_value

_SCOPES = ("function_definition", "class_definition", "lambda", "decorated_definition")
_BOOL_CALLS = {"isinstance", "issubclass", "callable", "hasattr", "all", "any", "bool", "startswith", "endswith",
               "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "exists", "isfile", "isdir"}
_TYPE_CALLS = {"str": "str", "int": "int", "float": "float", "list": "list", "dict": "dict", "set": "set",
               "tuple": "tuple", "len": "int", "sorted": "list", "repr": "str", "bytes": "bytes", "frozenset": "frozenset",
               "join": "str", "format": "str", "strip": "str", "lower": "str", "upper": "str", "replace": "str",
               "encode": "bytes", "decode": "str", "split": "list", "splitlines": "list", "keys": "keys view",
               "items": "items view", "values": "values view", "count": "int", "index": "int", "copy": None}
_LITERAL_TYPES = {"string": "str", "concatenated_string": "str", "integer": "int", "float": "float",
                  "true": "bool", "false": "bool", "list": "list", "list_comprehension": "list", "dictionary": "dict",
                  "dictionary_comprehension": "dict", "set": "set", "set_comprehension": "set", "tuple": "tuple", "expression_list": "tuple",
                  "generator_expression": "generator", "comparison_operator": "bool", "not_operator": "bool",
                  "boolean_operator": None}


@dataclass
class ParamUsage:
    """What the body does with one parameter."""

    iterated: bool = False
    called: bool = False
    none_checked: bool = False
    returned: bool = False
    indexed: bool = False
    stored_as: str | None = None  # `self.x = param`
    passed_to: list[str] = field(default_factory=list)  # callees it is an argument of
    methods: list[str] = field(default_factory=list)  # `param.method(...)`
    attributes: list[str] = field(default_factory=list)  # `param.attr` read
    instance_of: list[str] = field(default_factory=list)  # `isinstance(param, X)`
    compared_with: list[str] = field(default_factory=list)  # `param < 0` -> "0"


@dataclass
class RaiseDetail:
    """Why an exception is raised: the `if` condition (or caught exception) and the message."""

    name: str
    condition: str | None = None
    caught: str | None = None
    message: str | None = None


@dataclass
class ReturnValue:
    """One `return <value>`: its source, the type it shows, and a phrase that describes it."""

    source: str
    type: str | None = None
    phrase: str | None = None


def own_nodes(body: Node | None):
    """Every node of a body, not descending into nested functions, classes or lambdas."""
    if body is None:
        return
    stack = [body]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in reversed(node.children) if c.type not in _SCOPES)


def _short(text: str, limit: int = 60) -> str | None:
    """A source fragment on one line, or None if too long to quote (or unsafe inside a docstring)."""
    text = " ".join(text.split())
    if "\\" in text or '"""' in text or "``" in text:
        return None
    return text if text and len(text) <= limit else None


def _without_arguments(text: str) -> str:
    """A called expression with every argument list emptied, on one line: `Parser(\n  a=a,\n).parse`
    -> `Parser().parse` (a docstring entry is one line; the arguments are the call's, not the callee)."""
    out, depth = [], 0
    for ch in text:
        if ch in "([{":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch in ")]}" and depth > 0:
            depth -= 1
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return " ".join("".join(out).split())


def _callee(call: Node, src: bytes) -> str:
    """The called name, at most its last two dotted parts: `os.path.join` -> `path.join`,
    `FormDataParser(...).parse_from_environ` for a call on a call written over several lines."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return ""
    parts = _without_arguments(node_text(fn, src)).split(".")[-2:]
    return ".".join(parts).replace("()", "(...)").replace("[]", "[...]").replace("{}", "{...}")


def _is_exception(callee: str) -> bool:
    """Whether a called name is an exception class (an argument of it is a message, not a use)."""
    last = callee.split(".")[-1]
    return last[:1].isupper() and last.endswith(("Error", "Exception", "Warning", "Exit", "Interrupt"))


def _add(items: list[str], value: str) -> None:
    if value and value not in items:
        items.append(value)


def _all_nodes(body: Node | None):
    """Every node of a body, nested functions included (a closure's use of a parameter counts)."""
    stack = [body] if body is not None else []
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def parameter_usage(body: Node | None, names: list[str], src: bytes) -> dict[str, ParamUsage]:
    """How each named parameter is used in a function body (and in the closures it defines)."""
    usage = {n: ParamUsage() for n in names}
    for node in _all_nodes(body):
        if node.type != "identifier":
            continue
        name = node_text(node, src)
        u = usage.get(name)
        parent = node.parent
        if u is None or parent is None:
            continue
        ptype = parent.type
        if ptype in ("for_statement", "for_in_clause") and parent.child_by_field_name("right") == node:
            u.iterated = True
        elif ptype == "call" and parent.child_by_field_name("function") == node:
            u.called = True
        elif ptype in ("argument_list", "keyword_argument"):
            call = parent if ptype == "argument_list" else parent.parent
            call = call.parent if call is not None else None
            if ptype == "keyword_argument" and parent.child_by_field_name("value") != node:
                continue
            if call is not None and call.type == "call":
                callee = _callee(call, src)
                args = [c for c in (parent if ptype == "argument_list" else parent.parent).named_children]
                if callee == "isinstance" and len(args) == 2 and args[0] == node:
                    _add(u.instance_of, node_text(args[1], src))
                elif callee not in ("isinstance", "print", "super") and not _is_exception(callee):
                    _add(u.passed_to, callee)
        elif ptype == "attribute" and parent.child_by_field_name("object") == node:
            attr = node_text(parent.child_by_field_name("attribute"), src)
            grand = parent.parent
            if grand is not None and grand.type == "call" and grand.child_by_field_name("function") == parent:
                _add(u.methods, attr)
            elif not (grand is not None and grand.type == "assignment" and grand.child_by_field_name("left") == parent):
                _add(u.attributes, attr)
        elif ptype == "comparison_operator":
            others = [c for c in parent.named_children if c != node]
            if any(c.type == "none" for c in others):
                u.none_checked = True
            elif len(others) == 1 and others[0].type in ("integer", "float", "string", "identifier", "attribute"):
                value = _short(node_text(others[0], src), 30)
                if value is not None:
                    _add(u.compared_with, value)
        elif ptype == "assignment" and parent.child_by_field_name("right") == node:
            left = parent.child_by_field_name("left")
            if left is not None and left.type == "attribute" and node_text(left, src).startswith(("self.", "cls.")):
                u.stored_as = node_text(left, src)
        elif ptype == "return_statement":
            u.returned = True
        elif ptype == "subscript" and parent.child_by_field_name("value") == node:
            u.indexed = True
    return usage


def _message(expr: Node, src: bytes) -> str | None:
    """The first string argument of `X("message", ...)`, f-string fields kept as written."""
    if expr.type != "call":
        return None
    args = expr.child_by_field_name("arguments")
    first = next((c for c in args.named_children), None) if args is not None else None
    if first is None or first.type not in ("string", "concatenated_string"):
        return None
    value = string_value(first, src)
    if value is None:  # an f-string: show its text between the quotes
        raw = node_text(first, src)
        value = raw[raw.find(raw[-1]) + 1 : -1].strip("'\"") if raw else None
    return _short(value.replace("``", "'"), 80) if value else None


# Handlers that catch every exception a docstring's Raises section would list.
CATCH_ALL = {"Exception", "BaseException"}


def caught_inside(raise_node: Node, name: str, body: Node, src: bytes) -> bool:
    """Whether a `raise` in a `try` body is caught by that `try`'s own `except` (a bare one, one naming the
    class, or `Exception`): it never reaches the caller, so it is no Raises entry (`get_root_path` raises
    ValueError inside `try: ... except (ImportError, ValueError):`)."""
    catching = {name.rsplit(".", 1)[-1]} | CATCH_ALL  # the handlers that catch it
    node, child = raise_node.parent, raise_node
    while node is not None and node != body and node.type not in _SCOPES:
        if node.type == "try_statement" and node.child_by_field_name("body") == child:
            for clause in node.children:
                if clause.type != "except_clause":
                    continue
                value = clause.child_by_field_name("value")
                if value is None:
                    return True  # a bare `except:`
                if value.type == "as_pattern" and value.named_children:
                    value = value.named_children[0]
                kinds = value.named_children if value.type in ("tuple", "parenthesized_expression") else [value]
                if any(node_text(k, src).rsplit(".", 1)[-1] in catching for k in kinds):
                    return True
        child, node = node, node.parent
    return False


def raise_detail(raise_node: Node, name: str, expr: Node, body: Node, src: bytes) -> RaiseDetail:
    """The condition (enclosing `if`/`elif`, or the `except` clause) and message of one `raise`."""
    detail = RaiseDetail(name, message=_message(expr, src))
    node, child = raise_node.parent, raise_node
    while node is not None and node != body and node.type not in _SCOPES:
        if node.type in ("if_statement", "elif_clause") and node.child_by_field_name("consequence") == child:
            cond = node.child_by_field_name("condition")
            detail.condition = _short(node_text(cond, src)) if cond is not None else None
            break
        if node.type == "except_clause":
            caught = next((c for c in node.named_children if c.type not in ("block", "comment")), None)
            if caught is not None and caught.type == "as_pattern":
                caught = caught.named_children[0] if caught.named_children else None
            detail.caught = _short(node_text(caught, src), 40) if caught is not None else None
            break
        child, node = node, node.parent
    return detail


def _assigned_type(name: str, body: Node, src: bytes) -> str | None:
    """The type a local variable gets from its first assignment, when the literal or call shows it."""
    for node in own_nodes(body):
        if node.type == "assignment" and node_text(node.child_by_field_name("left"), src) == name:
            right = node.child_by_field_name("right")
            return value_type(right, src) if right is not None else None
    return None


def _defines_function(name: str, body: Node, src: bytes) -> bool:
    """Whether the body defines a function of that name at its top level (a decorator's wrapper)."""
    for child in body.named_children:
        node = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        if node is not None and node.type == "function_definition" and node_text(node.child_by_field_name("name"), src) == name:
            return True
    return False


def value_type(expr: Node, src: bytes) -> str | None:
    """The type an expression evidently has (literals, comparisons, well-known calls), else None."""
    if expr.type == "parenthesized_expression" and expr.named_children:
        return value_type(expr.named_children[0], src)
    if expr.type in _LITERAL_TYPES:
        if expr.type == "string" and any(c.type == "interpolation" for c in expr.children):
            return "str"
        return _LITERAL_TYPES[expr.type]
    if expr.type == "call":
        callee = _callee(expr, src).split(".")[-1]
        if callee in _BOOL_CALLS:
            return "bool"
        return _TYPE_CALLS.get(callee)
    if expr.type == "binary_operator":
        left = expr.child_by_field_name("left")
        op = expr.child_by_field_name("operator")
        if op is not None and node_text(op, src) == "%" and left is not None and left.type == "string":
            return "str"
        return value_type(left, src) if left is not None and left.type in ("string", "list", "tuple") else None
    return None


def return_value(expr: Node, body: Node, params: set[str], src: bytes) -> ReturnValue:
    """What one returned expression is, in words: type and a describing phrase (never the bare source)."""
    source = " ".join(node_text(expr, src).split())
    rv = ReturnValue(source, value_type(expr, src))
    text = node_text(expr, src)
    if expr.type == "identifier":
        if text == "self":
            rv.phrase = "This instance, so that calls can be chained"
        elif text in params:
            rv.phrase = f"The given ``{text}``"
        elif _defines_function(text, body, src):
            rv.phrase = f"The inner function ``{text}``"
        else:
            rv.type = rv.type or _assigned_type(text, body, src)
            rv.phrase = f"The {rv.type} built in ``{text}``" if rv.type else None
    elif expr.type in ("integer", "float", "string", "true", "false") and _short(text, 30):
        rv.phrase = f"Always ``{_short(text, 30)}``"
    elif expr.type == "attribute" and text.startswith("self.") and text.count(".") == 1:
        rv.phrase = f"The instance's ``{text[5:]}`` attribute"
    elif expr.type == "subscript":
        value, index = expr.child_by_field_name("value"), expr.child_by_field_name("subscript")
        v, i = _short(node_text(value, src), 30), _short(node_text(index, src), 20) if index is not None else None
        rv.phrase = f"The item of ``{v}`` at ``{i}``" if v and i else None
    elif expr.type == "call":
        callee = _callee(expr, src)
        args = expr.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and len(args.named_children) == 1 else None
        arg = _short(node_text(first, src), 30) if first is not None else None
        if callee == "len" and arg:
            rv.phrase = f"The number of items in ``{arg}``"
        elif callee in ("sorted", "list", "tuple", "set") and arg:
            rv.phrase = f"The items of ``{arg}``" + (", sorted" if callee == "sorted" else "")
        elif rv.type is None and callee:
            rv.phrase = f"What ``{callee}`` returns"
    elif expr.type in ("tuple", "expression_list"):  # `return (a, b)` or `return a, b`
        names = [node_text(c, src) for c in expr.named_children]
        if all(c.type == "identifier" for c in expr.named_children) and 2 <= len(names) <= 4:
            rv.phrase = "A tuple of " + ", ".join(f"``{n}``" for n in names[:-1]) + f" and ``{names[-1]}``"
    return rv
