"""LSP framing over stdio and TCP that survives malformed input (pygls's reader wedges on it).

`MessageReader` turns a byte stream into decoded JSON values. Header names are matched without
regard to case and lines may end in LF alone (both are common client bugs, harmless to accept);
a header other than Content-Length and Content-Type is a framing error.
What cannot be read is reported as a `FramingError`, answered -32700 with a null id, and then
either skipped (policy `resync`, the default: discard bytes up to the next `Content-Length:`
header line, which cannot occur inside a JSON body because JSON strings hold no raw newlines)
or ends the session (policy `exit`: the process exits 2 on stdio so the editor restarts it; on
TCP the connection is closed). Recoveries that lose nothing:

- a length too long: the body's first JSON value is used and the extra bytes (the start of the
  next message) are read again as headers;
- a length too short: the cut body and the bytes skipped up to the next header are parsed
  together; when they make a JSON value it is handled as if framed correctly.

A Content-Length above `max_message_bytes` (64 MB) is refused before any body byte is read.
On TCP, each message must arrive within `message_timeout_s` of its first byte (slow-loris) and
a connection with no message for `idle_timeout_s` is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

log = logging.getLogger("devassist.transport")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024  # all header lines of one message together
CHUNK = 64 * 1024
_LENGTH_LINE = re.compile(rb"content-length[ \t]*:[ \t]*([0-9]+)[ \t]*\r?\n", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"([A-Za-z0-9-]+)[ \t]*:(.*)")
_JSON = json.JSONDecoder()


class FramingError(Exception):
    """The stream could not be split into messages here; the text says why, in one line."""


class StreamClosed(Exception):
    """The peer closed the stream (or it timed out); `reason` says which."""

    def __init__(self, reason: str = "end of stream"):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Limits:
    """Bounds on one session's input."""

    max_message_bytes: int = MAX_MESSAGE_BYTES
    """Largest Content-Length accepted; larger ones are refused before reading the body."""
    message_timeout_s: float | None = None
    """A message must be complete this long after its first byte (None: no limit, stdio)."""
    idle_timeout_s: float | None = None
    """Close the session when no byte arrives for this long between messages (None: never)."""


ReadChunk = Callable[[float | None], Awaitable[bytes]]
"""Reads up to CHUNK bytes, waiting at most the given seconds; b'' at end of stream."""


class MessageReader:
    """Splits a byte stream into JSON values, recovering from framing errors (module docstring)."""

    def __init__(self, read_chunk: ReadChunk, limits: Limits | None = None):
        self._read_chunk = read_chunk
        self.limits = limits or Limits()
        self._buffer = bytearray()
        self._deadline: float | None = None
        self._resyncing = False
        self._cut_body: bytes | None = None  # a body that failed to parse, kept for recovery

    async def _fill(self) -> None:
        """Append one chunk to the buffer, honouring the message deadline or the idle timeout."""
        if self._deadline is not None:
            timeout = None if self._deadline == float("inf") else max(0.0, self._deadline - time.monotonic())
            reason = "message not completed within the time limit (slow client)"
        else:
            timeout, reason = self.limits.idle_timeout_s, "idle connection"
        try:
            data = await self._read_chunk(timeout)
        except asyncio.TimeoutError:
            raise StreamClosed(reason) from None
        if not data:
            raise StreamClosed()
        if self._deadline is None:  # the first byte of a message starts its clock
            limit = self.limits.message_timeout_s
            self._deadline = float("inf") if limit is None else time.monotonic() + limit
        self._buffer += data

    async def next(self) -> Any:
        """The next JSON value; raises FramingError (then call again) or StreamClosed."""
        if self._resyncing:
            recovered = await self._resync()
            if recovered is not None:
                return recovered[0]
        if not self._buffer:
            self._deadline = None  # between messages: the idle timeout applies
        length = await self._read_headers()
        while len(self._buffer) < length:
            await self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._deadline = None
        return self._decode(body)

    async def _read_headers(self) -> int:
        """Read header lines up to the blank line; returns the Content-Length."""
        length: int | None = None
        lines = 0
        while True:
            end = self._buffer.find(b"\n")
            while end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise self._framing_error("a header line longer than 8 KB")
                await self._fill()
                end = self._buffer.find(b"\n")
            text = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if not text:
                if length is not None:
                    return length
                if lines:
                    raise self._framing_error("headers without Content-Length")
                continue  # a stray blank line between messages: harmless
            lines += 1
            if lines > 32:
                raise self._framing_error("more than 32 header lines")
            match = _HEADER_LINE.fullmatch(text)
            # LSP has two headers; any other name is more likely garbage glued to a header.
            if match is None or match.group(1).lower() not in (b"content-length", b"content-type"):
                # A header may follow garbage on the same line: search again from its second byte.
                self._buffer[:0] = text[1:] + b"\n"
                raise self._framing_error(f"not a header line: {text[:60]!r}")
            if match.group(1).lower() == b"content-length":
                value = match.group(2).strip()
                if not value.isdigit():
                    raise self._framing_error(f"Content-Length is not a number: {value[:30]!r}")
                # Checked on the digits' count first: int() of a huge number is itself slow.
                if len(value) > 12 or int(value) > self.limits.max_message_bytes:
                    raise self._framing_error(
                        f"Content-Length {value[:30].decode()} exceeds the limit of "
                        f"{self.limits.max_message_bytes} bytes")
                length = int(value)

    def _framing_error(self, why: str) -> FramingError:
        """Switch to resynchronising and describe the problem."""
        self._resyncing = True
        return FramingError(why)

    def _skip_to_header(self) -> bytes:
        """Drop buffered bytes up to the next Content-Length line; returns what was dropped."""
        match = _LENGTH_LINE.search(self._buffer)
        # Without a match keep a tail that may be the start of a header cut between two chunks.
        cut = match.start() if match is not None else max(0, len(self._buffer) - 64)
        dropped = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return dropped

    async def _resync(self) -> tuple[Any] | None:
        """Skip to the next header; a kept cut body plus the skipped bytes may form the lost message."""
        skipped = bytearray()
        while True:
            skipped += self._skip_to_header()
            if _LENGTH_LINE.match(self._buffer):
                break
            if len(skipped) > self.limits.max_message_bytes:
                self._cut_body = None  # too far for a short Content-Length: only resynchronise
                skipped.clear()
            await self._fill()
        self._resyncing = False
        cut, self._cut_body = self._cut_body, None
        if cut is None or not skipped.strip():
            return None
        try:
            value = json.loads((cut + bytes(skipped)).decode("utf-8"))
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None
        log.warning("Content-Length was %d bytes too short; the message was recovered", len(skipped))
        return (value,)

    def _decode(self, body: bytes) -> Any:
        """Parse a body; a too-long length gives back its extra bytes; a bad body is kept."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._framing_error(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            first = exc.msg
        except (RecursionError, ValueError) as exc:  # nesting too deep, an integer of 5,000 digits
            raise self._framing_error(f"JSON body refused ({type(exc).__name__}: {str(exc)[:80]})") from None
        stripped = text.lstrip()
        try:
            value, end = _JSON.raw_decode(stripped)
        except (json.JSONDecodeError, RecursionError, ValueError):
            self._cut_body = body  # maybe the Content-Length was too short: see _resync
            raise self._framing_error(f"invalid JSON body ({first})") from None
        extra = stripped[end:].encode("utf-8")
        log.warning("%d bytes after a JSON body (Content-Length too long?); read again as headers", len(extra))
        self._buffer[:0] = extra
        return value


# ---- byte sources ---------------------------------------------------------------------------


def stdin_source(fd: int) -> ReadChunk:
    """Blocking reads of a file descriptor on a helper thread (works for pipes, files and ttys)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-stdin")

    async def read(timeout: float | None) -> bytes:
        return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(pool, os.read, fd, CHUNK), timeout)

    return read


