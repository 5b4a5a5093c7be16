"""Headless Neovim (0.7+) with editor-client/neovim's Lua setup against the real server.

One session: open a Python file, get a completion item from the model, run the docstring
command through its key map and see the buffer change, receive a review diagnostic, and restart
the server with :DevassistRestart. The
Lua side (editor-client/neovim/tests/e2e.lua) waits on LSP events with vim.wait and writes what
it saw to a JSON file that this test reads.

Skips only when `nvim` is not installed. DEVASSIST_TEST_CONTRACT_SERVER=1 runs the contract
stand-in (editor-client/testing/contract_server.py) instead of `devassist serve`, for debugging
the client while the server is broken.
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
NEOVIM_CLIENT = ROOT / "editor-client" / "neovim"
NVIM = shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed")

# Zero-based (line, character) of the completion request: in `    print(`, between `print` and `(`.
# Mid-line on purpose: the tiny test model answers there, while at the very end of the line its
# suggestion is empty and the server (rightly) sends no item.
COMPLETION_POS = (12, 9)


@pytest.fixture
def server_cmd(request: pytest.FixtureRequest) -> list[str]:
    """The command that starts the server under test (the bundle is built only when needed)."""
    if os.environ.get("DEVASSIST_TEST_CONTRACT_SERVER") == "1":
        return [sys.executable, str(ROOT / "editor-client" / "testing" / "contract_server.py"), "serve"]
    bundle = request.getfixturevalue("bundle")
    return [sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle)]


def bundle_can_review(server_cmd: list[str]) -> bool:
    """Whether the bundle on the command line ships a `review` component (the stand-in always can)."""
    if "--bundle" not in server_cmd:
        return True
    manifest = Path(server_cmd[server_cmd.index("--bundle") + 1]) / "manifest.json"
    return not manifest.exists() or "review" in json.loads(manifest.read_text()).get("components", {})


def run_nvim(tmp_path: Path, server_cmd: list[str], timeout_s: float = 150) -> tuple[dict, str]:
    """Run the Lua e2e script; returns its JSON results and the LSP log (for failure messages)."""
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "pyproject.toml").write_text("[project]\nname = 'sample'\n")
    source = workspace / "sample.py"
    source.write_text(SAMPLE)
    out = tmp_path / "results.json"
    env = {
        **os.environ,
        "DEVASSIST_E2E_CMD": json.dumps(server_cmd),
        "DEVASSIST_E2E_FILE": str(source),
        "DEVASSIST_E2E_OUT": str(out),
        "DEVASSIST_E2E_DEF_LINE": str(DEF_LINE),
        "DEVASSIST_E2E_COMPLETION_POS": "%d:%d" % COMPLETION_POS,
        "DEVASSIST_E2E_TIMEOUT_MS": "60000",
        "DEVASSIST_E2E_NO_REVIEW": "0" if bundle_can_review(server_cmd) else "1",
        # Keep Neovim's state (and the LSP log) inside the test's folder.
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    cmd = [
        NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n",
        "--cmd", f"set runtimepath^={NEOVIM_CLIENT}",
        "-c", f"luafile {NEOVIM_CLIENT / 'tests' / 'e2e.lua'}",
    ]
    proc = subprocess.run(cmd, cwd=workspace, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout_s)
    log = ""
    for candidate in (tmp_path / "cache" / "nvim" / "lsp.log", tmp_path / "state" / "nvim" / "lsp.log"):
        if candidate.exists():
            log += candidate.read_text(errors="replace")[-4000:]
    if not out.exists():
        pytest.fail(f"nvim wrote no results (exit {proc.returncode})\nstdout: {proc.stdout[-2000:]}\n"
                    f"stderr: {proc.stderr[-2000:]}\nlsp.log: {log}")
    return json.loads(out.read_text()), log


def test_neovim_session_against_server(tmp_path: Path, server_cmd: list[str]) -> None:
    """Completion, docstring via the key map, and a review diagnostic in one headless session."""
    results, log = run_nvim(tmp_path, server_cmd)
    context = f"\nresults: {json.dumps(results, indent=1)[:4000]}\nlsp.log tail: {log[-3000:]}"
    assert results["ok"], f"the Neovim session failed: {results.get('error')}{context}"
    assert results["filetype"] == "python"
    assert results["keymap"], "the docstring key map was not set on attach"
    assert results["status"]["state"] in ("starting", "ready", "busy"), context

    items = results["completion"]
    assert items and any(item["text"].strip() for item in items), f"no completion item from the server{context}"

    before, after = results["lines_before"], results["lines_after"]
    assert after != before, f"the docstring command did not change the buffer{context}"
    added = [line for line in after if line not in before]
    assert any('"""' in line or "'''" in line for line in added), f"no docstring inserted: {added}{context}"
    def_index = after.index("def scale(values, factor):")
    assert after[def_index + 1].strip().startswith(('"""', "'''", 'r"""')), f"docstring not under the def: {after}"

    assert results.get("restarted"), "no new server after :DevassistRestart"
    assert not results.get("diagnostics_skipped"), (
        "the test bundle has no `review` component, so no review diagnostic can appear: "
        "give the bundle fixture one (devassist review calibrate) or set DEVASSIST_TEST_BUNDLE")
    diagnostics = results["diagnostics"]
    assert diagnostics and all(d["message"] for d in diagnostics), context
