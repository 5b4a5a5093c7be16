"""The packaged VS Code extension in the real workbench: code-server + Playwright + Chromium.

Installs editor-client/vscode/devassist.vsix into code-server, opens a Python file in a workspace
and checks, with a screenshot of each, that a completion from the server appears, that
"devassist: Generate docstring" inserts a docstring, and that a review diagnostic shows in the
Problems panel. Screenshots go to artifacts/editor-clients/vscode/.

Needs what `bash editor-client/vscode/e2e/install.sh` installs (code-server, Node.js 24,
playwright-core, Debian's chromium) and a packaged .vsix (`npm run package`); skips without them.
DEVASSIST_TEST_CONTRACT_SERVER=1 runs the contract stand-in server instead of `devassist serve`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.editor_sample import DEF_LINE, SAMPLE, bundle  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
VSCODE_CLIENT = ROOT / "editor-client" / "vscode"
VSIX = VSCODE_CLIENT / "devassist.vsix"
E2E_HOME = Path(os.environ.get("DEVASSIST_VSCODE_E2E_HOME") or Path.home() / ".cache" / "devassist-vscode-e2e")
CODE_SERVER = E2E_HOME / "node_modules" / ".bin" / "code-server"
NODE24 = E2E_HOME / "node_modules" / "node" / "bin" / "node"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "artifacts" / "editor-clients" / "vscode"

MISSING = [
    what for what, ok in [
        (f"code-server ({CODE_SERVER})", CODE_SERVER.exists()),
        (f"Node.js 24 ({NODE24})", NODE24.exists()),
        ("playwright-core", (E2E_HOME / "node_modules" / "playwright-core").is_dir()),
        ("chromium", CHROMIUM is not None),
        (f"the packaged extension ({VSIX})", VSIX.exists()),
    ] if not ok
]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"missing {', '.join(MISSING)}: run `bash editor-client/vscode/e2e/install.sh` and `npm run package`",
)

# Where completion is asked for, as VS Code's Go to Line takes it (1-based line:column): in
# `    print(`, between `print` and `(`. Mid-line on purpose: the tiny test model answers there,
# while at the very end of the line its suggestion is empty and the server sends no item.
COMPLETION_AT = "13:10"


def server_settings(tmp_path: Path, request: pytest.FixtureRequest) -> dict:
    """The extension's settings that point it at the server under test (the bundle only when needed)."""
    if os.environ.get("DEVASSIST_TEST_CONTRACT_SERVER") == "1":
        wrapper = tmp_path / "contract-server"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "editor-client/testing/contract_server.py"}" "$@"\n')
        wrapper.chmod(0o755)
        return {"devassist.server.command": str(wrapper)}
    bundle = request.getfixturevalue("bundle")
    return {"devassist.server.pythonPath": sys.executable, "devassist.server.bundle": str(bundle)}


