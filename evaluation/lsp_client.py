"""A small JSON-RPC client that drives `devassist serve` over stdio the way an editor does.

Benchmarks need what pytest-lsp hides: sending a request and cancelling it a keystroke later
with `$/cancelRequest`, answering the server's own requests (`workspace/configuration`,
`workspace/diagnostic/refresh`, progress creation), and timing each answer as it arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

# What VS Code 1.9x declares for the features devassist serves: pulled diagnostics with refresh,
# inline completion, the completion list with snippets, progress.
VSCODE_CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "textDocument": {
        "synchronization": {"dynamicRegistration": True, "didSave": True},
        "completion": {"completionItem": {"snippetSupport": True, "insertReplaceSupport": True},
                       "contextSupport": True},
        "inlineCompletion": {"dynamicRegistration": True},
        "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": False},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "refactor"]}}},
    },
    "workspace": {"configuration": True, "diagnostics": {"refreshSupport": True},
                  "workspaceFolders": True, "applyEdit": True},
    "window": {"workDoneProgress": True},
}


class LspError(Exception):
    """An error response from the server."""

    def __init__(self, error: dict):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class LspClient:
    """One server process over stdio: requests with futures, cancellation, server requests answered."""

    def __init__(self, command: list[str], settings: dict | None = None, env: dict | None = None):
        self.command = command
        self.settings = settings or {}
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self.notifications: list[tuple[float, str, Any]] = []
        self.on_refresh: Callable[[], None] | None = None  # called on workspace/diagnostic/refresh
        self.stderr_tail: list[str] = []

    async def start(self, root: Path | None = None, capabilities: dict | None = None) -> dict:
        """Start the process and run initialize/initialized; returns the server's capabilities."""
        env = dict(os.environ, **(self.env or {}))
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, limit=2**26)
        self._reader = asyncio.create_task(self._read_loop())
        self._stderr = asyncio.create_task(self._drain_stderr())
        params = {"processId": os.getpid(), "capabilities": capabilities or VSCODE_CAPABILITIES,
                  "initializationOptions": self.settings,
                  "rootUri": root.resolve().as_uri() if root else None,
                  "workspaceFolders": [{"uri": root.resolve().as_uri(), "name": root.name}] if root else None}
        result = await self.request("initialize", params)
        self.notify("initialized", {})
        return result.get("capabilities", {})

    async def stop(self) -> None:
        """shutdown + exit, then wait for the process (killed if it lingers)."""
        if self.proc is None:
            return
        try:
            await asyncio.wait_for(self.request("shutdown", None), 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.proc.wait(), 10)
        except (asyncio.TimeoutError, LspError, ConnectionError):
            self.proc.kill()
            await self.proc.wait()
        for task in (self._reader, self._stderr):
            if task is not None:
                task.cancel()

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any) -> None:
        """Send a notification."""
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def send_request(self, method: str, params: Any) -> tuple[int, asyncio.Future]:
        """Send a request; returns its id and the future of its result."""
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id, future

    async def request(self, method: str, params: Any) -> Any:
        """Send a request and wait for its result."""
        return await self.send_request(method, params)[1]

    def cancel(self, msg_id: int) -> None:
        """`$/cancelRequest` for a request still in flight."""
        if msg_id in self._pending:
            self.notify("$/cancelRequest", {"id": msg_id})

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr_tail = (self.stderr_tail + [line.decode("utf-8", "replace").rstrip()])[-50:]

    async def _read_loop(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = await out.readline()
                    if not line:
                        raise ConnectionError("server closed its output")
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = json.loads(await out.readexactly(length or 0))
                self._dispatch(body)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(str(exc)))

    def _dispatch(self, msg: dict) -> None:
        if "method" not in msg:  # a response
            future = self._pending.pop(msg.get("id"), None)
            if future is not None and not future.done():
                if "error" in msg:
                    future.set_exception(LspError(msg["error"]))
                else:
                    future.set_result(msg.get("result"))
            return
        method, params = msg["method"], msg.get("params")
        if "id" not in msg:
            self.notifications.append((time.monotonic(), method, params))
            return
        result: Any = None
        if method == "workspace/configuration":
            result = [self.settings for _ in (params or {}).get("items", [])]
        elif method == "workspace/diagnostic/refresh" and self.on_refresh is not None:
            self.on_refresh()
        elif method == "workspace/applyEdit":
            result = {"applied": False, "failureReason": "benchmark client"}
        self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


def server_command(bundle: Path | None, python: str | None = None) -> list[str]:
    """`python -m devassist.server serve [--bundle B]` with this interpreter (or `python`)."""
    cmd = [python or sys.executable, "-m", "devassist.server", "serve"]
    return cmd + (["--bundle", str(bundle)] if bundle else [])
