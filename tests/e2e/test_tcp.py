"""`devassist serve --tcp PORT` listens on 127.0.0.1 and speaks LSP there."""

import json
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_server_answers_initialize_on_loopback(tiny_bundle):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "devassist.server", "serve", "--bundle", str(tiny_bundle),
                             "--tcp", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        conn = None
        while conn is None:  # wait until the port accepts (bounded)
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                assert time.monotonic() < deadline, "server never listened"
                time.sleep(0.05)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while b"capabilities" not in data:
            chunk = conn.recv(65536)
            assert chunk, "connection closed before the answer"
            data += chunk
        assert b'"completionProvider"' in data and b'"inlineCompletionProvider"' in data
        # While connected (the server may stop listening once its client leaves), the listening
        # socket is bound to 127.0.0.1 only.
        with open("/proc/net/tcp") as fh:
            listening = [line.split() for line in fh.readlines()[1:] if line.split()[3] == "0A"]
        ours = [row for row in listening if int(row[1].split(":")[1], 16) == port]
        assert ours and all(row[1].split(":")[0] == "0100007F" for row in ours)
        conn.close()
    finally:
        proc.kill()
        proc.wait()
