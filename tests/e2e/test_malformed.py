"""Malformed LSP input over stdio: every request with an id is answered once, the server recovers,
the lifecycle follows the spec, and nothing pops up a window."""

import json

import pytest

from devassist.evaluation.lsp_wire import frame, start_stdio

pytestmark = pytest.mark.slow

HOVER = {"textDocument": {"uri": "file:///nowhere.py"}, "position": {"line": 0, "character": 0}}


@pytest.fixture
def server(tiny_bundle, tmp_path):
    """A started, initialized server on stdio and its peer; killed after the test."""
    proc, peer = start_stdio(tiny_bundle, cwd=tmp_path)
    assert peer.initialize() is not None
    yield proc, peer
    proc.kill()
    proc.wait()


def body(msg_id, method="textDocument/hover", params=HOVER) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


FRAMING = {  # bytes for request "bad" -> whether that request itself can be answered
    "lf_only": (lambda b: b"Content-Length: %d\n\n" % len(b) + b, True),
    "lower_case_header": (lambda b: b"content-length: %d\r\n\r\n" % len(b) + b, True),
    "no_header": (lambda b: b + b"\r\n", False),
    "length_5_too_long": (lambda b: b"Content-Length: %d\r\n\r\n" % (len(b) + 5) + b, True),
    "length_5_too_short": (lambda b: b"Content-Length: %d\r\n\r\n" % (len(b) - 5) + b, True),
    "huge_length": (lambda b: b"Content-Length: 100000000000\r\n\r\n", False),
    "overflowing_length": (lambda b: b"Content-Length: 100000000000000000000\r\n\r\n", False),
}


@pytest.mark.parametrize("case", list(FRAMING))
def test_a_framing_error_is_answered_and_the_next_ten_requests_are_too(server, case):
    proc, peer = server
    make, answerable = FRAMING[case]
    peer.send_raw(make(body("bad")))
    ids = [peer.request("textDocument/hover", HOVER) for _ in range(10)]
    for msg_id in ids:
        assert peer.wait_for(msg_id, 30) is not None, f"request {msg_id} unanswered after {case}"
    if answerable:
        assert peer.wait_for("bad", 30) is not None
    else:
        parse_errors = peer.answers.get(None, [])
        assert parse_errors and parse_errors[0]["error"]["code"] == -32700
    assert all(len(peer.answers[i]) == 1 for i in ids)
    assert proc.poll() is None
    assert not [n for n in peer.notifications if n["method"] == "window/showMessage"]


def test_bad_json_is_a_parse_error_without_a_popup(server):
    proc, peer = server
    peer.send_raw(frame(b"{this is not json"))
    after = peer.request("textDocument/hover", HOVER)
    assert peer.wait_for(after, 30) is not None
    assert peer.answers[None][0]["error"]["code"] == -32700
    assert not [n for n in peer.notifications if n["method"] == "window/showMessage"]


@pytest.mark.parametrize("method,params", [
    ("textDocument/completion", {"textDocument": {"uri": "file:///a.py"}, "position": {"line": -1, "character": 0}}),
    ("textDocument/completion", {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": -3}}),
    ("textDocument/inlineCompletion", {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}}),
    ("textDocument/completion", {"textDocument": {"uri": "file:///a.py"}, "position": {"line": "zero", "character": 0}}),
    ("textDocument/completion", {"textDocument": None, "position": []}),
    ("textDocument/completion", None),
    ("textDocument/codeAction", {"textDocument": {"uri": "file:///a.py"}, "range": "everything"}),
], ids=["negative_line", "negative_character", "inline_without_context", "line_word", "wrong_shapes",
        "no_params", "range_string"])
def test_params_that_fail_the_schema_are_answered_invalid_params(server, method, params):
    proc, peer = server
    msg_id = peer.request(method, params)
    answer = peer.wait_for(msg_id, 30)
    assert answer is not None and answer["error"]["code"] == -32602
    assert proc.poll() is None


def test_requests_before_initialize_and_after_shutdown(tiny_bundle, tmp_path):
    proc, peer = start_stdio(tiny_bundle, cwd=tmp_path)
    try:
        early = peer.request("textDocument/hover", HOVER)
        assert peer.wait_for(early, 60)["error"]["code"] == -32002
        peer.initialize()
        assert "error" in peer.wait_for(peer.request("initialize", {"capabilities": {}}), 30)
        assert peer.wait_for(peer.request("shutdown"), 30)["result"] is None
        late = peer.request("textDocument/hover", HOVER)
        assert peer.wait_for(late, 30)["error"]["code"] == -32600
        peer.notify("exit")
        assert proc.wait(30) == 0
    finally:
        proc.kill()


def test_exit_without_shutdown_exits_1(server):
    proc, peer = server
    peer.notify("exit")
    assert proc.wait(30) == 1


def test_policy_exit_ends_the_process_with_2_after_answering(tiny_bundle, tmp_path):
    proc, peer = start_stdio(tiny_bundle, "--on-framing-error", "exit", cwd=tmp_path)
    try:
        peer.initialize()
        peer.send_raw(b"Content-Length: 100000000000\r\n\r\n")
        assert proc.wait(30) == 2
        assert peer.answers[None][0]["error"]["code"] == -32700
    finally:
        proc.kill()


def test_every_wrong_type_gets_exactly_one_answer(server):
    proc, peer = server
    wrong = [None, "x", 1.5, -1, 2**40, [], {}, True]
    # Not a usable id: answered -32600 with id null (and not taken as a shutdown). Sent first, so
    # its answer precedes those awaited below.
    peer.send({"jsonrpc": "2.0", "id": {"not": "an id"}, "method": "shutdown"})
    ids = []
    for field in ("textDocument", "position"):
        for value in wrong:
            params = {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 0}, field: value}
            ids.append(peer.request("textDocument/completion", params))
    for msg_id in ids:
        assert peer.wait_for(msg_id, 30) is not None
    assert all(len(peer.answers[i]) == 1 for i in ids)
    assert peer.answers[None] and peer.answers[None][0]["error"]["code"] == -32600
