"""`devassist serve --tcp PORT`: 127.0.0.1 only, one independent session per connection,
closing one leaves the others working, idle and slow connections time out."""

import pytest

from devassist.evaluation.lsp_wire import connect_tcp, free_port, start_tcp

pytestmark = pytest.mark.slow

SOURCE = "def add(a, b):\n    return a + b\n\n\ndef mean(values):\n    return \n"


@pytest.fixture
def tcp_server(tiny_bundle):
    """`serve --tcp` with short timeouts; yields (process, port)."""
    port = free_port()
    proc = start_tcp(tiny_bundle, port, "--idle-timeout", "3", "--message-timeout", "2", "--max-sessions", "3")
    yield proc, port
    proc.kill()
    proc.wait()


def open_doc(peer, uri: str, text: str) -> None:
    peer.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                          "text": text}})


def completion(peer, uri: str, line: int, character: int):
    msg_id = peer.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                      "position": {"line": line, "character": character}})
    return msg_id, peer.wait_for(msg_id, 60)


def test_listens_on_loopback_only(tcp_server):
    proc, port = tcp_server
    with open("/proc/net/tcp") as fh:
        rows = [line.split() for line in fh.readlines()[1:] if line.split()[3] == "0A"]
    ours = [row for row in rows if int(row[1].split(":")[1], 16) == port]
    assert ours and all(row[1].split(":")[0] == "0100007F" for row in ours)
    with open("/proc/net/tcp6") as fh:
        assert not [line for line in fh.readlines()[1:] if int(line.split()[1].split(":")[1], 16) == port]


def test_two_clients_get_only_their_own_answers_and_closing_one_keeps_the_other(tcp_server):
    proc, port = tcp_server
    sock_a, a = connect_tcp(port)
    sock_b, b = connect_tcp(port)
    b._next_id = 1000  # B's request ids never collide with A's: each answer shows its session
    assert a.initialize() is not None
    # B has not initialized: its requests are refused, whatever A did on its own connection.
    early = b.request("textDocument/completion", {"textDocument": {"uri": "file:///a.py"},
                                                   "position": {"line": 0, "character": 0}})
    assert b.wait_for(early, 30)["error"]["code"] == -32002
    assert b.initialize() is not None
    open_doc(a, "file:///a.py", SOURCE)
    a_id, a_answer = completion(a, "file:///a.py", 5, 11)
    b_id, b_answer = completion(b, "file:///a.py", 5, 11)  # not open in B's session
    assert a_answer is not None and b_answer is not None
    assert b_answer["result"]["items"] == []
    # Each socket carries only its own session's answers and notifications.
    assert all(i < 1000 for i in a.answers) and all(i >= 1000 for i in b.answers)
    assert not [m for m in b.notifications if m.get("params", {}).get("uri") == "file:///a.py"]
    sock_a.close()
    assert a.closed.wait(30)
    _, again = completion(b, "file:///a.py", 5, 11)
    assert again is not None and proc.poll() is None
    open_doc(b, "file:///b.py", SOURCE)
    _, own = completion(b, "file:///b.py", 5, 11)
    assert own is not None and "result" in own
    sock_b.close()


def test_a_session_ends_on_exit_and_the_server_keeps_listening(tcp_server):
    proc, port = tcp_server
    sock, peer = connect_tcp(port)
    peer.initialize()
    peer.notify("exit")
    assert peer.closed.wait(30)
    sock.close()
    sock2, peer2 = connect_tcp(port)
    assert peer2.initialize() is not None and proc.poll() is None
    sock2.close()


def test_idle_and_slow_connections_are_closed(tcp_server):
    proc, port = tcp_server
    idle_sock, idle = connect_tcp(port)
    slow_sock, slow = connect_tcp(port)
    slow.send_raw(b"Content-Len")  # a message that never completes
    assert slow.closed.wait(30), "slow-loris connection still open"
    assert idle.closed.wait(30), "idle connection still open"
    idle_sock.close()
    slow_sock.close()
    sock, peer = connect_tcp(port)
    assert peer.initialize() is not None
    sock.close()


def test_sessions_beyond_the_limit_are_refused(tcp_server):
    proc, port = tcp_server
    open_ones = [connect_tcp(port) for _ in range(3)]
    for _, peer in open_ones:
        assert peer.initialize() is not None
    sock, extra = connect_tcp(port)
    assert extra.closed.wait(30)
    for s, _ in open_ones:
        s.close()
    sock.close()


def test_a_framing_error_with_policy_exit_closes_only_that_connection(tiny_bundle):
    port = free_port()
    proc = start_tcp(tiny_bundle, port, "--on-framing-error", "exit")
    try:
        sock_a, a = connect_tcp(port)
        sock_b, b = connect_tcp(port)
        a.initialize()
        b.initialize()
        a.send_raw(b"Content-Length: nope\r\n\r\n")
        assert a.closed.wait(30) and a.answers[None][0]["error"]["code"] == -32700
        assert completion(b, "file:///x.py", 0, 0)[1] is not None
        sock_a.close()
        sock_b.close()
    finally:
        proc.kill()
        proc.wait()