def stream_source(reader: asyncio.StreamReader) -> ReadChunk:
    """Reads of an asyncio stream (a TCP connection)."""

    async def read(timeout: float | None) -> bytes:
        return await asyncio.wait_for(reader.read(CHUNK), timeout)

    return read


class BoundedStreamWriter:
    """pygls writer for a TCP connection that closes it when the client stops reading."""

    def __init__(self, writer: asyncio.StreamWriter, max_buffered: int = 32 * 1024 * 1024):
        self._writer = writer
        self._max_buffered = max_buffered

    def write(self, data: bytes) -> None:
        """Queue data; a client that lets more than `max_buffered` bytes pile up is dropped."""
        if self._writer.is_closing():
            return
        self._writer.write(data)
        if self._writer.transport.get_write_buffer_size() > self._max_buffered:
            log.warning("client does not read its answers (%d bytes queued); closing the connection",
                        self._writer.transport.get_write_buffer_size())
            self._writer.transport.abort()

    def close(self) -> None:
        """Close the connection."""
        if not self._writer.is_closing():
            self._writer.close()


# ---- the session loop -----------------------------------------------------------------------


async def run_session(protocol, read_chunk: ReadChunk, limits: Limits, on_framing_error: str = "resync") -> int:
    """Feed messages to `protocol` until `exit`, end of stream or a fatal framing error.

    Returns the session's exit code: the `exit` notification's (0 or 1), 1 when the stream ends
    without `exit`, 2 after a framing error under policy `exit`.
    """
    reader = MessageReader(read_chunk, limits)
    stopped = asyncio.get_running_loop().create_future()
    protocol.on_exit = lambda code: stopped.done() or stopped.set_result(code)
    reader_failures = 0
    while not stopped.done():
        next_message = asyncio.ensure_future(reader.next())
        await asyncio.wait([next_message, stopped], return_when=asyncio.FIRST_COMPLETED)
        if stopped.done():
            next_message.cancel()
            break
        try:
            data = next_message.result()
        except FramingError as exc:
            protocol.reply_error(None, -32700, f"framing error: {exc}")
            if on_framing_error == "exit":
                log.warning("framing error with --on-framing-error exit: ending the session")
                return 2
            continue
        except StreamClosed as closed:
            if closed.reason != "end of stream":
                log.warning("closing the session: %s", closed.reason)
            return 0 if protocol.shutdown_received else 1
        except Exception:  # a bug in the reader: report it, skip ahead, and give up if it repeats
            log.exception("failed to read a message")
            protocol.reply_error(None, -32700, "internal error while reading a message")
            reader_failures += 1
            if reader_failures >= 3:
                return 2
            reader._resyncing = True
            continue
        try:
            protocol.handle_json(data)
        except Exception:  # a bug in dispatch must not end the session; the request is logged
            log.exception("failed to dispatch a message")
        await asyncio.sleep(0)  # let handlers started by this message run before reading on
    return stopped.result()
