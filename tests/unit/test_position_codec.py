"""`PositionCodec` agrees with a plain line-by-line reference, including runs of newlines at either end."""

import random

from devassist.server.parsing import PositionCodec


def reference(text: str):
    """Line starts by the obvious scan, and the codec's three conversions built on them."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def end(line):
        return starts[line + 1] - 1 if line + 1 < len(starts) else len(text)

    def offset(line, character):
        if line < 0:
            return 0
        if line >= len(starts):
            return len(text)
        i, units = starts[line], 0
        while i < end(line) and units < character:
            units += 2 if ord(text[i]) > 0xFFFF else 1
            i += 1
        return i

    def position(off):
        off = max(0, min(off, len(text)))
        line = max(n for n, s in enumerate(starts) if s <= off)
        return line, sum(2 if ord(c) > 0xFFFF else 1 for c in text[starts[line]:off])

    return starts, end, offset, position


def test_codec_matches_the_reference_on_random_texts():
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(["\n", "\n", "a", "b ", "\r\n", "\U0001F600", "\t"]) for _ in range(rng.randint(0, 40)))
        text = "\n" * rng.randint(0, 5) + text + "\n" * rng.randint(0, 5)
        codec = PositionCodec(text)
        starts, end, offset, position = reference(text)
        assert codec.line_count == len(starts)
        for line in range(-1, len(starts) + 2):
            if 0 <= line < len(starts):
                assert codec.line_text(line) == text[starts[line]:end(line)].rstrip("\r")
            for character in (0, 1, 2, 5, 100):
                assert codec.offset(line, character) == offset(line, character)
        for off in range(-1, len(text) + 2):
            assert codec.position(off) == position(off)


def test_a_window_of_a_large_document_is_read_without_scanning_its_emptied_lines():
    window = "\n" * 3_000_000 + "def f():\n    return 1\n" + "\n" * 3_000_000
    codec = PositionCodec(window)
    assert codec.line_count == 6_000_003
    assert codec.line_text(3_000_001) == "    return 1"
    assert codec.position(codec.offset(3_000_001, 4)) == (3_000_001, 4)
    assert codec.position(len(window)) == (6_000_002, 0)
    assert len(codec._starts) == 1  # only the real lines were scanned


def test_a_large_source_parsed_in_chunks_gives_the_same_tree_as_a_plain_parse():
    from tree_sitter import Parser

    from devassist.server.parsing import PARSE_CHUNK, parse, python_language

    # Multi-byte characters everywhere, so that chunk boundaries fall inside them.
    unit = 'def f(naïve, x="日本語 ✓"):\n    """Ünïcödé — docstring."""\n    return naïve + x  # 💡\n\n'
    source = (unit * (3 * PARSE_CHUNK // len(unit.encode()) + 1)).encode()
    assert len(source) > 2 * PARSE_CHUNK
    chunked, plain = parse(source), Parser(python_language()).parse(source)

    def nodes(tree):
        out, stack = [], [tree.root_node]
        while stack:
            n = stack.pop()
            out.append((n.type, n.start_byte, n.end_byte))
            stack.extend(n.children)
        return out

    assert not chunked.root_node.has_error and nodes(chunked) == nodes(plain)


def test_background_parsing_pauses_between_reads_and_definitions():
    from devassist.server.parsing import PARSE_CHUNK, definitions

    source = "".join(f"def f{i}(a):\n    return a + {i}\n\n" for i in range(2000)).encode()
    calls = []
    paused = definitions(source, pause=lambda: calls.append(1))
    assert [d.qualname for d in paused] == [d.qualname for d in definitions(source)]
    # once per read of PARSE_CHUNK bytes, and once per definition
    assert len(calls) >= len(source) // PARSE_CHUNK + len(paused)
