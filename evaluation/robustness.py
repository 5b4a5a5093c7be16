"""`devassist evaluate robustness`: seeded fuzzing, load, lifecycle, hostile commands, soak.

The real server runs as a subprocess (on stdio, under `strace` when it is installed, so every
network syscall is counted). Figures: crashes (the process died), wedges (a valid request not
answered after a phase), unanswered and twice-answered requests with an id, RSS growth during
the soak, network syscalls, files written outside the workspace.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from devassist.evaluation.lsp_wire import encode, frame, rss_mb, start_stdio

EPILOG = """examples:
  devassist evaluate robustness --json                       # 5,000+ messages, 60 s soak, models/default
  devassist evaluate robustness --messages 800 --soak-s 10   # the short version the tests run
  devassist evaluate robustness --soak-s 600 --json          # the 10-minute soak
"""

SAMPLE = ('def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\n'
          'def mean(values):\n    total = 0\n    for value in values:\n        total += value\n    return \n')
WRONG_VALUES = [None, "x", 1.5, -1, -(2**31), 2**40, [], {}, True, [1, "a"], {"line": "0"}]
CATEGORIES = ["bad_json", "bad_framing", "wrong_types", "unknown_methods", "positions", "huge_values"]
ANSWER_WAIT_S = 60.0


def _request(msg_id: Any, method: str, params: Any) -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def _valid_params(uri: str, rng: random.Random) -> tuple[str, dict]:
    """A request that fits its schema, on the open document."""
    pos = {"line": rng.randrange(0, 11), "character": rng.randrange(0, 12)}
    doc = {"uri": uri}
    return rng.choice([
        ("textDocument/completion", {"textDocument": doc, "position": pos}),
        ("textDocument/inlineCompletion", {"textDocument": doc, "position": pos,
                                           "context": {"triggerKind": 2}}),
        ("textDocument/codeAction", {"textDocument": doc, "range": {"start": pos, "end": pos},
                                     "context": {"diagnostics": []}}),
        ("textDocument/diagnostic", {"textDocument": doc}),
        ("textDocument/hover", {"textDocument": doc, "position": pos}),
    ])


def _mutate(value: Any, rng: random.Random) -> Any:
    """Replace one random leaf or subtree of `value` with a value of the wrong type."""
    if not isinstance(value, dict) or not value or rng.random() < 0.2:
        return rng.choice(WRONG_VALUES)
    key = rng.choice(list(value))
    return {**value, key: _mutate(value[key], rng)}


def fuzz_messages(rng: random.Random, count: int, uri: str) -> list[tuple[str, bytes, Any]]:
    """(category, bytes, id that must be answered or None) for `count` hostile messages."""
    out = []
    for n in range(count):
        category = CATEGORIES[n % len(CATEGORIES)]
        msg_id: Any = f"f{n}"
        method, params = _valid_params(uri, rng)
        body = json.dumps(_request(msg_id, method, params)).encode()
        tracked: Any = msg_id
        if category == "bad_json":
            tracked = None
            data = frame(rng.choice([
                body[: rng.randrange(1, len(body))], bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
                b"[" * 100_000, b'{"jsonrpc": "2.0", "id": 1' + b"0" * 5000 + b"}", b"\xff\xfe{}", b"nul", b"{}",
                b"[]", b"42", b'"text"', b'{"id": "no-method"}', b'{"jsonrpc": "1.0", "id": "old-version", "method": "x"}',
                json.dumps({"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}).encode(),
            ]).replace(b"Content-Length", b"C"))
        elif category == "bad_framing":
            kind = rng.randrange(8)
            k = rng.randrange(1, 8)
            if kind == 0:
                data = b"Content-Length: %d\n\n" % len(body) + body
            elif kind == 1:
                data = b"content-length: %d\r\n\r\n" % len(body) + body
            elif kind == 2:
                data = b"Content-Length: %d\r\n\r\n" % (len(body) + k) + body
            elif kind == 3:
                data = b"Content-Length: %d\r\n\r\n" % (len(body) - k) + body
            elif kind == 4:
                data, tracked = body + b"\r\n", None  # no header at all
            elif kind == 5:
                data, tracked = rng.choice([b"Content-Length: 100000000000\r\n\r\n",
                                            b"Content-Length: 100000000000000000000\r\n\r\n",
                                            b"Content-Length: -5\r\n\r\n", b"Content-Length: x\r\n\r\n"]), None
            elif kind == 6:
                data, tracked = b"garbage \x00\x01 header\r\n" + frame(body), msg_id
            else:
                data = b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" \
                       % len(body) + body
        elif category == "wrong_types":
            data = encode(_request(msg_id, method, _mutate(params, rng)))
        elif category == "unknown_methods":
            name = rng.choice(["", "x", "textDocument/nope", "$/weird", "devassist/" + "a" * 300, "initialize/x"])
            if rng.random() < 0.5:
                data = encode(_request(msg_id, name, rng.choice([None, {}, [], 3])))
            else:
                data, tracked = encode({"jsonrpc": "2.0", "method": name, "params": {}}), None
        elif category == "positions":
            pos = {"line": rng.choice([-1, 0, 10, 11, 500, 2**31 - 1, 2**31, 2**53]),
                   "character": rng.choice([-1, 0, 12, 99999, 2**31 - 1, 2**32])}
            data = encode(_request(msg_id, rng.choice(["textDocument/completion", "textDocument/hover"]),
                                   {"textDocument": {"uri": uri}, "position": pos}))
        else:  # huge_values
            choice = rng.randrange(4)
            if choice == 0:
                data = encode(_request(msg_id, "textDocument/completion",
                                       {"textDocument": {"uri": "file:///" + "a" * 100_000 + ".py"},
                                        "position": {"line": 0, "character": 0}}))
            elif choice == 1:
                data = encode(_request(2**62 + n, method, params))
                tracked = 2**62 + n
            elif choice == 2:
                data = encode(_request(msg_id, "workspace/executeCommand",
                                       {"command": "devassist.generateDocstring", "arguments": [uri] * 10_000}))
            else:
                data = encode(_request(msg_id, method, {**params, "extra": "x" * 1_000_000}))
        out.append((category, data, tracked))
    return out


class Run:
    """One server process, its peer, and the bookkeeping of what must be answered."""

    def __init__(self, bundle: Path, workdir: Path, strace: bool):
        self.workspace = workdir / "ws"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.trace = workdir / "strace.txt" if strace else None
        wrapper = (["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg", "-o", str(self.trace)]
                   if strace else None)
        self.proc, self.peer = start_stdio(bundle, wrapper=wrapper, cwd=self.workspace,
                                           stderr_path=workdir / "server.log")
        self.expected: list[Any] = []
        self.wedges = 0
        self.uri = (self.workspace / "sample.py").as_uri()

    @property
    def server_pid(self) -> int:
        """The server's process id (strace's child when traced)."""
        if self.trace is None:
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0]) if children else self.proc.pid

    def tracked_request(self, method: str, params: Any) -> Any:
        """A request that must get exactly one answer."""
        msg_id = self.peer.request(method, params)
        self.expected.append(msg_id)
        return msg_id

    def probe(self) -> bool:
        """A valid completion must still be answered; counts a wedge otherwise."""
        msg_id = self.tracked_request("textDocument/completion", {
            "textDocument": {"uri": self.uri}, "position": {"line": 10, "character": 11}})
        answered = self.peer.wait_for(msg_id, ANSWER_WAIT_S) is not None
        self.wedges += not answered
        return answered


def fuzz_phase(run: Run, rng: random.Random, count: int) -> dict:
    """Send `count` hostile messages, probing liveness after every 500."""
    sent = {c: 0 for c in CATEGORIES}
    started = time.monotonic()
    for n, (category, data, tracked) in enumerate(fuzz_messages(rng, count, run.uri)):
        run.peer.send_raw(data)
        sent[category] += 1
        if tracked is not None:
            run.expected.append(tracked)
        if n % 500 == 499:
            run.probe()
    run.probe()
    return {"messages": count, "per_category": sent, "seconds": round(time.monotonic() - started, 1)}


def load_phase(run: Run, requests: int) -> dict:
    """Typing with completions, a third of them cancelled at once; all must be answered."""
    text = SAMPLE
    started = time.monotonic()
    for n in range(requests):
        text += "x" if n % 20 else "\n    "
        lines = text.split("\n")
        run.peer.notify("textDocument/didChange", {"textDocument": {"uri": run.uri, "version": 100 + n},
                                                   "contentChanges": [{"text": text}]})
        msg_id = run.tracked_request("textDocument/completion", {
            "textDocument": {"uri": run.uri}, "position": {"line": len(lines) - 1, "character": len(lines[-1])}})
        if n % 3 == 0:
            run.peer.notify("$/cancelRequest", {"id": msg_id})
    run.probe()
    return {"requests": requests, "cancelled": (requests + 2) // 3, "seconds": round(time.monotonic() - started, 1)}


def soak_phase(run: Run, seconds: float) -> dict:
    """Type into a document for `seconds`, one completion per keystroke; RSS growth after warm-up."""
    samples: list[tuple[float, float]] = []
    text, n = SAMPLE, 0
    started = time.monotonic()
    next_sample = started
    while time.monotonic() - started < seconds:
        n += 1
        text = text + "y" if n % 40 else SAMPLE  # keep the document a realistic size
        line = text.split("\n")[-1]
        run.peer.notify("textDocument/didChange", {"textDocument": {"uri": run.uri, "version": 10_000 + n},
                                                   "contentChanges": [{"text": text}]})
        msg_id = run.tracked_request("textDocument/completion", {
            "textDocument": {"uri": run.uri}, "position": {"line": text.count("\n"), "character": len(line)}})
        run.peer.wait_for(msg_id, ANSWER_WAIT_S)
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - started, rss_mb(run.server_pid)))
            next_sample += max(1.0, seconds / 60)
    samples.append((time.monotonic() - started, rss_mb(run.server_pid)))
    warm = [mb for t, mb in samples if t >= seconds * 0.2] or [samples[-1][1]]
    base = warm[0]
    return {"seconds": seconds, "keystrokes": n, "rss_mb_after_warmup": round(base, 1),
            "rss_mb_end": round(samples[-1][1], 1), "rss_mb_max": round(max(mb for _, mb in samples), 1),
            "rss_growth_pct": round(100 * (max(warm) - base) / base, 1)}


def hostile_commands(run: Run, outside: Path) -> dict:
    """Commands aimed outside the workspace or with absurd arguments; all must be answered."""
    planted = run.workspace / "data.synthetic.csv"
    planted.symlink_to(outside / "target.txt")
    (run.workspace / "fixture.csv").write_text("a,b\n1,2\n3,4\n")
    fixture = (run.workspace / "fixture.csv").as_uri()
    commands = [
        ("devassist.synthesizeTestData", [(outside / "target.txt").as_uri(), 5]),
        ("devassist.synthesizeTestData", ["file:///etc/passwd", 5]),
        ("devassist.synthesizeTestData", [fixture, -1]),
        ("devassist.synthesizeTestData", [fixture, "many"]),
        ("devassist.generateDocstring", [run.uri, {"line": -5, "character": 0}]),
        ("devassist.generateDocstring", ["file:///etc/passwd", {"line": 0, "character": 0}]),
        ("devassist.generateDocstring", []),
        ("devassist.suppressReview", [None]),
        ("no.such.command", [1, 2]),
    ]
    ids = [run.tracked_request("workspace/executeCommand", {"command": c, "arguments": a}) for c, a in commands]
    for msg_id in ids:
        run.peer.wait_for(msg_id, ANSWER_WAIT_S)
    run.probe()
    return {"commands": len(commands)}


def lifecycle_cases(bundle: Path, workdir: Path) -> dict:
    """Each lifecycle rule on a fresh server; returns case -> passed."""
    results: dict[str, bool] = {}
    proc, peer = start_stdio(bundle, cwd=workdir)
    early = peer.request("textDocument/hover", {"textDocument": {"uri": "file:///x.py"},
                                                "position": {"line": 0, "character": 0}})
    results["request_before_initialize_is_-32002"] = (peer.wait_for(early, ANSWER_WAIT_S) or {}).get(
        "error", {}).get("code") == -32002
    peer.initialize()
    again = peer.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    results["second_initialize_is_an_error"] = "error" in (peer.wait_for(again, ANSWER_WAIT_S) or {})
    results["shutdown_answered"] = peer.wait_for(peer.request("shutdown"), ANSWER_WAIT_S) is not None
    late = peer.request("textDocument/hover", {"textDocument": {"uri": "file:///x.py"},
                                               "position": {"line": 0, "character": 0}})
    results["request_after_shutdown_is_-32600"] = (peer.wait_for(late, ANSWER_WAIT_S) or {}).get(
        "error", {}).get("code") == -32600
    peer.notify("exit")
    results["exit_after_shutdown_is_0"] = proc.wait(60) == 0
    proc, peer = start_stdio(bundle, cwd=workdir)
    peer.initialize()
    peer.notify("exit")
    results["exit_without_shutdown_is_1"] = proc.wait(60) == 1
    proc, peer = start_stdio(bundle, "--on-framing-error", "exit", cwd=workdir)
    peer.initialize()
    peer.send_raw(b"not a header\r\n\r\n")
    results["framing_error_policy_exit_is_2"] = proc.wait(60) == 2
    return results


def large_document_case(bundle: Path, workdir: Path, megabytes: int, keystrokes: int = 20) -> dict:
    """Open a document of `megabytes` MB and type in it: keystroke latency, RSS, warnings."""
    proc, peer = start_stdio(bundle, cwd=workdir)
    try:
        peer.initialize(workdir)
        rss_before = rss_mb(proc.pid)
        unit = "def f_%07d(value):\n    return value + 1\n\n"
        text = "".join(unit % i for i in range(megabytes * 1_000_000 // len(unit % 0)))
        uri = (workdir / "huge.py").as_uri()
        started = time.monotonic()
        peer.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                              "text": text}})
        line = text.count("\n") - 2
        del text
        first = peer.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                         "position": {"line": line, "character": 15}})
        opened = peer.wait_for(first, 300) is not None
        open_s = time.monotonic() - started
        latencies = []
        for n in range(keystrokes):
            sent = time.monotonic()
            character = 15 + n
            peer.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2 + n}, "contentChanges": [
                {"range": {"start": {"line": line, "character": character},
                           "end": {"line": line, "character": character}}, "text": "v"}]})
            msg_id = peer.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                              "position": {"line": line, "character": character + 1}})
            answered = peer.wait_for(msg_id, ANSWER_WAIT_S) is not None
            latencies.append((time.monotonic() - sent) * 1000 if answered else float("inf"))
        latencies.sort()
        warnings = [n for n in peer.notifications if n["method"] == "window/showMessage"]
        return {"megabytes": megabytes, "first_answer": opened, "open_and_first_completion_s": round(open_s, 2),
                "keystroke_ms_p50": round(latencies[len(latencies) // 2], 1), "keystroke_ms_max": round(latencies[-1], 1),
                "rss_mb_before": round(rss_before, 1), "rss_mb_after": round(rss_mb(proc.pid), 1),
                "warnings_shown": len(warnings)}
    finally:
        proc.kill()
        proc.wait()


def network_syscalls(trace: Path | None) -> int | None:
    """socket/connect/sendto/sendmsg calls on IPv4/IPv6 in an strace log (None: not traced)."""
    if trace is None or not trace.exists():
        return None
    text = trace.read_text(errors="replace")
    return len(re.findall(r"^\d+\s+(socket\(AF_INET6?|(connect|sendto|sendmsg)\(.*sa_family=AF_INET6?)", text, re.M))


def evaluate(bundle: Path, messages: int, soak_s: float, load_requests: int, seed: int, use_strace: bool,
             keep: Path | None = None, large_doc_mb: int = 0) -> dict:
    """Every phase on the real server; returns the figures (`keep`: work there and keep the logs)."""
    rng = random.Random(seed)
    bundle = bundle.resolve()  # the server runs in the workspace folder
    strace = use_strace and shutil.which("strace") is not None
    with tempfile.TemporaryDirectory(prefix="devassist-robustness-") as tmp:
        workdir = Path(keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        outside = workdir / "outside"
        outside.mkdir()
        (outside / "target.txt").write_text("must not change\n")
        before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in outside.iterdir())
        run = Run(bundle, workdir, strace)
        figures: dict[str, Any] = {"bundle": str(bundle), "seed": seed, "strace": strace}
        ok = run.peer.initialize(run.workspace) is not None
        run.peer.notify("textDocument/didOpen", {"textDocument": {"uri": run.uri, "languageId": "python",
                                                                  "version": 1, "text": SAMPLE}})
        figures["initialized"] = ok
        figures["fuzz"] = fuzz_phase(run, rng, messages)
        figures["load"] = load_phase(run, load_requests)
        figures["hostile"] = hostile_commands(run, outside)
        figures["soak"] = soak_phase(run, soak_s) if soak_s > 0 else None
        for msg_id in run.expected:  # stragglers: wait on each once, bounded
            run.peer.wait_for(msg_id, ANSWER_WAIT_S)
        crashed = run.proc.poll() is not None
        shutdown = run.peer.request("shutdown")
        run.peer.wait_for(shutdown, ANSWER_WAIT_S)
        run.peer.notify("exit")
        exit_code = run.proc.wait(60)
        answers = run.peer.answers
        figures["crashes"] = int(crashed)
        figures["wedges"] = run.wedges
        figures["requests_with_id"] = len(run.expected)
        figures["unanswered"] = sum(1 for i in run.expected if not answers.get(i))
        figures["answered_twice"] = sum(1 for i in run.expected if len(answers.get(i, [])) > 1)
        figures["parse_errors_answered"] = len(answers.get(None, []))
        figures["show_message_popups"] = sum(1 for n in run.peer.notifications if n["method"] == "window/showMessage")
        figures["exit_code"] = exit_code
        figures["network_syscalls"] = network_syscalls(run.trace)
        after = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in outside.iterdir())
        figures["writes_outside_workspace"] = int(before != after)
        figures["lifecycle"] = lifecycle_cases(bundle, workdir)
        figures["large_document"] = large_document_case(bundle, workdir, large_doc_mb) if large_doc_mb else None
    return figures


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    from devassist.server.bundle import default_bundle_path

    parser = argparse.ArgumentParser(prog="devassist evaluate robustness", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: models/default)")
    parser.add_argument("--messages", type=int, default=5004, help="fuzz messages (default 5004)")
    parser.add_argument("--load-requests", type=int, default=300, help="completions in the load phase (default 300)")
    parser.add_argument("--soak-s", type=float, default=60.0, help="seconds of typing in the soak (default 60)")
    parser.add_argument("--large-doc-mb", type=int, default=50, help="then type in a document this large (0: skip)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--no-strace", action="store_true", help="do not count network syscalls with strace")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the server log and strace")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = evaluate(args.bundle or default_bundle_path(), args.messages, args.soak_s, args.load_requests,
                       args.seed, not args.no_strace, args.keep, args.large_doc_mb)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>26}: {value}")
    failed = (figures["crashes"] or figures["wedges"] or figures["unanswered"] or figures["answered_twice"]
              or figures["network_syscalls"] or figures["writes_outside_workspace"]
              or not all(figures["lifecycle"].values()))
    return 1 if failed else 0
