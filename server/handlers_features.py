"""LSP registrations of the docstring, review and test-data features: conversion only.

Each `register_*` attaches its handlers to the server; the feature classes in `features/` do the
work and know nothing of LSP. A feature whose bundle component is missing is simply not offered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types

log = logging.getLogger("devassist")

DOCSTRING_COMMAND = "devassist.generateDocstring"
SYNTH_COMMAND = "devassist.synthesizeTestData"
SUPPRESS_COMMAND = "devassist.suppressReview"
LEARN_COMMAND = "devassist.learnWorkspace"
VISIBLE_RANGES = "devassist/visibleRanges"  # client -> server: the lines on screen (review scores them first)


def _position(arg: Any) -> tuple[int, int]:
    """(line, character) from a Position object or its JSON."""
    if isinstance(arg, dict):
        return int(arg["line"]), int(arg["character"])
    return int(arg.line), int(arg.character)


def _doc(server, uri: str):
    """The open document, or None."""
    return server.open_document(uri)


def snippet_edits_supported(ls) -> bool:
    """Whether the client applies snippets inside workspace edits (`workspace.workspaceEdit.snippetEditSupport`)."""
    ws = getattr(ls.client_capabilities, "workspace", None)
    edit_caps = getattr(ws, "workspace_edit", None) if ws is not None else None
    return bool(getattr(edit_caps, "snippet_edit_support", False))


def register_docstring(server) -> None:
    """`devassist.generateDocstring` and the Generate/Update docstring code actions."""
    from devassist.server.features.docstring import DocstringError, DocstringFeature

    feature = DocstringFeature(server.bundle, server.lm)
    server.extra_features["docstring"] = feature

    @server.command(DOCSTRING_COMMAND)
    async def generate_docstring(ls, *args: Any):
        if not args or len(args) < 2:
            ls.warn("devassist.generateDocstring needs [uri, position]")
            return {"applied": False, "message": "needs [uri, position]"}
        uri = args[0] if isinstance(args[0], str) else args[0].get("uri")
        doc = _doc(ls, uri)
        if doc is None:
            ls.warn(f"Generate docstring: {uri} is not open")
            return {"applied": False, "message": "document not open"}
        line, character = _position(args[1])
        text, version = doc.source, doc.version
        cancel = threading.Event()
        ls.status("busy", "writing a docstring")
        try:
            # The completion lane: a person is waiting on this command, and review yields to it at
            # its next check instead of finishing its current run first (1.6 s measured behind one).
            edit = await ls.run_model(feature.edit_for, text, line, character, ls.settings.docstring.style,
                                      version, None, cancel.is_set, ls.settings.docstring.summary, cancel_event=cancel)
        except DocstringError as exc:
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=str(exc)))
            return {"applied": False, "message": str(exc)}
        finally:
            ls.status("ready")
        if _doc(ls, uri) is None or _doc(ls, uri).version != version:
            msg = "The document changed while the docstring was written; try again."
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=msg))
            return {"applied": False, "message": msg}
        if not edit.changed:
            return {"applied": False, "message": "the docstring is already up to date"}
        where = types.Range(start=types.Position(*edit.start), end=types.Position(*edit.end))
        # Placeholders ("TODO: ...") become tab stops the editor selects, where the client takes
        # snippets in workspace edits (LSP 3.18 snippetEditSupport); plain text otherwise.
        as_snippet = edit.has_placeholder and snippet_edits_supported(ls)
        text_edit = (types.SnippetTextEdit(range=where, snippet=types.StringValue(value=edit.snippet)) if as_snippet
                     else types.TextEdit(range=where, new_text=edit.new_text))
        ws_edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=[text_edit])])
        result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=ws_edit, label=edit.title))
        return {"applied": bool(result and result.applied), "title": edit.title, "ms": round(edit.elapsed_ms, 1),
                "summarySource": edit.summary_source, "placeholder": edit.has_placeholder, "snippet": as_snippet}

    server.code_action_providers.append(lambda ls, params, text: [
        types.CodeAction(
            title=a.title, kind=types.CodeActionKind.RefactorRewrite,
            command=types.Command(title=a.title, command=DOCSTRING_COMMAND,
                                  arguments=[params.text_document.uri, {"line": a.line, "character": a.character}]))
        for a in feature.actions_for(text, params.range.start.line, params.range.end.line)
    ])


def register_review(server) -> None:
    """Review diagnostics: pushed on open/save/change (debounced), pulled on request, suppressible."""
    from devassist.server.features.review import ReviewFeature, fix_code_action, is_python_document, suppress_code_action
    from devassist.server.features.review.scheduler import ReviewScheduler

    if not ReviewFeature.available(server.bundle):
        log.info("bundle %s has no review component: review diagnostics are off", server.bundle.name)
        return

    def coverage(uri: str, version: int, report) -> None:
        if report.functions:
            cut = " (the first 1 MB)" if report.truncated_bytes else ""
            server.status("ready", f"reviewed {report.scored} of {report.functions} functions{cut}")

    scheduler = ReviewScheduler(ReviewFeature(server.bundle, server.lm, background=True), executor=server.background,
                                gate=server.gate, on_report=coverage)
    server.extra_features["review"] = scheduler

    def pull_supported(ls) -> bool:
        td = ls.client_capabilities.text_document
        return bool(td and td.diagnostic)

    def refresh_supported(ls) -> bool:
        ws = ls.client_capabilities.workspace
        return bool(ws and ws.diagnostics and ws.diagnostics.refresh_support)

    def publish(uri: str, version: int, diagnostics: list) -> None:
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=version,
                                                                                diagnostics=diagnostics))

    def refresh() -> None:
        try:
            server.workspace_diagnostic_refresh(None)
        except Exception:  # a client that cannot take the request still pulls on its next change
            log.debug("workspace/diagnostic/refresh failed", exc_info=True)

    def on_text(ls, uri: str, immediate: bool) -> None:
        doc = _doc(ls, uri)
        if doc is None or not is_python_document(uri, doc.language_id):
            return
        version = doc.version or 0
        if pull_supported(ls):
            scheduler.seen(uri, version)  # the client pulls; a newer version still cancels old work
            return
        text = ls.text_of(uri)  # None for a document too large to review (the user is told once)
        if text is not None:
            scheduler.schedule(uri, version, text, ls.settings.review, publish, delay_s=0.0 if immediate else None)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def text_document_did_open(ls, params: types.DidOpenTextDocumentParams):
        on_text(ls, params.text_document.uri, immediate=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def text_document_did_change(ls, params: types.DidChangeTextDocumentParams):
        edited = [(c.range.start.line, c.range.start.line + c.text.count("\n")) for c in params.content_changes
                  if getattr(c, "range", None) is not None]
        if edited:
            scheduler.edited(params.text_document.uri, edited)
        on_text(ls, params.text_document.uri, immediate=False)

    @server.feature(VISIBLE_RANGES)
    def visible_ranges(ls, params):
        """`devassist/visibleRanges` {textDocument: {uri}, ranges: [Range]}: lines on screen."""
        try:
            uri = params["textDocument"]["uri"]
            ranges = [(int(r["start"]["line"]), int(r["end"]["line"])) for r in params["ranges"]]
        except (KeyError, TypeError, ValueError):
            log.debug("%s: ignoring malformed params %r", VISIBLE_RANGES, params)
            return
        scheduler.visible(uri, ranges)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def text_document_did_save(ls, params: types.DidSaveTextDocumentParams):
        on_text(ls, params.text_document.uri, immediate=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def text_document_did_close(ls, params: types.DidCloseTextDocumentParams):
        scheduler.close(params.text_document.uri)
        if not pull_supported(ls):
            publish(params.text_document.uri, 0, [])

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC,
                    types.DiagnosticOptions(identifier="devassist", inter_file_dependencies=False,
                                            workspace_diagnostics=False))
    async def text_document_diagnostic(ls, params: types.DocumentDiagnosticParams):
        doc = _doc(ls, params.text_document.uri)
        if doc is None or not is_python_document(doc.uri, doc.language_id):
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        text = ls.text_of(doc.uri)  # None for a document too large to review
        if text is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        stored = await scheduler.pull(doc.uri, doc.version or 0, text, ls.settings.review,
                                      refresh if refresh_supported(ls) else None)
        if stored is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        if params.previous_result_id == stored.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=stored.result_id)
        return types.RelatedFullDocumentDiagnosticReport(items=stored.diagnostics, result_id=stored.result_id)

    def review_actions(ls, params: types.CodeActionParams, text: str) -> list:
        actions = []
        for diag in params.context.diagnostics:
            if diag.source == "devassist":
                for make in (fix_code_action, suppress_code_action):  # the fix first: it is the preferred one
                    action = make(params.text_document.uri, text, diag)
                    if action is not None:
                        actions.append(action)
        return actions

    server.code_action_providers.append(review_actions)


def register_synth(server) -> None:
    """`devassist.synthesizeTestData`: train on a fixture in a subprocess, with $/progress and cancel.

    Arguments: `[uri, rows]` or `[{"uri", "rows", "seed", "model", "where", "constraints", "overwrite"}]`.
    """
    from devassist.server.features.synth import SynthesisError, SynthesisFeature

    feature = SynthesisFeature()
    option_names = ("seed", "model", "where", "constraints", "overwrite")

    @server.command(SYNTH_COMMAND)
    async def synthesize_test_data(ls, *args: Any):
        if not args or not isinstance(args[0], (str, dict)):
            ls.warn("devassist.synthesizeTestData needs [uri, rows] or [{uri, rows, seed, model, where, constraints}]")
            return {"ok": False, "message": "needs [uri, rows] or [{uri, rows, ...}]"}
        request = args[0] if isinstance(args[0], dict) else {"uri": args[0], "rows": args[1] if len(args) > 1 else 1000}
        uri, rows = request.get("uri"), request.get("rows", 1000)
        options = {k: request[k] for k in option_names if request.get(k) is not None}
        unknown = sorted(set(request) - {"uri", "rows", *option_names})
        folders = ls.workspace_roots()
        if unknown:
            message = f"devassist.synthesizeTestData: unknown arguments {unknown}; known: uri, rows, {', '.join(option_names)}"
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            return {"ok": False, "message": message}
        progress = await Progress.begin(ls, "devassist: synthesizing test data")
        ls.status("busy", "training a synthesizer")
        try:
            out = await feature.run(uri, rows, folders, progress.report, progress.cancelled, **options)
        except SynthesisError as exc:
            progress.end(str(exc))
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=str(exc)))
            return {"ok": False, "message": str(exc)}
        finally:
            ls.status("ready")
        progress.end(f"wrote {out.name}")
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info,
                                                       message=f"devassist wrote {rows} synthetic rows to {out}"))
        return {"ok": True, "path": str(out)}


class Progress:
    """One `$/progress` run for a command: created, begun as cancellable, reported, ended."""

    def __init__(self, ls, token: str):
        self.ls, self.token = ls, token

    @classmethod
    async def begin(cls, ls, title: str) -> "Progress":
        """window/workDoneProgress/create, then begin at 0 %."""
        token = str(uuid.uuid4())
        try:
            await ls.work_done_progress.create_async(token)
        except Exception:  # the client may not support server-initiated progress
            pass
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0))
        return cls(ls, token)

    def report(self, percent: int, message: str) -> None:
        """$/progress report."""
        self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message,
                                                                                   percentage=int(percent)))

    def cancelled(self) -> bool:
        """Whether the client sent window/workDoneProgress/cancel for this token."""
        future = self.ls.work_done_progress.tokens.get(self.token)
        return bool(future is not None and future.cancelled())

    def end(self, message: str) -> None:
        """$/progress end."""
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


def register_learn(server) -> None:
    """`devassist.learnWorkspace [folderUri?]`: fine-tune on the workspace in a subprocess, with
    $/progress and cancel; switch completions to the result when it measured better."""
    from devassist.server.features.learn import LearnError, WorkspaceLearner, workspace_path

    feature = WorkspaceLearner()
    running: set = set()  # folders being learnt: a second request for one is refused

    @server.command(LEARN_COMMAND)
    async def learn_workspace(ls, *args: Any):
        arg = args[0] if args else None
        arg = arg.get("uri") if isinstance(arg, dict) else arg
        try:
            if arg is not None and not isinstance(arg, str):
                raise LearnError("devassist.learnWorkspace takes a workspace folder URI (or nothing: the first folder)")
            folder = workspace_path(arg, ls.workspace_roots())
            if folder in running:
                raise LearnError(f"{folder.name} is already being learnt")
        except LearnError as exc:
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=str(exc)))
            return {"ok": False, "message": str(exc)}
        running.add(folder)
        progress = await Progress.begin(ls, f"devassist: learning {folder.name}")
        try:
            record = await feature.run(folder, ls.base_bundle.root, ls.settings.learn.time_budget_s,
                                       progress.report, progress.cancelled)
            before, after = record["metrics"]["before"], record["metrics"]["after"]
            numbers = (f"useful suggestions on {len(record['held_out_files'])} held-out files "
                       f"{before['useful_pct']:.1f}% -> {after['useful_pct']:.1f}%, next-token accuracy "
                       f"{before['next_token_accuracy']:.1f}% -> {after['next_token_accuracy']:.1f}%")
            if record["adopted"]:
                await ls.use_bundle(Path(record["bundle"]))
                message = f"devassist learnt {folder.name}: {numbers}; completions now use the adapted model"
            else:
                message = f"devassist learnt {folder.name}, but it was not better ({numbers}); the model stays"
        except Exception as exc:  # LearnError, or a learnt bundle that fails to load
            message = str(exc) if isinstance(exc, LearnError) else f"learning {folder.name} failed: {exc}"
            progress.end(message)
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            return {"ok": False, "message": message}
        finally:
            running.discard(folder)
        progress.end(message)
        ls.status("ready", f"using the model learnt on {folder.name}" if record["adopted"] else None)
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))
        return {"ok": True, "adopted": record["adopted"], "message": message, "metrics": record["metrics"],
                "bundle": record["bundle"] if record["adopted"] else None}


def register_code_actions(server) -> None:
    """One textDocument/codeAction handler that asks every feature for its actions."""

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite,
                                                               types.CodeActionKind.QuickFix]))
    def text_document_code_action(ls, params: types.CodeActionParams):
        doc = _doc(ls, params.text_document.uri)
        if doc is None:
            return []
        started = time.perf_counter()
        actions: list = []
        for provider in ls.code_action_providers:
            try:
                actions.extend(provider(ls, params, doc.source))
            except Exception:  # one feature's failure must not hide the others' actions
                log.exception("code action provider failed")
        log.debug("code actions in %.1f ms", (time.perf_counter() - started) * 1000)
        return actions


def _guarded(register):
    """Run a feature's registration; a broken feature is logged and left out, not fatal."""

    def run(server) -> None:
        try:
            register(server)
        except Exception:
            log.exception("could not enable %s", register.__name__)

    run.__name__ = register.__name__
    return run


REGISTRARS: list = [_guarded(register_docstring), _guarded(register_review), _guarded(register_synth),
                    _guarded(register_learn), register_code_actions]
