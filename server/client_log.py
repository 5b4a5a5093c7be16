"""The server's log records sent to the editor as `window/logMessage`, each with its real level.

Editors show a language server's stderr as errors (VS Code marks every stderr line `[error]` in
the Output channel), so once the connection is up, log records travel as `window/logMessage` with
the MessageType of their level; stderr keeps only what comes before the connection (a bundle that
will not load) and pygls's own protocol tracing in DEBUG mode. pygls's warning
"Cancel notification for unknown message id" (the answer was already sent: a normal race when an
editor cancels while typing) is demoted to DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from lsprotocol import types

# Messages pygls logs as warnings that describe normal editor behaviour.
QUIET_MESSAGES = ("Cancel notification for unknown message id",)


def message_type(levelno: int) -> types.MessageType:
    """The LSP MessageType for a logging level (DEBUG -> Log: Debug is still only proposed)."""
    if levelno >= logging.ERROR:
        return types.MessageType.Error
    if levelno >= logging.WARNING:
        return types.MessageType.Warning
    if levelno >= logging.INFO:
        return types.MessageType.Info
    return types.MessageType.Log


class DemoteQuietMessages(logging.Filter):
    """Turn QUIET_MESSAGES into DEBUG records, dropped unless the root logger shows DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote a quiet message; pass everything else unchanged."""
        if isinstance(record.msg, str) and record.msg.startswith(QUIET_MESSAGES):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().getEffectiveLevel() <= logging.DEBUG
        return True


class ClientLogHandler(logging.Handler):
    """Sends each record to the client as `window/logMessage`; `fallback` takes the rest.

    The rest: records before the connection exists, and pygls records below WARNING (its tracing
    of every message sent, which would otherwise trace its own sending forever).
    """

    def __init__(self, server, fallback: logging.Handler | None = None):
        super().__init__()
        self.server = server
        self.fallback = fallback
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's loop, once seen
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        """Send `record` to the client, or to the fallback handler."""
        if getattr(self._local, "sending", False):
            return  # a record logged while sending one: sending it too would recurse
        connected = getattr(self.server.protocol, "writer", None) is not None
        if not connected or (record.name.startswith("pygls") and record.levelno < logging.WARNING):
            if self.fallback is not None and record.levelno >= self.fallback.level:
                self.fallback.handle(record)
            return
        try:
            params = types.LogMessageParams(type=message_type(record.levelno), message=self.format(record))
        except Exception:
            self.handleError(record)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            self.loop = running
            self._send(params)
        elif self.loop is not None and self.loop.is_running():
            # From a worker thread: the transport belongs to the event loop's thread.
            self.loop.call_soon_threadsafe(self._send, params)
        else:
            self._send(params)  # stdio before the loop was seen: one buffered write per message

    def _send(self, params: types.LogMessageParams) -> None:
        self._local.sending = True
        try:
            self.server.window_log_message(params)
        except Exception:  # a closed connection: nothing left to tell
            pass
        finally:
            self._local.sending = False


def send_logs_to_client(server) -> ClientLogHandler:
    """Route the root logger's records to `server`'s client instead of stderr (kept as fallback)."""
    root = logging.getLogger()
    stderr_handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    handler = ClientLogHandler(server, fallback=stderr_handlers[0] if stderr_handlers else None)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for old in stderr_handlers:
        root.removeHandler(old)
    root.addHandler(handler)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(DemoteQuietMessages())
    return handler
