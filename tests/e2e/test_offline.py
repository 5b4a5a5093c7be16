"""The server never touches the network: a full session under strace, in a namespace without
network interfaces where `unshare -n` works, makes no IPv4/IPv6 socket at all.

onnxruntime 1.23+ wheels upload telemetry (DNS lookups of mobile.events.data.microsoft.com);
server/serve.py turns that off before onnxruntime loads. Skipped, with the reason, where strace
is not installed.
"""

import shutil
import subprocess
import time

import pytest

from devassist.evaluation.lsp_wire import start_stdio
from devassist.evaluation.robustness import SAMPLE, network_syscalls

pytestmark = pytest.mark.slow

SESSION_S = 20.0


def network_namespace_wrapper() -> list[str]:
    """`unshare -n` when this process may create a network namespace, else nothing."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed: cannot count syscalls")
def test_a_full_session_makes_no_network_syscall(tiny_bundle, tmp_path):
    trace = tmp_path / "strace.txt"
    strace = ["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg", "-o", str(trace)]
    proc, peer = start_stdio(tiny_bundle, wrapper=network_namespace_wrapper() + strace, cwd=tmp_path)
    try:
        assert peer.initialize(tmp_path) is not None
        uri = (tmp_path / "sample.py").as_uri()
        peer.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                              "text": SAMPLE}})
        text, n = SAMPLE, 0
        # Type for 20 s with a completion per keystroke: onnxruntime 1.32's uploader first
        # resolves its endpoint 7-11 s after start, then every ~5 s (measured under strace).
        started = time.monotonic()
        while time.monotonic() - started < SESSION_S:
            n += 1
            text += "x" if n % 30 else "\n"
            peer.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2 + n},
                                                   "contentChanges": [{"text": text}]})
            msg_id = peer.request("textDocument/completion", {
                "textDocument": {"uri": uri},
                "position": {"line": text.count("\n"), "character": len(text.split("\n")[-1])}})
            assert peer.wait_for(msg_id, 60) is not None
        diagnostics = peer.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        assert peer.wait_for(diagnostics, 60) is not None
        assert peer.wait_for(peer.request("shutdown"), 60) is not None
        peer.notify("exit")
        assert proc.wait(60) == 0
    finally:
        proc.kill()
    calls = trace.read_text()
    assert network_syscalls(trace) == 0, [line for line in calls.splitlines() if "AF_INET" in line][:5]
