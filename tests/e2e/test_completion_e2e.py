"""The whole pipeline: corpus -> tiny model -> ONNX bundle -> real server over stdio -> completions."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from tests.e2e.lsp_helpers import lsp_session, open_doc

pytestmark = pytest.mark.slow

SOURCE = 'import math\n\n\ndef area_of_circle(radius):\n    """Area of a circle."""\n    return math.'


def doc_pos(text: str) -> types.Position:
    """The position at the end of `text`."""
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1]))


@pytest.mark.parametrize("editor", ["visual-studio-code", "neovim"])
async def test_completion_list_and_inline_come_from_the_model(tiny_bundle, tmp_path, editor):
    # A tiny model is rarely confident: show every token it generates.
    async with lsp_session(tiny_bundle, editor=editor, settings={"completion": {"minTokenProbability": 0}}) as client:
        uri = (tmp_path / "shapes.py").as_uri()
        open_doc(client, uri, SOURCE)
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=doc_pos(SOURCE)))
        assert result is not None and result.items, "the server returned no completion item"
        item = result.items[0]
        assert item.text_edit is not None and item.text_edit.new_text.strip()
        assert item.filter_text == item.text_edit.new_text
        if editor == "visual-studio-code":
            inline = await client.text_document_inline_completion_async(types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=doc_pos(SOURCE),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
            assert inline.items and inline.items[0].insert_text.strip()


async def test_status_notification_names_the_model(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle) as client:
        params = await asyncio.wait_for(client.wait_for_notification("devassist/status"), timeout=30)
        state = params["state"] if isinstance(params, dict) else params.state
        model = params["model"] if isinstance(params, dict) else params.model
        assert state == "ready" and "tiny" in model


async def test_bad_positions_and_unopened_documents_get_empty_results(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle) as client:
        uri = (tmp_path / "a.py").as_uri()
        open_doc(client, uri, "")
        cases = [
            (uri, types.Position(line=0, character=0)),  # empty document
            (uri, types.Position(line=50, character=3)),  # past the end
            ((tmp_path / "never_opened.py").as_uri(), types.Position(line=0, character=0)),
        ]
        for u, pos in cases:
            res = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=u), position=pos))
            assert res is None or not res.items
        md = (tmp_path / "notes.md").as_uri()
        open_doc(client, md, "# title\nsome text", language_id="markdown")
        res = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=md), position=types.Position(line=1, character=4)))
        assert res is None or not res.items
        # still alive and useful afterwards
        open_doc(client, uri, SOURCE, version=2)
        res = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=doc_pos(SOURCE)))
        assert res is not None


async def test_burst_of_requests_with_cancellations_keeps_the_server_up(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle) as client:
        uri = (tmp_path / "b.py").as_uri()
        open_doc(client, uri, SOURCE)
        pos = doc_pos(SOURCE)
        tasks = []
        for i in range(1000):
            msg_id = f"burst-{i}"
            fut = client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION, types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=pos), msg_id=msg_id)
            tasks.append(asyncio.wrap_future(fut))
            if i % 2 == 0:  # what an editor does when the user keeps typing
                client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=120)
        answered = [d for d in done if not isinstance(d, BaseException)]
        assert len(answered) >= 1
        final = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
        assert final is not None


HALF_WORD = "import math\n\n\ndef area_of_circle(radius):\n    return math.pi * ra"


async def test_completion_list_offers_several_words_that_start_with_the_typed_characters(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle, settings={"completion": {"minTokenProbability": 0}}) as client:
        uri = (tmp_path / "half.py").as_uri()
        open_doc(client, uri, HALF_WORD)
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=doc_pos(HALF_WORD)))
        texts = [item.text_edit.new_text for item in result.items]
        assert len(texts) >= 3 and len(set(texts)) == len(texts), texts
        assert all(t.startswith("ra") and len(t) > 2 for t in texts), texts  # the typed word is kept, then continued
        assert all(item.text_edit.range.start.character == len("    return math.pi * ") for item in result.items)
        assert [item.sort_text for item in result.items] == sorted(item.sort_text for item in result.items)
        assert all(item.filter_text == item.text_edit.new_text for item in result.items)


def open_pulled(client, path):
    """Open a small Python file in a pulling client; (uri, the refresh event, its diagnostic params)."""
    refreshed = asyncio.Event()
    client.protocol.fm.features[types.WORKSPACE_DIAGNOSTIC_REFRESH] = lambda *args: refreshed.set()
    uri = path.as_uri()
    open_doc(client, uri, SOURCE + "pi\n\n\ndef twice(x):\n    return x * 2\n")
    return uri, refreshed, types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))


async def test_pulled_diagnostics_answer_at_once_and_a_refresh_follows(tiny_bundle, tmp_path):
    from tests.e2e.lsp_helpers import pulling_capabilities

    async with lsp_session(tiny_bundle, capabilities=pulling_capabilities()) as client:
        uri, refreshed, params = open_pulled(client, tmp_path / "review.py")
        first = await client.text_document_diagnostic_async(params)
        assert not first.items  # answered before any scoring: nothing reviewed yet
        await asyncio.wait_for(refreshed.wait(), timeout=60)
        second = await client.text_document_diagnostic_async(params)
        assert second.result_id
        third = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri), previous_result_id=second.result_id))
        assert third.kind == "unchanged" and third.result_id == second.result_id


async def test_visible_ranges_are_taken_and_malformed_ones_ignored(tiny_bundle, tmp_path):
    from tests.e2e.lsp_helpers import pulling_capabilities

    async with lsp_session(tiny_bundle, capabilities=pulling_capabilities()) as client:
        uri, refreshed, params = open_pulled(client, tmp_path / "seen.py")
        for bad in (None, {}, {"textDocument": {"uri": uri}, "ranges": [{"start": {"line": "x"}}]}):
            client.protocol.notify("devassist/visibleRanges", bad)
        client.protocol.notify("devassist/visibleRanges", {"textDocument": {"uri": uri}, "ranges": [
            {"start": {"line": 4, "character": 0}, "end": {"line": 6, "character": 0}}]})
        await client.text_document_diagnostic_async(params)
        await asyncio.wait_for(refreshed.wait(), timeout=60)  # the review ran, the server stayed up
        assert (await client.text_document_diagnostic_async(params)).result_id
