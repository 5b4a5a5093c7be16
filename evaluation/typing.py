"""`devassist evaluate typing`: what a person sees while typing, through the real server.

The server runs over stdio with VS Code's capabilities (inline completion, pulled diagnostics
with refresh) and its default settings. At seeded spots of several kinds (see
`typing_spots.py`) the benchmark types like an editor: each keystroke, ~70 ms apart, sends
didChange, a diagnostic pull and an inline completion request, and cancels the previous
keystroke's requests. The last inline answer is what the user sees; a completion-list request
follows it. The same spots run with review on (the default) and off, in one run.

Per kind and overall: *useful* (the shown text is a correct prefix of the real rest of the line,
at least 4 characters, or the exact rest), *exact*, *empty*, the list's top-1/top-5 holding the
right next identifier, and latency p50/p95 of the last inline request. A last phase opens 20
files of 2,000 lines (each pulled, as VS Code does on open) and times the next completions
against the idle latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from devassist.evaluation.lsp_client import LspClient, LspError, server_command
from devassist.evaluation.typing_spots import KINDS, Spot, collect_files, sample_spots

EPILOG = """examples:
  devassist evaluate typing --source runs/heldout-clean --json
  devassist evaluate typing --source ~/src/myproject --spots 20 --no-open-files
  devassist evaluate typing --source DIR --bundle runs/my-bundle --out typing.json
  devassist evaluate typing --source DIR --server-python ../old/.venv/bin/python   # the previous release
"""

KEYSTROKE_S = 0.07  # a fast typist: ~14 characters a second
SETTLE_S = 0.3  # between spots: the cursor moves, the person pauses


def pct(values: list[float]) -> dict:
    """p50/p95/max of latencies in ms."""
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(values), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1)}


def shown_text(result, spot: Spot) -> str:
    """The ghost text an editor shows from an inline completion answer (after the cursor)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    if not items:
        return ""
    item = items[0]
    text = item.get("insertText", "")
    if isinstance(text, dict):  # a snippet string
        text = text.get("value", "")
    rng = item.get("range")
    if rng and rng["start"]["character"] < spot.cursor_col and rng["start"]["line"] == spot.line:
        typed = spot.typed_word[-(spot.cursor_col - rng["start"]["character"]):]
        text = text[len(typed):] if text.startswith(typed) else ""
    return text


def judge(shown: str, rest: str) -> dict:
    """useful / exact / empty for one shown suggestion against the real rest of the line."""
    first = shown.split("\n", 1)[0].rstrip()
    rest = rest.rstrip()
    exact = bool(first) and first == rest
    useful = exact or (len(first.strip()) >= 4 and rest.startswith(first))
    return {"useful": useful, "exact": exact, "empty": not first.strip()}


def list_hits(result, spot: Spot) -> tuple[bool, bool] | None:
    """(top-1, top-5) of the completion list holding the next identifier; None without a target."""
    target = spot.next_identifier
    if not target:
        return None
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    word = spot.typed_word
    ranked = sorted(items, key=lambda it: it.get("sortText") or it.get("label", ""))
    texts = []
    for it in ranked:
        edit = it.get("textEdit")
        text = edit.get("newText") if edit else it.get("insertText") or it.get("label", "")
        if edit is None and word and not text.startswith(word):
            text = word + text
        if (it.get("filterText") or text).startswith(word):  # the client's filter on the typed word
            texts.append(text.lstrip())

    def hit(t: str) -> bool:
        return t.startswith(target) and not (len(t) > len(target) and (t[len(target)].isalnum() or t[len(target)] == "_"))

    return (bool(texts) and hit(texts[0]), any(hit(t) for t in texts[:5]))


class Editor:
    """The documents of one server session, changed as keystrokes do."""

    def __init__(self, client: LspClient):
        self.client = client
        self.versions: dict[str, int] = {}
        self.pulls: dict[str, int] = {}  # uri -> id of the diagnostic pull in flight

    def open(self, uri: str, text: str) -> None:
        """didOpen, then the pull an editor sends for a newly shown document."""
        self.versions[uri] = 1
        self.client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                                     "version": 1, "text": text}})
        self.pull(uri)

    def replace(self, uri: str, text: str) -> None:
        """A full-text change (moving to a new spot)."""
        self.versions[uri] += 1
        self.client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": self.versions[uri]},
                                                      "contentChanges": [{"text": text}]})

    def insert(self, uri: str, line: int, col: int, text: str) -> None:
        """An incremental change: `text` typed at (line, col)."""
        self.versions[uri] += 1
        pos = {"line": line, "character": col}
        self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": self.versions[uri]},
            "contentChanges": [{"range": {"start": pos, "end": pos}, "text": text}]})

    def pull(self, uri: str) -> None:
        """textDocument/diagnostic, cancelling this document's previous pull."""
        old = self.pulls.pop(uri, None)
        if old is not None:
            self.client.cancel(old)
        msg_id, future = self.client.send_request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        future.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        self.pulls[uri] = msg_id