def run_driver(tmp_path: Path, settings: dict, artifacts: Path, expect_start_failure: bool = False,
               source: str = SAMPLE, typing: dict | None = None) -> dict:
    """Run e2e/drive.mjs on a fresh workspace; copies screenshots and logs to `artifacts`."""
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "sample.py").write_text(source)
    out = tmp_path / "out"
    config = {
        "codeServer": str(CODE_SERVER),
        "vsix": str(VSIX),
        "workspace": str(workspace),
        "file": str(workspace / "sample.py"),
        "defLine": DEF_LINE,
        "completionAt": COMPLETION_AT,
        "settings": {**BASE_SETTINGS, **settings},
        "outDir": str(out),
        "chromium": CHROMIUM,
        "playwrightFrom": str(E2E_HOME),
        "timeoutMs": 90000,
        "expectStartFailure": expect_start_failure,
        "expectReview": can_review(settings),
        "logLevel": "trace",  # with devassist.trace.server, the LSP messages land in devassist.log
        "typing": typing,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PATH": f"{NODE24.parent}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path / "home")}
    proc = subprocess.run([str(NODE24), str(VSCODE_CLIENT / "e2e" / "drive.mjs"), str(tmp_path / "config.json")],
                          env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    results_file = out / "results.json"
    assert results_file.exists(), f"the driver wrote no results (exit {proc.returncode}): {proc.stderr[-3000:]}"
    results = json.loads(results_file.read_text())

    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    for name, shot in results.get("screenshots", {}).items():
        shutil.copy(shot, artifacts / f"{name}.png")
    shutil.copy(results_file, artifacts / "results.json")
    logs = out / "code-server" / "user-data" / "logs"
    for log in [out / "code-server.log", *logs.glob("*/exthost*/devassist.devassist/devassist.log")]:
        shutil.copy(log, artifacts / log.name)
    failed = [s for s in results["steps"] if not s["ok"]]
    assert results.get("ok"), f"failed at {failed[0]['name'] if failed else '?'}: {results.get('error')}\nsee {artifacts}"
    return results


def can_review(settings: dict) -> bool:
    """Whether the configured bundle ships a `review` component (the stand-in always can)."""
    bundle = settings.get("devassist.server.bundle")
    manifest = Path(bundle) / "manifest.json" if bundle else None
    if manifest is None or not manifest.exists():
        return True
    return "review" in json.loads(manifest.read_text()).get("components", {})


BASE_SETTINGS = {
    "devassist.completion.mode": "both",
    "devassist.completion.timeBudgetMs": 5000,
    "devassist.review.threshold": 0,  # flag every function, so a diagnostic must appear
    "devassist.trace.server": "verbose",
    "editor.wordBasedSuggestions": "off",  # every list item then comes from the server
    "editor.inlineSuggest.enabled": True,
    "workbench.startupEditor": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "chat.disableAIFeatures": True,
    "workbench.tips.enabled": False,
    "security.workspace.trust.enabled": False,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "telemetry.telemetryLevel": "off",
}


def test_vscode_extension_in_code_server(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Completion, Generate docstring and a Problems entry in the real workbench, with screenshots."""
    results = run_driver(tmp_path, server_settings(tmp_path, request), ARTIFACTS)
    assert "devassist" in results["status"]
    assert results["completion"]["items"], "the completion list was empty"
    assert '"""' in results["docstring"]["after"] and results["docstring"]["after"] != results["docstring"]["before"]
    assert results["problems"] is not None, (
        "the test bundle has no `review` component, so no review diagnostic can appear: "
        "give the bundle fixture one (devassist review calibrate) or set DEVASSIST_TEST_BUNDLE")
    assert any("devassist" in row for row in results["problems"])
    for name in ("completion", "docstring", "problems"):
        assert (ARTIFACTS / f"{name}.png").exists()


# The typing check: a new line under `data = scale(...)` in main(), half a word at a statement start.
TYPING_SOURCE = SAMPLE.rsplit("    print(", 1)[0].rstrip("\n") + "\n"
TYPING = {"line": TYPING_SOURCE.count("\n"), "word": "pri"}
# Ghost text must show this soon after the last keystroke (the target on an idle machine).
GHOST_LIMIT_MS = int(os.environ.get("DEVASSIST_GHOST_LIMIT_MS", "500"))


def test_vscode_ghost_text_while_typing(tmp_path: Path) -> None:
    """Half a word typed at a statement start, review on: ghost text soon after, Tab inserts exactly it."""
    settings = {
        "devassist.server.pythonPath": sys.executable,
        # The shipped model, as a person gets it, with its default time budget and mode (inline).
        "devassist.server.bundle": os.environ.get("DEVASSIST_TEST_BUNDLE") or str(ROOT / "models" / "default"),
        "devassist.completion.mode": "inline",
        "devassist.completion.timeBudgetMs": 300,
    }
    results = run_driver(tmp_path, settings, ARTIFACTS.parent / "vscode-typing", source=TYPING_SOURCE, typing=TYPING)
    typed, shown = results["typing"]["typedLine"], results["typing"]["shown"]
    context = json.dumps(results, indent=1)[:3000]
    assert typed.strip() == TYPING["word"], context
    assert shown.strip(), f"blank ghost text: {context}"
    # Accepting puts exactly the shown text after the typed word (its first line on this line).
    assert results["accepted"]["lineAfter"] == typed + shown.split("\n")[0], context
    assert results["typing"]["ghostMs"] <= GHOST_LIMIT_MS, (
        f"ghost text took {results['typing']['ghostMs']} ms after the last keystroke (limit {GHOST_LIMIT_MS} ms)")
    for name in ("typing-ghost-text", "typing-accepted"):
        assert (ARTIFACTS.parent / "vscode-typing" / f"{name}.png").exists()
    # The Output channel of a normal session: the server's lines at their level, no [error].
    output = (ARTIFACTS.parent / "vscode-typing" / "devassist.log").read_text()
    assert "[info]" in output and "[error]" not in output, output[-3000:]


def test_vscode_reports_a_bad_bundle_once(tmp_path: Path) -> None:
    """A bundle folder that does not exist: one notification that names it and the fix, no restarts."""
    missing = tmp_path / "no-such-bundle"
    settings = {"devassist.server.pythonPath": sys.executable, "devassist.server.bundle": str(missing)}
    if os.environ.get("DEVASSIST_TEST_CONTRACT_SERVER") == "1":
        settings = {**server_settings(tmp_path, None), "devassist.server.bundle": str(missing)}  # type: ignore[arg-type]
    results = run_driver(tmp_path, settings, ARTIFACTS.parent / "vscode-bad-bundle", expect_start_failure=True)
    toasts = [t for t in results["startFailure"]["toasts"] if "devassist" in t]
    assert len(toasts) == 1, f"expected one devassist notification, got {toasts}"
    assert str(missing) in toasts[0] and "devassist.server.bundle" in toasts[0], toasts[0]
