"""The sections a docstring should have, read from Python's own `ast` (the evaluation's independent oracle).

`expected_sections` is what the function's signature and body call for (parameters, a Returns
section, the exceptions it lets reach its caller); `found_sections` is what a generated docstring
says, read back by the docstring parser. The evaluation counts a docstring right when they agree.
"""

from __future__ import annotations

import ast

from devassist.server.features.docstring.styles import parse_docstring


def _own_nodes(fn: ast.AST):
    """ast nodes of a function's own body (no nested defs, classes, lambdas)."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    stack = [n for n in fn.body if not isinstance(n, scopes)]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, scopes):
                stack.append(child)


def expected_sections(fn: ast.FunctionDef, is_method: bool) -> dict:
    """Parameters, whether Returns belongs, and the raised classes, from Python's ast."""
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args]
    decorators = {ast.unparse(d).split("(")[0].split(".")[-1] for d in fn.decorator_list}
    if is_method and names and names[0] in ("self", "cls", "mcs", "mcls", "metacls") and "staticmethod" not in decorators:
        names = names[1:]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    names += [x.arg for x in a.kwonlyargs]
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    nodes = list(_own_nodes(fn))
    generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes)
    if generator:
        returns = False
    elif fn.returns is not None:
        # `t.NoReturn`, `te.Never`: nothing comes back whatever the module is imported as
        returns = ast.unparse(fn.returns).split(".")[-1] not in ("None", "NoReturn", "Never")
    else:
        returns = any(isinstance(n, ast.Return) and n.value is not None
                      and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in nodes)
    raises = []
    caught = _caught_raises(nodes)
    for n in nodes:
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(exc, (ast.Name, ast.Attribute)):
                name = ast.unparse(exc)
                if name.split(".")[-1][:1].isupper() and name not in raises and (id(n), name.split(".")[-1]) not in caught:
                    raises.append(name)
    return {"params": names, "returns": returns, "raises": sorted(raises)}


def _caught_raises(nodes: list[ast.AST]) -> set[tuple[int, str]]:
    """(id of a `raise`, class) for each raise in a `try` body that the same `try`'s handlers catch (a bare
    `except`, the class by name, or `Exception` / `BaseException`): it never reaches the caller."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    caught = set()
    for t in nodes:
        if not isinstance(t, ast.Try):
            continue
        names: set[str] = set()
        for h in t.handlers:
            kinds = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            names |= {"*" if k is None else ast.unparse(k).split(".")[-1] for k in kinds}
        stack = list(t.body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                short = ast.unparse(exc).split(".")[-1]
                if names & {"*", short, "Exception", "BaseException"}:
                    caught.add((id(node), short))
            stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, scopes))
    return caught


def found_sections(docstring: str, style: str) -> dict:
    """What a generated docstring's sections say, read back by the docstring parser."""
    model = parse_docstring(docstring, style)
    return {"params": [e.name for e in model.params()],
            "returns": model.block("returns") is not None,
            "raises": sorted(e.name for b in model.blocks if b.kind == "raises" for e in b.entries)}


def find_function(tree: ast.Module, line: int):
    """The function whose `def` is on a 1-based line, and whether it is a method."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    child._in_class = True  # type: ignore[attr-defined]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = node.lineno
            if start == line:
                return node, getattr(node, "_in_class", False)
    return None, False
