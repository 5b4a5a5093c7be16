"""A training subprocess that reports JSON lines, relayed as progress and killed on cancellation.

The server has no torch, so the features that train (`devassist synth`, `devassist learn`) run
their command with `--progress-json` and read its stdout: `{"event": "progress", "percent",
"message"}`, `{"event": "note", "message"}`, `{"event": "error", "code", "message"}` and one
`{"event": "done", ...}` at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence


class ProcessCancelled(Exception):
    """The client cancelled; the process was killed."""


@dataclass
class ProcessResult:
    """How a progress-reporting process ended."""

    code: int
    stderr: str
    errors: list[str] = field(default_factory=list)  # "code: message" of each error event
    done: dict = field(default_factory=dict)  # the fields of the `done` event ({} without one)

    def detail(self) -> str:
        """The most telling line: the last error event's message, else stderr's last line."""
        if self.errors:
            return self.errors[-1].split(":", 1)[1].strip()
        return (self.stderr.strip().splitlines() or ["no output"])[-1]

    def has_error(self, code: str) -> bool:
        """Whether an error event had this code."""
        return any(e.startswith(f"{code}:") for e in self.errors)


async def run_with_progress(args: Sequence[str], report: Callable[[int, str], None], is_cancelled: Callable[[], bool],
                            env: dict[str, str] | None = None, poll_s: float = 0.1) -> ProcessResult:
    """Run `args`, forward its progress to `report(percent, message)` (never going back), and
    kill it when `is_cancelled()` turns true (raising ProcessCancelled) or the task is cancelled."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    result = ProcessResult(code=-1, stderr="")
    reader = asyncio.ensure_future(_relay(process.stdout, report, result))
    stderr = asyncio.ensure_future(process.stderr.read())  # drained so the child never blocks on it
    try:
        while not reader.done():
            if is_cancelled():
                raise ProcessCancelled()
            await asyncio.wait({reader}, timeout=poll_s)
        reader.result()  # re-raise a reader failure here
        result.code = await process.wait()
        result.stderr = (await stderr).decode("utf-8", "replace")
    finally:
        if process.returncode is None:  # cancelled (by the client or the task): stop the training
            process.kill()
            await process.wait()
        for task in (reader, stderr):
            task.cancel()
    return result


async def _relay(stream: asyncio.StreamReader, report: Callable[[int, str], None], result: ProcessResult) -> None:
    """Read JSON events until stdout closes; forward progress and notes, keep errors and the result."""
    percent = 0
    async for line in stream:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a library printed something: not ours to interpret
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "progress":
            percent = max(percent, min(100, int(event.get("percent", 0))))  # $/progress must not go back
            report(percent, str(event.get("message", "")))
        elif kind == "note":  # e.g. "subsampled 1,000,000 rows to 50,000 for training"
            report(percent, str(event.get("message", "")))
        elif kind == "error":
            result.errors.append(f"{event.get('code', 'error')}: {event.get('message', '')}")
        elif kind == "done":
            result.done.update(event)
