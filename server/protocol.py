"""The LSP protocol of devassist: pygls's, plus the lifecycle and one answer per request.

pygls's own dispatcher leaves some requests unanswered (params that fail the schema, anything
after `shutdown`), answers requests before `initialize`, exits 0 on `exit` without `shutdown`,
and pops up an "Error in server" window for malformed input. `DevassistProtocol` takes a decoded
JSON value (the transport does the framing, server/transport.py) and guarantees:

- a request with a usable id gets exactly one response: -32600 for a message that is not a
  JSON-RPC request, -32002 before `initialize`, -32600 after `shutdown`, -32602 when the params
  fail the method's schema, pygls's own answer (result, -32601, -32603) otherwise;
- notifications before `initialize` or after `shutdown` (except `exit`) are dropped;
- `exit` stops the session with exit code 0 after `shutdown` and 1 otherwise (LSP spec);
- malformed input is logged once at warning level, never shown to the user as a window.
"""

from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from devassist.server.line_document import LINE_DOCUMENT_CHARS, LineDocument

log = logging.getLogger("devassist.protocol")

# JSON-RPC and LSP error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

_ALWAYS_ALLOWED = {types.EXIT}  # accepted in every lifecycle state
def _valid_id(value: Any) -> bool:
    """JSON-RPC ids are strings or integers (bool is an int in Python, not on the wire)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """A short single-line description of why params failed the schema."""
    leaves: list[str] = []

    def walk(e: BaseException) -> None:
        subs = getattr(e, "exceptions", None)
        if subs:
            for sub in subs:
                walk(sub)
        else:
            leaves.append(f"{type(e).__name__}: {e}" if not isinstance(e, (ValueError, TypeError)) else str(e))

    walk(exc)
    text = "; ".join(leaves) or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DevassistProtocol(LanguageServerProtocol):
    """pygls's LanguageServerProtocol with the LSP lifecycle enforced and every request answered."""

    def __init__(self, server, converter):
        super().__init__(server, converter)
        self.initialize_received = False
        self.shutdown_received = False
        self.exit_code: int | None = None
        """Set by `exit`: the transport ends the session with it."""
        self.on_exit: Callable[[int], None] | None = None
        """Called once with the exit code (the transport stops reading)."""

    # ---- entry point from the transport ----------------------------------------------------

    def handle_json(self, data: Any) -> None:
        """Dispatch one decoded JSON value from the client (any shape, trusted for nothing)."""
        if not isinstance(data, dict):
            what = "a batch (LSP has none)" if isinstance(data, list) else f"a JSON {type(data).__name__}"
            self.reply_error(None, INVALID_REQUEST, f"expected a JSON-RPC message object, got {what}")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        method = data.get("method")
        if "method" not in data:
            if has_id and ("result" in data or "error" in data):
                self._handle_client_response(data)
            else:
                self.reply_error(msg_id if _valid_id(msg_id) else None, INVALID_REQUEST, "message has no method")
            return
        if has_id and not _valid_id(msg_id):
            self.reply_error(None, INVALID_REQUEST, f"invalid request id {msg_id!r:.40}")
            return
        if not isinstance(method, str) or data.get("jsonrpc") != "2.0":
            problem = "method must be a string" if not isinstance(method, str) else 'jsonrpc must be "2.0"'
            if has_id:
                self.reply_error(msg_id, INVALID_REQUEST, problem)
            else:
                log.warning("dropped a notification: %s", problem)
            return
        if not self._lifecycle_allows(method, msg_id if has_id else None):
            return
        if method == types.EXIT:
            self._exit()
            return
        message_type = self.get_message_type(method)
        if message_type is None:  # unknown method: pygls answers -32601 or ignores the notification
            from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage

            message_type = JsonRPCRequestMessage if has_id else JsonRPCNotification
            data = {"params": None, **data}
        try:
            message = self._converter.structure(data, message_type)
        except Exception as exc:  # cattrs raises several types; all mean "params do not fit the schema"
            reason = _one_line(exc)
            if has_id:
                self.reply_error(msg_id, INVALID_PARAMS, f"invalid params for {method}: {reason}")
            else:
                log.warning("dropped %s notification with invalid params: %s", method, reason)
            return
        if method == types.INITIALIZE:
            self.initialize_received = True
        elif method == types.SHUTDOWN:
            self.shutdown_received = True
        self.handle_message(message)

    # ---- helpers -----------------------------------------------------------------------------

    def reply_error(self, msg_id: Any, code: int, message: str) -> None:
        """Send one error response (id null when the request's id is unknown) and log it."""
        log.warning("answered %s with %d: %s", "id null" if msg_id is None else f"request {msg_id!r}", code, message)
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def _lifecycle_allows(self, method: str, msg_id: Any) -> bool:
        """Answer or drop what the current lifecycle state forbids; True if `method` may run."""
        if method in _ALWAYS_ALLOWED:
            return True
        if self.shutdown_received:
            if msg_id is not None:
                self.reply_error(msg_id, INVALID_REQUEST, f"{method} after shutdown: only exit is accepted")
            else:
                log.debug("dropped %s after shutdown", method)
            return False
        if not self.initialize_received and method != types.INITIALIZE:
            if msg_id is not None:
                self.reply_error(msg_id, SERVER_NOT_INITIALIZED, f"{method} before initialize")
            else:
                log.debug("dropped %s before initialize", method)
            return False
        if self.initialize_received and method == types.INITIALIZE and msg_id is not None:
            self.reply_error(msg_id, INVALID_REQUEST, "initialize was already received")
            return False
        return True

    def _exit(self) -> None:
        """`exit`: end the session, 0 after shutdown and 1 otherwise."""
        self.exit_code = 0 if self.shutdown_received else 1
        if self.exit_code:
            log.warning("exit without shutdown: exit code 1")
        for future in list(self._request_futures.values()):
            future.cancel()
        if self.on_exit is not None:
            self.on_exit(self.exit_code)

    def _handle_client_response(self, data: dict) -> None:
        """A response to one of our requests; one that fails its schema fails the waiting future."""
        try:
            message = self.structure_message(data)
        except Exception as exc:
            future = self._request_futures.pop(data.get("id"), None)
            log.warning("client response %r does not fit its schema: %s", data.get("id"), _one_line(exc))
            if future is not None and not future.done():
                future.set_exception(JsonRpcInternalError(f"malformed response: {_one_line(exc)}"))
            return
        self.handle_message(message)

    def _send_handler_result(self, future, *, msg_id) -> None:
        """Answer a finished request; a JSON-RPC error raised for bad input is logged in one line."""
        exc = None if future.cancelled() else future.exception()
        if isinstance(exc, JsonRpcException):  # e.g. an unknown command: the client's mistake, no traceback
            self._request_futures.pop(msg_id, None)
            log.warning("answered request %r with %s: %s", msg_id, exc.code, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        """Add the document (a large one as a `LineDocument`), then run the feature handler."""
        self.workspace.put_text_document(params.text_document)
        self._store_large_as_lines(params.text_document.uri)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        """Apply the edits (a `LineDocument` splices lines), then run the feature handler."""
        for change in params.content_changes:
            # Only open documents: get_text_document would read an unopened URI from disk.
            if self.workspace.text_documents.get(unquote(params.text_document.uri)) is not None:
                self.workspace.update_text_document(params.text_document, change)
        self._store_large_as_lines(params.text_document.uri)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    def _store_large_as_lines(self, uri: str) -> None:
        """A document that grew past LINE_DOCUMENT_CHARS is kept as lines from now on."""
        documents = self.workspace.text_documents
        doc = documents.get(unquote(uri))
        if doc is not None and not isinstance(doc, LineDocument) and len(doc.source) > LINE_DOCUMENT_CHARS:
            documents[unquote(uri)] = LineDocument.of(doc)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        """pygls's, minus its leak: a notification's future (keyed by a fresh uuid) is kept in
        `_request_futures` forever, about 1.4 KB per keystroke (didChange) over a typing soak."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        if callback == self._check_handler_result:  # a notification: nobody will ever look it up
            future = self._request_futures.get(msg_id)
            if future is not None:
                future.add_done_callback(lambda _done: self._request_futures.pop(msg_id, None))

    def _check_handler_result(self, future) -> None:
        """A failed notification handler is logged (pygls would pop up a window each time)."""
        if not future.cancelled() and (exc := future.exception()) is not None:
            log.warning("notification handler failed: %s", _one_line(exc), exc_info=exc)
