"""The docstring feature: edits for every kind of definition, and every bad input from issue 5."""

from __future__ import annotations

import ast

import pytest

from devassist.server.features.docstring import (
    GENERATE, UPDATE, DocstringError, DocstringFeature, check_version)

F = DocstringFeature()  # no bundle: summaries come from the name


def docstring_after(text: str, name: str) -> str | None:
    """The docstring Python sees for a function/class named `name` in `text` (must compile)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return ast.get_docstring(node)
    raise AssertionError(f"{name} not found")


def generate(text: str, line: int, character: int = 0, style: str = "google") -> str:
    edit = F.edit_for(text, line, character, style)
    return edit.apply(text)


@pytest.mark.parametrize("src,line,name", [
    ("def get_user_name(uid):\n    return uid\n", 0, "get_user_name"),
    ("async def fetch_page(url):\n    return await get(url)\n", 0, "fetch_page"),
    ("class A:\n    def method_x(self, a):\n        return a\n", 1, "method_x"),
    ("def outer():\n    def inner_fn(b):\n        return b\n    return inner_fn\n", 1, "inner_fn"),
    ("import functools\n@functools.cache\n@other\ndef cached_thing(a):\n    return a\n", 1, "cached_thing"),
    ("class UserStore:\n    x = 1\n", 0, "UserStore"),
], ids=["function", "async", "method", "nested", "decorated-cursor-on-decorator", "class"])
def test_generates_for_every_kind_of_definition(src, line, name):
    out = generate(src, line)
    doc = docstring_after(out, name)
    assert doc and doc.splitlines()[0].endswith(".")


def test_google_sections_from_the_parse():
    src = ("class R:\n"
           "    def get(self, key: str, default: int = 0, *args, flag=True, **kwargs) -> int:\n"
           "        if key is None:\n"
           "            raise ValueError('no key')\n"
           "        if key == '':\n"
           "            raise errors.EmptyKey\n"
           "        def helper():\n"
           "            raise KeyError\n"
           "        return self.d.get(key, default)\n")
    doc = docstring_after(generate(src, 1), "get")
    assert doc == ("Return the value for ``key``.\n\nArgs:\n    key (str): Passed to ``d.get``. Compared with ``\'\'``. "
                   "May be ``None``.\n"
                   "    default (int): Passed to ``d.get``. Defaults to ``0``.\n    *args: Extra positional arguments.\n"
                   "    flag: Defaults to ``True``.\n    **kwargs: Extra keyword arguments.\n\n"
                   "Returns:\n    int: What ``d.get`` returns.\n\n"
                   "Raises:\n    ValueError: If ``key is None`` (\"no key\").\n    errors.EmptyKey: If ``key == \'\'``.")


def test_nothing_invented():
    src = "def run_all():\n    print('hi')\n    return None\n"
    assert docstring_after(generate(src, 0), "run_all") == "Run all."
    src = "def log_it(x) -> None:\n    return\n"
    assert "Returns" not in docstring_after(generate(src, 0), "log_it")


def test_returns_from_return_statements_and_yields_for_generators():
    doc = docstring_after(generate("def first(items):\n    return items[0]\n", 0), "first")
    assert doc.endswith("Returns:\n    The item of ``items`` at ``0``.")  # describes the value, no echo
    src = "from typing import Iterator\ndef count(n) -> Iterator[int]:\n    yield n\n    return\n"
    doc = docstring_after(generate(src, 1), "count")
    assert "Yields:\n    int:" in doc and "Returns" not in doc


def test_staticmethod_keeps_first_parameter_and_classmethod_drops_cls():
    src = ("class A:\n    @staticmethod\n    def s(self, x):\n        pass\n"
           "    @classmethod\n    def c(cls, y):\n        pass\n")
    out = generate(src, 2)
    assert "self:" in docstring_after(out, "s")
    out = generate(out, out.splitlines().index("    def c(cls, y):"))
    doc = docstring_after(out, "c")
    assert "y:" in doc and "cls" not in doc


@pytest.mark.parametrize("style,expected", [
    ("google", "Return ``x`` scaled by ``k``.\n\nArgs:\n    x (float): TODO: describe ``x``.\n"
               "    k: Compared with ``0``. Defaults to ``2``.\n\nReturns:\n    float: TODO: describe the return value.\n\n"
               "Raises:\n    ValueError: If ``k < 0``."),
    ("numpy", "Return ``x`` scaled by ``k``.\n\nParameters\n----------\nx : float\n    TODO: describe ``x``.\nk\n"
              "    Compared with ``0``. Defaults to ``2``.\n\nReturns\n-------\nfloat\n    TODO: describe the return value.\n\n"
              "Raises\n------\nValueError\n    If ``k < 0``."),
    ("sphinx", "Return ``x`` scaled by ``k``.\n\n:param x: TODO: describe ``x``.\n:type x: float\n"
               ":param k: Compared with ``0``. Defaults to ``2``.\n:returns: TODO: describe the return value.\n"
               ":rtype: float\n:raises ValueError: If ``k < 0``."),
])
def test_each_style(style, expected):
    src = "def scale(x: float, k=2) -> float:\n    if k < 0:\n        raise ValueError(k)\n    return x * k\n"
    assert docstring_after(generate(src, 0, style=style), "scale") == expected


# ---- update ---------------------------------------------------------------------------------


@pytest.mark.parametrize("style,doc,expected", [
    ("google",
     '"""Scale a value.\n\n    Longer prose.\n\n    Args:\n        x: The value.\n        old: Gone now.\n\n    Examples:\n        >>> scale(1)\n    """',
     "Scale a value.\n\nLonger prose.\n\nArgs:\n    x (float): The value.\n    k: Compared with ``0``. Defaults to ``2``.\n\n"
     "Returns:\n    float: TODO: describe the return value.\n\nRaises:\n    ValueError: If ``k < 0``.\n\nExamples:\n    >>> scale(1)"),
    ("numpy",
     '"""Scale a value.\n\n    Parameters\n    ----------\n    x : float\n        The value.\n    old : int\n        Gone.\n    """',
     "Scale a value.\n\nParameters\n----------\nx : float\n    The value.\nk\n    Compared with ``0``. Defaults to ``2``.\n\n"
     "Returns\n-------\nfloat\n    TODO: describe the return value.\n\nRaises\n------\nValueError\n    If ``k < 0``."),
    ("sphinx",
     '"""Scale a value.\n\n    :param x: The value.\n    :param old: Gone.\n    :returns: The scaled value.\n    """',
     "Scale a value.\n\n:param x: The value.\n:type x: float\n:param k: Compared with ``0``. Defaults to ``2``.\n"
     ":returns: The scaled value.\n:rtype: float\n:raises ValueError: If ``k < 0``."),
], ids=["google", "numpy", "sphinx"])
def test_update_keeps_prose_and_syncs_parameters(style, doc, expected):
    src = f"def scale(x: float, k=2) -> float:\n    {doc}\n    if k < 0:\n        raise ValueError(k)\n    return x * k\n"
    edit = F.edit_for(src, 0, 0, "google")  # the docstring's own style wins over the setting
    assert edit.title == UPDATE and edit.changed
    assert docstring_after(edit.apply(src), "scale") == expected


def test_update_of_a_one_line_docstring_and_of_an_up_to_date_one():
    src = "def f(a):\n    'Do f.'\n    return a\n"
    out = F.edit_for(src, 0, 0).apply(src)
    assert docstring_after(out, "f") == "Do f.\n\nArgs:\n    a: Returned by the function.\n\nReturns:\n    The given ``a``."
    again = F.edit_for(out, 0, 0)
    assert not again.changed and again.apply(out) == out


def test_update_keeps_a_raw_docstring_raw():
    src = 'def f(a, sep="\\\\"):\n    r"""Split on \\d+.\n\n    Args:\n        a: Text.\n    """\n'
    out = F.edit_for(src, 0, 0).apply(src)
    assert docstring_after(out, "f") == 'Split on \\d+.\n\nArgs:\n    a: Text.\n    sep: Defaults to ``"\\\\"``.'


# ---- bad input ------------------------------------------------------------------------------


def test_cursor_outside_any_function():
    with pytest.raises(DocstringError, match="No function or class at line 1"):
        F.edit_for("import os\n\ndef f():\n    pass\n", 0, 0)
    with pytest.raises(DocstringError, match="outside the document"):
        F.edit_for("x = 1\n", 7, 0)


def test_syntax_error_in_the_function_is_refused():
    with pytest.raises(DocstringError, match="syntax error"):
        F.edit_for("def f(a:\n    return a +\n", 0, 0)


def test_syntax_error_elsewhere_still_gives_a_correct_edit():
    src = "def good(a):\n    return a\n\n\ndef bad(:\n    pass\n"
    edit = F.edit_for(src, 0, 0)
    out = edit.apply(src)
    assert out.startswith('def good(a):\n    """TODO: summarize what ``good`` does.\n')
    assert out.endswith("def bad(:\n    pass\n")


