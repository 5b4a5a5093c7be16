"""MessageReader: every framing error is reported once and the stream resynchronises."""

import asyncio
import json

import pytest

from devassist.server.transport import FramingError, Limits, MessageReader, StreamClosed


def framed(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def source(data: bytes, chunk: int = 7):
    """Serves `data` in small chunks (headers get cut between reads), then end of stream."""
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]

    async def read(timeout):
        return pieces.pop(0) if pieces else b""

    return read


def read_all(data: bytes, limits: Limits | None = None, chunk: int = 7) -> list:
    """Everything the reader makes of `data`: decoded values and 'ERR' for each framing error."""

    async def run():
        reader, out = MessageReader(source(data, chunk), limits), []
        while True:
            try:
                out.append(await reader.next())
            except FramingError:
                out.append("ERR")
            except StreamClosed:
                return out

    return asyncio.run(run())


A, B = {"jsonrpc": "2.0", "id": 1, "method": "a"}, {"jsonrpc": "2.0", "id": 2, "method": "b"}
BODY = json.dumps(A).encode()

CASES = {
    "well_framed": (framed(A) + framed(B), [A, B]),
    "lf_only": (b"Content-Length: %d\n\n" % len(BODY) + BODY + framed(B), [A, B]),
    "lower_case_header": (b"content-length: %d\r\n\r\n" % len(BODY) + BODY + framed(B), [A, B]),
    "extra_headers": (b"Content-Length: %d\r\nContent-Type: x\r\n\r\n" % len(BODY) + BODY + framed(B), [A, B]),
    "no_header": (BODY + b"\r\n" + framed(B), ["ERR", B]),
    "garbage_then_header_on_same_line": (b"junk" + framed(B), ["ERR", B]),
    "length_5_too_long": (b"Content-Length: %d\r\n\r\n" % (len(BODY) + 5) + BODY + framed(B), [A, B]),
    "length_5_too_short": (b"Content-Length: %d\r\n\r\n" % (len(BODY) - 5) + BODY + framed(B), ["ERR", A, B]),
    "bad_json": (b"Content-Length: 9\r\n\r\n{not json" + framed(B), ["ERR", B]),
    "huge_length": (b"Content-Length: 100000000000\r\n\r\n" + framed(B), ["ERR", B]),
    "overflowing_length": (b"Content-Length: 100000000000000000000\r\n\r\n" + framed(B), ["ERR", B]),
    "negative_length": (b"Content-Length: -5\r\n\r\n" + framed(B), ["ERR", B]),
    "headers_without_length": (b"Content-Type: x\r\n\r\n" + BODY + framed(B), ["ERR", B]),
    "not_utf8": (b"Content-Length: 4\r\n\r\n\xff\xfe{}" + framed(B), ["ERR", B]),
    "deep_nesting": (b"Content-Length: 100000\r\n\r\n" + b"[" * 100_000 + framed(B), ["ERR", B]),
    "stray_blank_lines": (b"\r\n\r\n" + framed(A) + b"\r\n" + framed(B), [A, B]),
}


@pytest.mark.parametrize("chunk", [1, 7, 65536], ids=["bytewise", "chunks", "whole"])
@pytest.mark.parametrize("case", list(CASES))
def test_framing_errors_are_reported_once_and_the_stream_recovers(case, chunk):
    data, expected = CASES[case]
    assert read_all(data, chunk=chunk) == expected


def test_the_size_limit_is_checked_before_reading_the_body():
    reads = []

    async def read(timeout):
        reads.append(1)
        return b"Content-Length: 65\r\n\r\n" if len(reads) == 1 else b""

    async def run():
        reader = MessageReader(read, Limits(max_message_bytes=64))
        with pytest.raises(FramingError, match="exceeds the limit of 64 bytes"):
            await reader.next()

    asyncio.run(run())
    assert len(reads) == 1  # refused on the header alone


def test_a_message_that_trickles_in_times_out():
    async def slow(timeout):
        if slow.sent:
            await asyncio.wait_for(asyncio.Event().wait(), timeout)  # never completes: times out
        slow.sent = True
        return b"Content-Len"

    slow.sent = False

    async def run():
        reader = MessageReader(slow, Limits(message_timeout_s=0.05))
        with pytest.raises(StreamClosed, match="slow client"):
            await reader.next()

    asyncio.run(run())


def test_an_idle_stream_times_out():
    async def silent(timeout):
        await asyncio.wait_for(asyncio.Event().wait(), timeout)

    async def run():
        with pytest.raises(StreamClosed, match="idle"):
            await MessageReader(silent, Limits(idle_timeout_s=0.05)).next()

    asyncio.run(run())
