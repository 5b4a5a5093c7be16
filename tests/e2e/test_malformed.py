"""Malformed LSP input gets an error or is dropped, and the server stays up."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def frame(payload: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(payload) + payload


def read_message(stream) -> dict:
    length = None
    while True:
        line = stream.readline()
        assert line, "server closed its output"
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(stream.read(length))


def test_garbage_then_a_valid_request(tiny_bundle):
    proc = subprocess.Popen([sys.executable, "-m", "devassist.server", "serve", "--bundle", str(tiny_bundle)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(frame(b"{this is not json"))
        proc.stdin.write(frame(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}).encode()))
        proc.stdin.write(frame(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "textDocument/completion",
                                           "params": {"bogus": True}}).encode()))
        proc.stdin.write(frame(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "initialize",
                                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()))
        proc.stdin.flush()
        answers, messages = {}, []
        while 9 not in answers:
            msg = read_message(proc.stdout)
            if msg.get("id") is not None:
                answers[msg["id"]] = msg
            elif msg.get("method") == "window/showMessage":
                messages.append(msg["params"]["message"])
        assert "capabilities" in answers[9]["result"]
        assert any("Expecting property name" in m for m in messages)  # the bad JSON was reported
        for bad in (7, 8):  # answered with an error, or dropped: never a result, never a crash
            assert "result" not in answers.get(bad, {})
        # still serving after all that
        proc.stdin.write(frame(json.dumps({"jsonrpc": "2.0", "id": 10, "method": "textDocument/completion",
                                           "params": {"textDocument": {"uri": "file:///nowhere.py"},
                                                      "position": {"line": 0, "character": 0}}}).encode()))
        proc.stdin.flush()
        while 10 not in answers:
            msg = read_message(proc.stdout)
            if msg.get("id") is not None:
                answers[msg["id"]] = msg
        assert answers[10]["result"]["items"] == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