def test_one_line_def_is_split():
    out = generate("def f(): pass\nx = 1\n", 0)
    assert out == 'def f():\n    """TODO: summarize what ``f`` does."""\n    pass\nx = 1\n'
    out = generate("class A:\n    def g(self): return 1  # note\n", 1)
    assert docstring_after(out, "g") == ("TODO: summarize what ``g`` does.\n\nReturns:\n    int: Always ``1``."
                                         ) and "return 1  # note" in out


def test_lambda_is_refused_with_a_message():
    with pytest.raises(DocstringError, match="lambda"):
        F.edit_for("square = lambda x: x * x\n", 0, 3)
    with pytest.raises(DocstringError, match="lambda"):  # cursor inside a lambda within a function
        F.edit_for("def f(xs):\n    return sorted(xs, key=lambda v: -v)\n", 1, 35)


def test_body_with_other_triple_quoted_strings():
    src = 'def render(name):\n    template = """Hello\n    {name}"""\n    return \'\'\'x\'\'\' + template\n'
    out = generate(src, 0)
    assert docstring_after(out, "render").startswith("Return ``name`` rendered.")
    assert 'template = """Hello\n    {name}"""' in out


def test_line_continuations_in_the_signature():
    src = "def join(a, \\\n         b=', '):  # joins\n    return a + b\n"
    out = generate(src, 1)
    assert docstring_after(out, "join").startswith(
        "Return ``a`` joined by ``b``.\n\nArgs:\n    a: TODO: describe ``a``.\n    b: Defaults to ``', '``.")
    assert out.startswith("def join(a, \\\n         b=', '):  # joins\n    \"\"\"Return ``a`` joined")