async def type_spot(editor: Editor, uri: str, spot: Spot, with_list: bool = True) -> dict:
    """Type one spot's keystrokes as an editor would; what the user sees after the last one
    (then, `with_list`, the completion list at the same place)."""
    client = editor.client
    editor.replace(uri, spot.before)
    editor.pull(uri)
    await asyncio.sleep(SETTLE_S)
    col = spot.col_before
    pending: tuple[int, asyncio.Future] | None = None
    sent = 0.0
    for i, key in enumerate(spot.keystrokes):
        if pending is not None:
            client.cancel(pending[0])
        if key:
            editor.insert(uri, spot.line, col, key)
            col += len(key)
        editor.pull(uri)
        sent = time.monotonic()
        pending = client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": spot.line, "character": col},
            "context": {"triggerKind": 2}})
        pending[1].add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        if i + 1 < len(spot.keystrokes):
            await asyncio.sleep(KEYSTROKE_S)
    assert pending is not None
    try:
        result = await asyncio.wait_for(pending[1], 30)
    except (LspError, asyncio.TimeoutError):
        result = None
    latency = (time.monotonic() - sent) * 1000
    shown = shown_text(result, spot) if result else ""
    started = time.monotonic()
    try:
        listed = await asyncio.wait_for(client.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": spot.line, "character": col},
            "context": {"triggerKind": 1}}), 30) if with_list else None
    except (LspError, asyncio.TimeoutError):
        listed = None
    list_ms = (time.monotonic() - started) * 1000
    return {"kind": spot.kind, "shown": shown, "rest": spot.rest, "latency_ms": latency, "list_ms": list_ms,
            "list": list_hits(listed, spot), **judge(shown, spot.rest)}


def summarize(rows: list[dict]) -> dict:
    """Shares and latency percentiles of a set of typed spots."""
    if not rows:
        return {"n": 0}
    listed = [r["list"] for r in rows if r["list"] is not None]
    share = lambda key: round(100.0 * sum(r[key] for r in rows) / len(rows), 1)  # noqa: E731
    return {"n": len(rows), "useful_pct": share("useful"), "exact_pct": share("exact"), "empty_pct": share("empty"),
            "list_top1_pct": round(100.0 * sum(a for a, _ in listed) / len(listed), 1) if listed else None,
            "list_top5_pct": round(100.0 * sum(b for _, b in listed) / len(listed), 1) if listed else None,
            "latency": pct([r["latency_ms"] for r in rows]), "list_latency": pct([r["list_ms"] for r in rows])}


def big_files(files: list[tuple[str, str]], count: int, lines: int) -> list[str]:
    """`count` documents of `lines` lines each, made by concatenating the source files."""
    pool = [line for _, text in files for line in text.split("\n")]
    if not pool:
        return []
    docs = []
    for i in range(count):
        start = (i * lines) % max(1, len(pool) - lines) if len(pool) > lines else 0
        chunk = pool[start:start + lines]
        while len(chunk) < lines:
            chunk += pool[: lines - len(chunk)]
        docs.append("\n".join(chunk) + "\n")
    return docs


async def open_files_phase(editor: Editor, root: Path, files, spots: list[Spot], count: int) -> dict:
    """Idle completion latency, then the next completions right after opening `count` big files."""
    idle = []
    for spot in spots[:5]:
        idle.append((await type_spot(editor, (root / f"idle_{len(idle)}.py").as_uri(), spot))["latency_ms"])
    loaded = []
    for i, text in enumerate(big_files(files, count, 2000)):
        editor.open((root / f"big_{i}.py").as_uri(), text)
    for spot in spots[5:8]:
        loaded.append((await type_spot(editor, (root / f"after_{len(loaded)}.py").as_uri(), spot))["latency_ms"])
    med = float(np.median(idle)) if idle else 0.0
    return {"files": count, "lines": 2000, "idle_ms": pct(idle), "after_open_ms": [round(x, 1) for x in loaded],
            "worst_ratio": round(max(loaded) / med, 2) if loaded and med else None}


