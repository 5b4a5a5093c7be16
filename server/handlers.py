"""Every LSP registration of devassist: lsprotocol conversion only, the work is in features/.

Handlers are named after the LSP method they serve. Each one converts positions through
`PositionCodec` (UTF-16 on the wire), calls a feature, and converts the result back; a failing
feature is logged and answered with an empty result, never a dead server.
"""

from __future__ import annotations

import functools
import math
import logging
import threading
import time
from typing import Any

from lsprotocol import types

from devassist.server.lsp import DevassistServer
from devassist.server.parsing import PositionCodec

log = logging.getLogger("devassist")

PYTHON_IDS = {"python", "py", "python3"}
COMPLETION_TRIGGERS = [".", "(", "[", ",", " ", "=", ":", "\n"]
LIST_ALTERNATIVES = 8  # other words offered in the completion list besides the full suggestion


def isolated(empty: Any = None):
    """Wrap a handler so an unexpected error is logged and answered with `empty`."""

    def wrap(fn):
        @functools.wraps(fn)
        async def run(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except Exception:  # one failing feature must not take the request or the server down
                # (asyncio.CancelledError is a BaseException: cancellations still propagate)
                log.exception("%s failed", fn.__name__)
                return empty

        return run

    return wrap


def is_python(server: DevassistServer, uri: str) -> bool:
    """Whether an open document is Python (by language id, or by extension)."""
    doc = server.open_document(uri)
    if doc is None:
        return False
    lang = (doc.language_id or "").lower()
    return lang in PYTHON_IDS or (not lang and uri.endswith((".py", ".pyi")))


async def suggest(server: DevassistServer, uri: str, position: types.Position, alternatives: int = 0):
    """Shared path of both completion methods: (Suggestion or None, other words, codec, offset,
    text), or None. The completion list also asks for `alternatives` other words."""
    started = time.monotonic()
    if not server.settings.completion.enabled or not is_python(server, uri):
        return None
    text = server.text_of(uri, position.line)
    if text is None:
        return None
    codec = PositionCodec(text)
    if position.line < 0 or position.character < 0 or position.line >= codec.line_count:
        return None
    offset = codec.offset(position.line, position.character)
    # The list and the ghost text are separate requests: each is superseded only by its own kind.
    is_superseded = server.supersede.begin("list" if alternatives else "inline", uri)
    cancel = threading.Event()
    settings = server.settings.completion
    stop = lambda: cancel.is_set() or is_superseded()  # noqa: E731 - polled between decoding steps

    repo_index = server.repo_index() if settings.repo_context_tokens else None
    engine = server.engine  # a request started before a model swap finishes on the model it started with

    def work():
        repo = ""
        if repo_index is not None:
            repo = repo_index.context(text[:offset], uri_path(uri), settings.repo_context_tokens,
                                      lambda t: len(engine.lm.encode(t)), document=text)
        suggestion = engine.complete(text, offset, settings, uri, stop, started, repo=repo,
                                     remote=server.settings.remote)
        others = engine.alternatives(text, offset, settings, uri, alternatives) if alternatives and not stop() else []
        return suggestion, others

    doc = server.open_document(uri)
    version = doc.version if doc is not None else None
    suggestion, others = await server.run_model(work, cancel_event=cancel)
    doc = server.open_document(uri)
    if doc is None or doc.version != version:
        # The document changed while this ran: its ranges point into text that is gone (Neovim
        # 0.12 drew such a stale answer at a column past the line's end and raised an error).
        return None
    if suggestion is None and not others:
        return None
    return suggestion, others, codec, offset, text


def uri_path(uri: str) -> str:
    """The file system path of a file:// URI (the URI itself otherwise)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def register(server: DevassistServer) -> None:
    """Attach every handler to `server`."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: DevassistServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: DevassistServer, params: types.InitializedParams) -> None:
        await pull_configuration(ls)
        ls.status("ready")
        if ls.settings.learn.use_learnt_model:
            await ls.use_learnt_bundle()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def workspace_did_change_configuration(ls: DevassistServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and settings:
            ls.apply_settings(settings)
        else:
            await pull_configuration(ls)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=COMPLETION_TRIGGERS, resolve_provider=False),
    )
    @isolated(empty=None)
    async def text_document_completion(ls: DevassistServer, params: types.CompletionParams):
        got = await suggest(ls, params.text_document.uri, params.position, alternatives=LIST_ALTERNATIVES)
        if got is None:
            return types.CompletionList(is_incomplete=True, items=[])
        suggestion, others, codec, offset, text = got
        # Each item replaces the identifier being typed, so the client's filter (which matches the
        # word at the cursor) keeps it: textEdit and filterText both start with that word.
        line_start = text.rfind("\n", 0, offset) + 1
        word_start = offset
        while word_start > line_start and (text[word_start - 1].isalnum() or text[word_start - 1] == "_"):
            word_start -= 1
        typed = text[word_start:offset]
        start = types.Position(*codec.position(word_start))
        choices = ([(suggestion.text, None)] if suggestion is not None else []) + others
        items, seen = [], set()
        for rank, (rest, logprob) in enumerate(choices):
            new_text = typed + rest
            if new_text in seen or not rest.strip():
                continue
            seen.add(new_text)
            first_line = new_text.split("\n", 1)[0]
            label = first_line if len(first_line) <= 60 else first_line[:57] + "..."
            items.append(types.CompletionItem(
                label=label or new_text.strip()[:60],
                kind=types.CompletionItemKind.Snippet if "\n" in new_text else types.CompletionItemKind.Text,
                detail="devassist" if logprob is None else f"devassist: {100 * math.exp(logprob):.0f} % likely",
                filter_text=new_text,
                sort_text=f"{rank:02d}",
                preselect=rank == 0,
                insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=types.Range(start=start, end=params.position), new_text=new_text),
                documentation=new_text if "\n" in new_text else None,
            ))
        return types.CompletionList(is_incomplete=True, items=items)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @isolated(empty=None)
    async def text_document_inline_completion(ls: DevassistServer, params: types.InlineCompletionParams):
        got = await suggest(ls, params.text_document.uri, params.position)
        if got is None:
            return types.InlineCompletionList(items=[])
        suggestion = got[0]
        if suggestion is None:
            return types.InlineCompletionList(items=[])
        item = types.InlineCompletionItem(
            insert_text=suggestion.text,
            range=types.Range(start=params.position, end=params.position),
        )
        return types.InlineCompletionList(items=[item])

    for extra in _optional_feature_registrars():
        extra(server)


def _optional_feature_registrars():
    """Registration functions of the docstring, review and synthesis features."""
    from devassist.server import handlers_features

    return handlers_features.REGISTRARS


async def pull_configuration(ls: DevassistServer) -> None:
    """Ask the client for the `devassist` section when it supports workspace/configuration."""
    caps = ls.client_capabilities
    if not (caps.workspace and caps.workspace.configuration):
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="devassist")])
        )
    except Exception:
        log.warning("workspace/configuration failed; keeping the current settings", exc_info=True)
        return
    if result and isinstance(result[0], dict):
        ls.apply_settings(result[0])