def test_tabs_are_kept():
    src = "class A:\n\tdef f(self, a):\n\t\treturn a\n"
    out = generate(src, 1)
    assert '\t\t"""TODO: summarize what ``f`` does.\n\n\t\tArgs:\n\t\t    a: Returned by the function.\n' in out
    out = generate("class A:\n\tdef g(self): pass\n", 1)
    assert '\tdef g(self):\n\t\t"""TODO: summarize what ``g`` does."""\n\t\tpass\n' in out


def test_crlf_line_endings_are_kept():
    src = "def f(a):\r\n    return a\r\n"
    out = generate(src, 0)
    assert "\n" not in out.replace("\r\n", "")
    assert docstring_after(out, "f").startswith("TODO: summarize")
    out = generate("def g(): pass\r\n", 0)
    assert out == 'def g():\r\n    """TODO: summarize what ``g`` does."""\r\n    pass\r\n'


def test_utf16_positions_after_astral_characters():
    src = 'def f(a="😀😀"):  # ok\n    return a\n'
    edit = F.edit_for(src, 0, 12)
    assert edit.start == (0, 22)  # 😀 counts two UTF-16 units
    assert docstring_after(edit.apply(src), "f").startswith("TODO: summarize")


def test_defaults_with_quotes_and_backslashes_stay_valid():
    src = 'def f(a=\'"""\', b="\\\\n"):\n    pass\n'
    doc = docstring_after(generate(src, 0), "f")
    assert "a: Defaults to ``'\"\"\"'``." in doc and 'b: Defaults to ``"\\\\n"``.' in doc


def test_document_changed_since_the_request():
    edit = F.edit_for("def f():\n    pass\n", 0, 0, version=3)
    assert edit.workspace_edit("file:///a.py")["documentChanges"][0]["textDocument"]["version"] == 3
    check_version(edit, 3)
    with pytest.raises(DocstringError, match="changed"):
        check_version(edit, 4)


def test_missing_body_gets_the_docstring_as_its_body():
    assert generate("def f():\n", 0) == 'def f():\n    """TODO: summarize what ``f`` does."""\n'
    assert generate("class A:\n    def f(self):", 1) == 'class A:\n    def f(self):\n        """TODO: summarize what ``f`` does."""'
    with pytest.raises(DocstringError, match="syntax error"):
        F.edit_for("def f(a\n", 0, 0)


# ---- code actions -----------------------------------------------------------------------------


def test_actions():
    src = 'class A:\n    """Doc."""\n\n    def f(self):\n        """Doc."""\n        return 1\n\n    def g(self):\n        pass\n\nx = 1\n'
    assert F.actions_for(src, 0) == []  # class with a docstring: nothing to offer
    (upd,) = F.actions_for(src, 3)  # f's docstring lacks its Returns section
    assert upd.title == UPDATE and (upd.line, upd.character) == (3, 8)
    (gen,) = F.actions_for(src, 7)
    assert gen.title == GENERATE and gen.qualname == "A.g"
    assert F.actions_for(src, 10) == []
    assert F.actions_for("def f(:\n", 0) == []


def test_actions_only_on_the_header_and_only_with_something_to_do():
    src = ('import functools\n@functools.cache\ndef f(a,\n      b):\n    x = a\n    return x + b\n\n'
           'def g(a):\n    """Do g.\n\n    Args:\n        a: The a.\n    """\n    print(a)\n')
    assert [a.title for a in F.actions_for(src, 1)] == [GENERATE]  # on the decorator
    assert [a.title for a in F.actions_for(src, 3)] == [GENERATE]  # on the header's second line
    assert F.actions_for(src, 4) == [] and F.actions_for(src, 5) == []  # inside the body: no lightbulb
    assert F.actions_for(src, 7) == []  # g's docstring already matches its signature
    assert [a.title for a in F.actions_for(src.replace("def g(a):", "def g(a, b):"), 7)] == [UPDATE]
