"""`devassist demo`: start the real server, type into a file as a person would, print what it shows.

The demo opens a sample Python file (or yours). At each marked spot the rest of that line is not
written yet; the demo types the first characters of the real line one keystroke at a time (each
keystroke sends didChange and an inline completion request, as an editor does), then prints the
ghost text after the typed characters, the real line, whether the suggestion was useful (a
correct start of the real rest, at least 4 characters, or all of it), and the completion list.
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

SAMPLE = f'''import json
import os


def load_settings(path):
    \"\"\"Read the settings file, or return an empty dict when it is missing.\"\"\"
    if not os.path.exists(path):
        return {{}}
    with open(path, encoding="utf-8") as fh:
        {CURSOR}return json.load(fh)


class Inventory:
    \"\"\"Items and their counts.\"\"\"

    def __init__(self):
        self.items = {{}}

    def add(self, name, count=1):
        {CURSOR}self.items[name] = self.items.get(name, 0) + count

    def remove(self, name):
        if name in self.items:
            {CURSOR}del self.items[name]

    def total(self):
        return sum(self.items.{CURSOR}values())
'''

TYPED = 2  # characters of the real line the demo types at each spot

EPILOG = """examples:
  devassist demo                           # the sample file, the shipped bundle
  devassist demo my_module.py              # spots: put the character \u2588 where typing starts
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
    """Without marks: the starts of a few statements spread through the file."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    picks = candidates[:: max(1, len(candidates) // count)][:count]
    offsets, pos = [], 0
    for i, line in enumerate(lines):
        if i in picks:
            offsets.append(pos + len(line) - len(line.lstrip()))
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
    latencies, useful = [], 0
    for n, offset in enumerate(offsets, 1):
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        line_end = len(text) if line_end < 0 else line_end
        real = text[offset:line_end]
        typed = real[:TYPED] if real[:TYPED].strip() else ""
        before = text[:offset] + text[line_end:]  # the rest of the line is not written yet
        version = n * 100
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=before)]))
        cursor, inline_ms, items = offset, 0.0, []
        for key in typed or [""]:
            if key:
                version += 1
                pos = position_of(before, cursor)
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangePartial(
                        range=types.Range(start=pos, end=pos), text=key)]))
                before = before[:cursor] + key + before[cursor:]
                cursor += 1
            t = time.perf_counter()
            inline = await client.text_document_inline_completion_async(types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(before, cursor),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
            inline_ms = (time.perf_counter() - t) * 1000
            items = inline.items if inline is not None and not isinstance(inline, list) else (inline or [])
        t = time.perf_counter()
        listed = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(before, cursor)))
        list_ms = (time.perf_counter() - t) * 1000
        latencies.append(inline_ms)
        ghost = items[0].insert_text if items else ""
        ghost = ghost if isinstance(ghost, str) else ghost.value
        rest = real[len(typed):].rstrip()
        first = ghost.split("\n", 1)[0].rstrip()
        ok = bool(first) and (first == rest or (len(first.strip()) >= 4 and rest.startswith(first)))
        useful += ok
        pos = position_of(before, cursor)
        print(f"\n{bold}[{n}] line {pos.line + 1}: typed {typed!r}{reset}" if typed else
              f"\n{bold}[{n}] line {pos.line + 1}: nothing typed yet{reset}")
        for line in text[:line_start].split("\n")[-3:-1]:
            print(f"  {dim}{line}{reset}")
        shown = ghost.replace("\n", "\n  ") if ghost else f"{dim}(no suggestion){reset}"
        print(f"  {text[line_start:offset]}{typed}{dim if not color else chr(27) + '[36m'}{shown}{reset}")
        print(f"  {dim}real line: {text[line_start:line_end].strip()}  ->  {'useful' if ok else 'not useful'}{reset}")
        labels = [i.label for i in (listed.items if listed else [])]
        print(f"  {dim}inline {inline_ms:.0f} ms; completion list {list_ms:.0f} ms: {labels[:5]}{reset}")
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
        print(f"useful suggestions: {useful} of {len(latencies)}")
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