async def run_session(bundle: Path | None, spots: list[Spot], review: bool, root: Path, files,
                      open_files: int, python: str | None = None) -> dict:
    """All spots in one server session with review on or off."""
    settings = {} if review else {"review": {"enabled": False}}
    client = LspClient(server_command(bundle, python), settings=settings)
    await client.start(root)
    editor = Editor(client)
    client.on_refresh = lambda: [editor.pull(u) for u in list(editor.pulls)]
    rows = []
    try:
        for i, spot in enumerate(spots):
            uri = (root / f"spot_{i % 8}.py").as_uri()  # a few open files, reused, as tabs
            if uri not in editor.versions:
                editor.open(uri, spot.before)
            rows.append(await type_spot(editor, uri, spot))
        extra = {}
        if open_files:
            for name in [f"idle_{i}.py" for i in range(5)] + [f"after_{i}.py" for i in range(3)]:
                editor.open((root / name).as_uri(), "")
            extra = await open_files_phase(editor, root, files, spots, open_files)
    finally:
        await client.stop()
    by_kind = {k: summarize([r for r in rows if r["kind"] == k]) for k in KINDS if any(r["kind"] == k for r in rows)}
    return {"overall": summarize(rows), "by_kind": by_kind, "open_files": extra, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist evaluate typing", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="folder (or file) of Python code to type into")
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: the server's default bundle)")
    parser.add_argument("--spots", type=int, default=40, help="spots per kind (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--open-files", type=int, default=20, help="big files opened in the last phase (0: skip)")
    parser.add_argument("--no-review-off", action="store_true", help="skip the review-off session")
    parser.add_argument("--server-python", help="run the server with this Python (another install, e.g. the "
                                                "previous release, for a side-by-side run)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report (with every spot) here")
    args = parser.parse_args(argv)
    if args.spots < 1:
        parser.error("--spots must be at least 1")
    files = collect_files(args.source)
    if not files:
        parser.error(f"no readable Python files under {args.source}")
    spots = sample_spots(files, args.spots, args.seed)
    load_before = os.getloadavg()

    async def both() -> dict:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="devassist-typing-") as tmp:
            root = Path(tmp)
            on = await run_session(args.bundle, spots, True, root, files, args.open_files, args.server_python)
            off = None if args.no_review_off else await run_session(args.bundle, spots, False, root, files, 0,
                                                                    args.server_python)
        return {"review_on": on, "review_off": off}

    started = time.monotonic()
    sessions = asyncio.run(both())
    report = {
        "source": str(args.source), "files": len(files), "spots_per_kind": args.spots, "seed": args.seed,
        "bundle": str(args.bundle or "default"), "server_python": args.server_python or sys.executable, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                            "load_before": [round(x, 2) for x in load_before],
                                                            "load_after": [round(x, 2) for x in os.getloadavg()]},
        "wall_s": round(time.monotonic() - started, 1),
    }
    for name, sess in sessions.items():
        if sess is not None:
            report[name] = {k: v for k, v in sess.items() if k != "rows"}
    on, off = sessions["review_on"], sessions["review_off"]
    if off is not None:
        p_on, p_off = on["overall"]["latency"].get("p95_ms"), off["overall"]["latency"].get("p95_ms")
        report["review_on_p95_over_off"] = round(p_on / p_off, 2) if p_on and p_off else None
    if args.out:
        full = dict(report, spots={k: v["rows"] for k, v in sessions.items() if v is not None})
        args.out.write_text(json.dumps(full, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)
    return 0


def print_table(report: dict) -> None:
    """A readable table: one row per kind, review on and off."""
    print(f"typing benchmark: {report['files']} files, {report['spots_per_kind']} spots per kind, "
          f"load {report['machine']['load_before']} -> {report['machine']['load_after']}")
    for name in ("review_on", "review_off"):
        sess = report.get(name)
        if not sess:
            continue
        print(f"\n{name}: kind        useful  exact  empty  list@1 list@5   p50 ms   p95 ms")
        for kind, s in list(sess["by_kind"].items()) + [("overall", sess["overall"])]:
            lat = s["latency"]
            print(f"  {kind:<20} {s['useful_pct']:6.1f} {s['exact_pct']:6.1f} {s['empty_pct']:6.1f} "
                  f"{s['list_top1_pct'] if s['list_top1_pct'] is not None else '-':>7} "
                  f"{s['list_top5_pct'] if s['list_top5_pct'] is not None else '-':>6} {lat['p50_ms']:8.1f} {lat['p95_ms']:8.1f}")
        if sess.get("open_files"):
            print(f"  after opening {sess['open_files']['files']} files of 2,000 lines: {sess['open_files']}")
    if report.get("review_on_p95_over_off") is not None:
        print(f"\nreview-on p95 / review-off p95: {report['review_on_p95_over_off']}")
