"""`devassist.learnWorkspace` over real LSP with a tiny model: progress, hot swap, cancel, the cache, no torch."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types

from devassist.server.workspace_cache import workspace_dir
from tests.e2e.lsp_helpers import lsp_session, open_doc

pytestmark = pytest.mark.slow

LEARN = "devassist.learnWorkspace"
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma", "omega", "rho"]


def idiom_workspace(root, files: int = 12):
    """A workspace whose every function follows one idiom the tiny model has never seen."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        body = [f'"""Handlers of part {i}."""\n\nfrom registry import registry\n\n']
        for name in NAMES:
            body.append(f"\ndef handle_{name}_{i}(request):\n"
                        f'    """Handle {name}."""\n'
                        f"    payload = request.json()\n"
                        f'    registry.register("{name}", payload, retries=3, timeout=30)\n'
                        f'    return registry.respond("{name}", status=200)\n')
        (root / f"handlers_{i}.py").write_text("".join(body), encoding="utf-8")
    return root


@pytest.fixture
def cache_env(tmp_path, monkeypatch) -> dict:
    """XDG_CACHE_HOME in a temporary folder, for the server and for the test's own look-ups."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def settings(budget_s: int = 60) -> dict:
    """Settings with a short learning budget."""
    return {"learn": {"timeBudgetS": budget_s}}


async def learn(client, folder):
    """Run the command (as a task) and return it with the progress token once progress has begun."""
    task = asyncio.ensure_future(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=LEARN, arguments=[folder.as_uri()])))
    while not client.progress_reports:
        await client.wait_for_notification("$/progress")
    return task, next(iter(client.progress_reports))


async def learnt_status(client) -> str:
    """The model named by the `devassist/status` that says a learnt model is in use."""
    while not any("learnt on ws" in (s.get("message") or "") for s in client.statuses):
        await client.wait_for_notification("devassist/status")
    return [s for s in client.statuses if "learnt on ws" in (s.get("message") or "")][-1]["model"]


async def test_learning_reports_progress_swaps_the_model_and_is_picked_up_next_time(tiny_bundle, tmp_path, cache_env):
    ws = idiom_workspace(tmp_path / "ws")
    env = cache_env
    shipped = {p.name: p.read_bytes() for p in tiny_bundle.iterdir() if p.is_file()}
    async with lsp_session(tiny_bundle, settings=settings(), workspace=ws, env=env) as client:
        task, token = await learn(client, ws)
        result = await task
        assert result["ok"], result
        reports = client.progress_reports[token]
        assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
        percents = [r.percentage for r in reports if isinstance(r, types.WorkDoneProgressReport)]
        assert len(percents) >= 3 and percents == sorted(percents)
        assert any("training" in (r.message or "") for r in reports if isinstance(r, types.WorkDoneProgressReport))
        assert isinstance(reports[-1], types.WorkDoneProgressEnd)
        before, after = result["metrics"]["before"], result["metrics"]["after"]
        # A repeated idiom: the tiny model clearly learns it (held-out files, split by file).
        assert after["next_token_accuracy"] > before["next_token_accuracy"] + 3, result
        assert result["adopted"], result
        assert "now use the adapted model" in result["message"]
        cache = workspace_dir(ws)
        record = json.loads((cache / "record.json").read_text())
        assert record["adopted"] and record["metrics"]["after"] == after
        assert record["held_out_files"] and set(record["held_out_files"]) < {p.name for p in ws.iterdir()}
        assert result["bundle"] == str(cache / "bundle") and (cache / "bundle" / "manifest.json").is_file()
        assert not list(cache.glob("*.partial"))
        # The swap happened without a restart: the status names the adapted bundle, and completions still come.
        uri = (ws / "new.py").as_uri()
        open_doc(client, uri, "def handle_new(request):\n    payload = request.json()\n    registry.")
        got = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=13),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
        assert got is not None
        assert "+ws" in await learnt_status(client)
    assert {p.name: p.read_bytes() for p in tiny_bundle.iterdir() if p.is_file()} == shipped  # untouched

    # A fresh server on the same workspace picks the adapted bundle up by itself.
    async with lsp_session(tiny_bundle, workspace=ws, env=env) as client:
        assert "+ws" in await learnt_status(client)


async def test_cancel_kills_the_run_and_leaves_no_temp_folder(tiny_bundle, tmp_path, cache_env):
    ws = idiom_workspace(tmp_path / "ws")
    env = cache_env
    async with lsp_session(tiny_bundle, settings=settings(120), workspace=ws, env=env) as client:
        task, token = await learn(client, ws)
        while not any("training" in (getattr(r, "message", None) or "") for r in client.progress_reports[token]):
            await client.wait_for_notification("$/progress")
        assert list(workspace_dir(ws).glob("*.partial"))  # the run is writing its staging folders
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result = await task
        assert not result["ok"] and "cancelled" in result["message"]
        assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    cache = workspace_dir(ws)
    assert not cache.exists() or not list(cache.iterdir())
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.partial"))


async def test_without_the_training_extra_the_command_says_what_to_install(tiny_bundle, tmp_path, cache_env):
    ws = idiom_workspace(tmp_path / "ws", files=2)
    fake = tmp_path / "no-torch"
    fake.mkdir()  # the server never imports torch; the training process it starts finds this one first
    (fake / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = {**cache_env, "PYTHONPATH": str(fake)}
    async with lsp_session(tiny_bundle, workspace=ws, env=env) as client:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=LEARN, arguments=[]))
        assert not result["ok"]
        assert "pip install 'devassist[train]'" in result["message"]


async def test_a_folder_outside_the_workspace_is_refused(tiny_bundle, tmp_path, cache_env):
    ws = idiom_workspace(tmp_path / "ws", files=2)
    outside = idiom_workspace(tmp_path / "elsewhere", files=2)
    async with lsp_session(tiny_bundle, workspace=ws, env=cache_env) as client:
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=LEARN, arguments=[outside.as_uri()]))
        assert not result["ok"] and "not in the workspace folders" in result["message"]
    assert not (tmp_path / "cache").exists()
