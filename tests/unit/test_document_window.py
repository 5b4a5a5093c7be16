"""Large documents: `window_of` keeps line numbers and only the lines around the cursor."""

from devassist.server.document_window import MAX_WINDOW_CHARS, WINDOW_LINES_AFTER, WINDOW_LINES_BEFORE, window_of


def numbered(lines: int) -> str:
    return "\n".join(f"line_{i} = {i}" for i in range(lines))


def test_the_window_keeps_line_numbers_and_empties_the_rest():
    source = numbered(5000)
    window = window_of(source.splitlines(True), 3000)
    lines = window.split("\n")
    assert len(lines) == 5000  # every position the editor sends still points at the same line
    assert lines[3000] == "line_3000 = 3000"
    assert lines[3000 - WINDOW_LINES_BEFORE] == f"line_{3000 - WINDOW_LINES_BEFORE} = {3000 - WINDOW_LINES_BEFORE}"
    assert lines[3000 - WINDOW_LINES_BEFORE - 1] == ""
    assert lines[3000 + WINDOW_LINES_AFTER] != "" and lines[3000 + WINDOW_LINES_AFTER + 1] == ""
    assert len(window) < 30 * (WINDOW_LINES_BEFORE + WINDOW_LINES_AFTER + 1) + 5000


def test_window_at_the_edges_and_outside():
    source = numbered(100)
    assert window_of(source.splitlines(True), 0).split("\n")[0] == "line_0 = 0"
    assert window_of(source.splitlines(True), 99).split("\n")[99] == "line_99 = 99"
    assert window_of(source.splitlines(True), 100) is None and window_of(source.splitlines(True), -1) is None


def test_a_window_of_giant_lines_is_not_analysed():
    source = ("x" * (MAX_WINDOW_CHARS // 10) + "\n") * 20
    assert window_of(source.splitlines(True), 10) is None


def test_the_window_has_the_documents_line_count_with_or_without_a_final_newline():
    for source in (numbered(1000), numbered(1000) + "\n", numbered(1000).replace("\n", "\r\n") + "\r\n"):
        for line in (0, 500, 999):
            window = window_of(source.splitlines(True), line)
            assert window.count("\n") == source.count("\n")
            assert window.split("\n")[line].rstrip("\r") == f"line_{line} = {line}"
    assert window_of(["x = 1\n"], 1) == "x = 1\n"  # the empty line after a final newline is a position too
