"""`devassist demo`: start the real server, talk LSP to it as an editor would, print what it shows.

The demo opens a sample Python file (or yours), asks for inline and list completions at a few
cursor positions, and prints each suggestion as ghost text after the cursor, with its latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types

CURSOR = "\u2588"  # marks a cursor position in the sample

SAMPLE = f'''import os
import json


def read_json(path):
    """Load a JSON file and return its content."""
    with open(path, encoding="utf-8") as fh:
        return json.{CURSOR}


def list_python_files(root):
    """Every .py file under root."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.endswith(".py"):
                found.append(os.path.{CURSOR}
    return found


class Counter:
    """Count things by key."""

    def __init__(self):
        self.counts = {{}}

    def add(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def most_common(self, n):
        {CURSOR}


def main(argv=None):
    for {CURSOR}
'''

EPILOG = """examples:
  devassist demo                           # the sample file, the shipped bundle
  devassist demo my_module.py              # cursors: put the character \u2588 where you want completions
  devassist demo --bundle /tmp/tiny-bundle --no-color
"""


def split_cursors(text: str) -> tuple[str, list[int]]:
    """Remove cursor marks; return the clean text and the marks' offsets in it."""
    offsets, out, i = [], [], 0
    for part in text.split(CURSOR)[:-1]:
        out.append(part)
        i += len(part)
        offsets.append(i)
    out.append(text.split(CURSOR)[-1])
    return "".join(out), offsets


def default_cursors(text: str, count: int = 4) -> list[int]:
    """Without marks: the ends of a few lines spread through the file."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    picks = candidates[:: max(1, len(candidates) // count)][:count]
    offsets, pos = [], 0
    for i, line in enumerate(lines):
        if i in picks:
            offsets.append(pos + len(line))
        pos += len(line) + 1
    return offsets


def position_of(text: str, offset: int) -> types.Position:
    """LSP position (UTF-16 columns) of a str offset."""
    from devassist.server.parsing import PositionCodec

    return types.Position(*PositionCodec(text).position(offset))


async def run_demo(path_label: str, text: str, offsets: list[int], bundle: Path | None, color: bool) -> int:
    """Drive the server over stdio and print every suggestion."""
    from pygls.lsp.client import LanguageClient

    dim, bold, reset = ("\033[2m", "\033[1m", "\033[0m") if color else ("", "", "")
    client = LanguageClient("devassist-demo", "1")
    statuses: list[dict] = []
    messages: list[str] = []

    @client.feature("devassist/status")
    def on_status(params):
        # pygls hands unknown notifications' params over as a namedtuple-like object
        get = params.get if isinstance(params, dict) else (lambda k: getattr(params, k, None))
        statuses.append({"state": get("state"), "model": get("model")})

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_message(params):
        messages.append(params.message)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params):
        pass

    diagnostics: list = []

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params):
        diagnostics[:] = list(params.diagnostics)

    cmd = [sys.executable, "-m", "devassist.server", "serve"] + (["--bundle", str(bundle)] if bundle else [])
    t0 = time.perf_counter()
    await client.start_io(*cmd)
    uri = Path(path_label).resolve().as_uri()
    try:
        await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            process_id=None, root_uri=None,
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    completion=types.CompletionClientCapabilities(),
                    inline_completion=types.InlineCompletionClientCapabilities()),
            ))), timeout=60)
    except Exception as exc:  # the server died at start: show why
        stderr = b""
        if client._server is not None and client._server.stderr is not None:
            stderr = await client._server.stderr.read()
        print(f"devassist demo: the server did not start: {stderr.decode(errors='replace').strip() or exc}", file=sys.stderr)
        return 1
    client.initialized(types.InitializedParams())
    ready_ms = (time.perf_counter() - t0) * 1000
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    print(f"{bold}devassist demo{reset}: {path_label}, server initialized in {ready_ms:.0f} ms "
          f"({' '.join(cmd[1:])})")
    latencies = []
    for n, offset in enumerate(offsets, 1):
        pos = position_of(text, offset)
        t = time.perf_counter()
        inline = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        inline_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        listed = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
        list_ms = (time.perf_counter() - t) * 1000
        latencies.append(inline_ms)
        items = inline.items if inline is not None and not isinstance(inline, list) else (inline or [])
        ghost = items[0].insert_text if items else ""
        ghost = ghost if isinstance(ghost, str) else ghost.value
        line_start = text.rfind("\n", 0, offset) + 1
        context_lines = text[:line_start].split("\n")[-3:-1]
        print(f"\n{bold}[{n}] line {pos.line + 1}, column {pos.character + 1}{reset}")
        for line in context_lines:
            print(f"  {dim}{line}{reset}")
        shown = ghost.replace("\n", "\n  ") if ghost else f"{dim}(no suggestion){reset}"
        print(f"  {text[line_start:offset]}{dim if not color else chr(27) + '[36m'}{shown}{reset}")
        labels = [i.label for i in (listed.items if listed else [])]
        print(f"  {dim}inline {inline_ms:.0f} ms; completion list {list_ms:.0f} ms: {labels[:1] or '[]'}{reset}")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    if statuses:
        print(f"\nstatus: {statuses[-1].get('state')} — model {statuses[-1].get('model')}")
    for m in messages:
        print(f"server message: {m}")
    for d in diagnostics:
        print(f"review: line {d.range.start.line + 1}: {d.message}")
    if latencies:
        print(f"inline completion latency over {len(latencies)} requests: median {statistics.median(latencies):.0f} ms, "
              f"max {max(latencies):.0f} ms (end to end over LSP, including the first call)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist demo", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path, help=f"a Python file; mark cursors with {CURSOR}")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: models/default)")
    parser.add_argument("--no-color", action="store_true", help="plain text output")
    args = parser.parse_args(argv)
    if args.file:
        try:
            raw = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"devassist demo: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
        label = str(args.file)
    else:
        raw, label = SAMPLE, "sample.py"
    text, offsets = split_cursors(raw)
    offsets = offsets or default_cursors(text)
    color = not args.no_color and sys.stdout.isatty()
    return asyncio.run(run_demo(label, text, offsets, args.bundle, color))
