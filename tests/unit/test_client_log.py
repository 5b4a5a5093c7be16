"""server/client_log.py: log records reach the client as window/logMessage with their real level."""

from __future__ import annotations

import asyncio
import io
import logging
import threading

import pytest
from lsprotocol import types

from devassist.server.client_log import ClientLogHandler, DemoteQuietMessages, message_type, send_logs_to_client


class FakeServer:
    """Records window/logMessage calls; `connected` says whether the protocol has a writer."""

    def __init__(self, connected: bool = True):
        self.protocol = type("Protocol", (), {"writer": object() if connected else None})()
        self.sent: list[tuple[types.MessageType, str, str]] = []

    def window_log_message(self, params: types.LogMessageParams) -> None:
        """Record the message and the thread that sent it."""
        self.sent.append((params.type, params.message, threading.current_thread().name))


@pytest.fixture
def logger():
    """A private logger that propagates nowhere, cleaned up afterwards."""
    log = logging.getLogger("devassist.test_client_log")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()


@pytest.mark.parametrize(("level", "expected"), [
    (logging.DEBUG, types.MessageType.Log),
    (logging.INFO, types.MessageType.Info),
    (logging.WARNING, types.MessageType.Warning),
    (logging.ERROR, types.MessageType.Error),
    (logging.CRITICAL, types.MessageType.Error),
], ids=["debug", "info", "warning", "error", "critical"])
def test_each_level_keeps_its_message_type(logger, level, expected):
    server = FakeServer()
    logger.addHandler(ClientLogHandler(server))
    logger.log(level, "loaded %s", "bundle")
    assert server.sent == [(expected, "loaded bundle", threading.current_thread().name)]
    assert message_type(level) == expected


def test_before_the_connection_records_go_to_the_fallback(logger):
    server = FakeServer(connected=False)
    stream = io.StringIO()
    logger.addHandler(ClientLogHandler(server, fallback=logging.StreamHandler(stream)))
    logger.warning("cannot read the bundle")
    assert server.sent == []
    assert stream.getvalue() == "cannot read the bundle\n"


def test_a_record_logged_while_sending_is_not_sent_again(logger):
    class LoggingServer(FakeServer):
        def window_log_message(self, params):
            super().window_log_message(params)
            logger.error("transport trouble while sending")  # would recurse without the guard

    server = LoggingServer()
    logger.addHandler(ClientLogHandler(server))
    logger.info("hello")
    assert [m for _, m, _ in server.sent] == ["hello"]


def test_records_from_worker_threads_are_sent_on_the_loop_thread(logger):
    server = FakeServer()
    handler = ClientLogHandler(server)
    logger.addHandler(handler)

    async def scenario():
        logger.info("from the loop")  # the handler learns the loop here
        await asyncio.get_running_loop().run_in_executor(None, logger.warning, "from a worker")
        await asyncio.sleep(0)  # let the scheduled send run (one loop turn, not a timed wait)

    loop_thread = threading.current_thread().name
    asyncio.run(scenario())
    assert [(t, m) for t, m, _ in server.sent] == [(types.MessageType.Info, "from the loop"),
                                                   (types.MessageType.Warning, "from a worker")]
    assert {thread for _, _, thread in server.sent} == {loop_thread}


def test_pygls_tracing_stays_out_of_the_client():
    server = FakeServer()
    stream = io.StringIO()
    fallback = logging.StreamHandler(stream)
    handler = ClientLogHandler(server, fallback=fallback)
    record = logging.LogRecord("pygls.protocol.json_rpc", logging.INFO, __file__, 1, "Sending data: %s", ("{}",), None)
    handler.handle(record)
    assert server.sent == [] and "Sending data: {}" in stream.getvalue()


@pytest.mark.parametrize(("root_level", "shown"), [(logging.INFO, False), (logging.DEBUG, True)], ids=["info", "debug"])
def test_cancel_for_an_unknown_id_is_demoted_to_debug(monkeypatch, root_level, shown):
    monkeypatch.setattr(logging.getLogger(), "level", root_level)
    record = logging.LogRecord("pygls.protocol.json_rpc", logging.WARNING, __file__, 1,
                               'Cancel notification for unknown message id "%s"', ("7",), None)
    assert DemoteQuietMessages().filter(record) is shown
    assert record.levelno == logging.DEBUG
    other = logging.LogRecord("pygls.protocol.json_rpc", logging.WARNING, __file__, 1, "real trouble", (), None)
    assert DemoteQuietMessages().filter(other) and other.levelno == logging.WARNING


def test_send_logs_to_client_replaces_the_stderr_handler(monkeypatch):
    root = logging.getLogger()
    stderr = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(root, "handlers", [stderr])
    json_rpc = logging.getLogger("pygls.protocol.json_rpc")
    monkeypatch.setattr(json_rpc, "filters", [])
    handler = send_logs_to_client(FakeServer())
    assert root.handlers == [handler] and handler.fallback is stderr
    assert any(isinstance(f, DemoteQuietMessages) for f in json_rpc.filters)
