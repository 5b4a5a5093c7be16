"""A raw LSP peer for robustness checks: writes any bytes, reads framed answers on a thread.

pytest-lsp's client cannot send mis-framed or schema-breaking messages; this one can. The
server under test runs as a subprocess on stdio (optionally under strace) or on TCP.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable


def frame(body: bytes) -> bytes:
    """A correctly framed LSP message."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: dict) -> bytes:
    """A message as a framed body."""
    return frame(json.dumps(message).encode())


class WirePeer:
    """Sends raw bytes to a server and collects every framed message it sends back."""

    def __init__(self, write: Callable[[bytes], None], read: Callable[[], bytes]):
        self._write = write
        self._read = read
        self.answers: dict[Any, list[dict]] = defaultdict(list)
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []
        self.closed = threading.Event()
        self._changed = threading.Condition()
        self._next_id = 0
        threading.Thread(target=self._pump, daemon=True, name="wire-reader").start()

    def _pump(self) -> None:
        """Parse the server's output into answers / notifications until it closes."""
        buffer = b""
        try:
            while True:
                chunk = self._read()
                if not chunk:
                    break
                buffer += chunk
                while True:
                    head, sep, rest = buffer.partition(b"\r\n\r\n")
                    if not sep:
                        break
                    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length"))
                    if len(rest) < length:
                        break
                    self._store(json.loads(rest[:length]))
                    buffer = rest[length:]
        except OSError:
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    def _store(self, message: dict) -> None:
        """File one message from the server and wake waiters."""
        with self._changed:
            if "method" in message and "id" in message:
                self.server_requests.append(message)
                # Answer server->client requests (workspace/configuration, progress) so none hangs.
                self.send({"jsonrpc": "2.0", "id": message["id"],
                           "result": [None] if message["method"] == "workspace/configuration" else None})
            elif "method" in message:
                self.notifications.append(message)
            else:
                self.answers[message.get("id")].append(message)
            self._changed.notify_all()

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        try:
            self._write(data)
        except OSError:
            self.closed.set()

    def send(self, message: dict) -> None:
        """Write one correctly framed message."""
        self.send_raw(encode(message))

    def new_id(self) -> int:
        """A fresh request id."""
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: Any = None) -> int:
        """Send a request; returns its id."""
        msg_id = self.new_id()
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification."""
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_for(self, msg_id: Any, timeout: float = 30.0) -> dict | None:
        """The first answer to `msg_id`, or None after `timeout` seconds or when the server closed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.answers.get(msg_id):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    return None
                self._changed.wait(left)
            return self.answers[msg_id][0]

    def wait_for_notification(self, method: str, timeout: float = 30.0) -> dict | None:
        """The first notification `method` that arrives (or already arrived), or None."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [n for n in self.notifications if n.get("method") == method]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    return None
                self._changed.wait(left)

    def initialize(self, root: Path | None = None, options: dict | None = None, timeout: float = 60.0) -> dict | None:
        """initialize + initialized; returns the initialize answer."""
        msg_id = self.request("initialize", {
            "processId": None, "rootUri": root.as_uri() if root else None, "capabilities": {
                "textDocument": {"diagnostic": {}, "inlineCompletion": {}},
                "window": {"workDoneProgress": True}},
            "initializationOptions": options,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}] if root else None})
        answer = self.wait_for(msg_id, timeout)
        self.notify("initialized", {})
        return answer


def serve_command(bundle: Path, *extra: str) -> list[str]:
    """The command line of `devassist serve` for `bundle`."""
    return [sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle), "--log-level", "WARNING", *extra]


def start_stdio(bundle: Path, *extra: str, wrapper: list[str] | None = None, cwd: Path | None = None,
                stderr_path: Path | None = None) -> tuple[subprocess.Popen, WirePeer]:
    """Start the server on stdio (inside `wrapper`, e.g. strace) and connect a peer to it."""
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    proc = subprocess.Popen([*(wrapper or []), *serve_command(bundle, *extra)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=err, cwd=cwd, bufsize=0)
    out_fd = proc.stdout.fileno()

    def write(data: bytes) -> None:
        proc.stdin.write(data)
        proc.stdin.flush()

    return proc, WirePeer(write, lambda: os.read(out_fd, 65536))


def start_tcp(bundle: Path, port: int, *extra: str) -> subprocess.Popen:
    """Start `serve --tcp PORT` and return once it listens (its stderr is drained on a thread)."""
    proc = subprocess.Popen(serve_command(bundle, "--tcp", str(port), *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    listening = threading.Event()
    proc.stderr_lines = []

    def drain() -> None:
        for line in proc.stderr:
            proc.stderr_lines.append(line.decode(errors="replace"))
            if b"listening on 127.0.0.1:" in line:
                listening.set()
        listening.set()  # exited: let the waiter see it

    threading.Thread(target=drain, daemon=True).start()
    listening.wait(120)
    if proc.poll() is not None:
        raise RuntimeError(f"the server exited with {proc.returncode}: {''.join(proc.stderr_lines)[-500:]}")
    return proc


def connect_tcp(port: int) -> tuple[socket.socket, WirePeer]:
    """Connect a peer to a listening `serve --tcp` server."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(None)
    return sock, WirePeer(sock.sendall, lambda: sock.recv(65536))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
