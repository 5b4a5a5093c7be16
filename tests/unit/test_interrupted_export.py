"""Killing `devassist export` or `devassist finetune` at any moment leaves nothing half-made.

The test reads the command's progress lines and signals it right after the N-th one, so each
case stops the export at a known stage (no sleeps). Afterwards OUT is either the bundle it held
before or the complete new one, `serve` refuses whatever else is there, and no partial or temp
folder survives (TMPDIR is a folder of the test's own, checked empty).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devassist.server.bundle import BundleError, load_bundle
from tests.conftest import read_manifest

pytestmark = pytest.mark.slow

EXPORT_ARGS = ["--quantize", "int8", "--embed", "none", "--checkpoint"]
# The export's progress lines, in order (export/cli.py): a kill after each stops a different stage.
STAGES = ["exporting lm.onnx", "lm.onnx: fp32 parity", "lm_int8.onnx: int8 parity", "checkpoint: fp16",
          "sealing manifest.json", "publishing", "bundle "]


def run_and_signal(argv: list[str], when, sig: int, tmpdir: Path) -> tuple[int, list[str], str]:
    """Run a devassist command; send `sig` once `when(lines read so far)` is true (None: never).

    Returns (exit code, the stdout lines read, stderr).
    """
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "devassist.server", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    signalled = False
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if when is not None and not signalled and when(lines):
            proc.send_signal(sig)
            signalled = True
    _, err = proc.communicate(timeout=300)
    return proc.returncode, lines, err


def after(n: int):
    """A `when` for `run_and_signal`: right after the n-th line."""
    return lambda lines: len(lines) == n


def leftovers(folder: Path) -> list[str]:
    """Names in `folder` that an export or fine-tune leaves only when it was cut short."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial") or p.name.startswith(".export-"))


def temp_leftovers(tmpdir: Path) -> list[str]:
    """What a run left in its TMPDIR, but onnxruntime 1.32's telemetry session id `.ses` (a file
    it writes on import, not ours: issue 19 item 5)."""
    return sorted(p.name for p in tmpdir.iterdir() if p.name != ".ses")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_run) -> Path:
    """An uninterrupted export of the tiny run: the complete bundle every case is compared with."""
    out = tmp_path_factory.mktemp("reference") / "bundle"
    code, lines, err = run_and_signal(["export", str(tiny_run), "--out", str(out), *EXPORT_ARGS], None, 0,
                                      out.parent / "tmp")
    assert code == 0, err
    assert [next(i for i, s in enumerate(STAGES) if line.startswith(s)) for line in lines] == list(range(len(STAGES)))
    return out


@pytest.mark.parametrize("after_line,sig", [
    (1, signal.SIGINT), (2, signal.SIGTERM), (3, signal.SIGINT), (4, signal.SIGTERM), (5, signal.SIGINT),
    (6, signal.SIGTERM), (7, signal.SIGINT),
], ids=[f"{s.split(':')[0].split()[0]}-{n}" for n, s in enumerate(STAGES, 1)])
def test_an_interrupted_export_leaves_the_old_bundle_or_the_whole_new_one(tmp_path, tiny_run, reference, after_line, sig):
    out = tmp_path / "bundle"
    shutil.copytree(reference, out)  # the bundle from an earlier export, which OUT must not lose
    old = read_manifest(out)
    (tmp_path / "bundle.partial").mkdir()  # a stale partial folder, as SIGKILL leaves one
    (tmp_path / "bundle.partial" / "lm.onnx").write_bytes(b"half")
    code, lines, err = run_and_signal(["export", str(tiny_run), "--out", str(out), *EXPORT_ARGS], after(after_line),
                                      sig, tmp_path / "tmp")
    assert len(lines) >= after_line
    assert leftovers(tmp_path) == [] and temp_leftovers(tmp_path / "tmp") == []
    now = read_manifest(out)
    load_bundle(out)  # whichever it is, it is whole
    if now["created"] == old["created"] and now["files"] == old["files"]:
        assert code == 130 and "interrupted by SIG" in err.strip().splitlines()[-1] and "Traceback" not in err, \
            (code, err[-2000:])  # one exit 1 here (under load, 2026-12-02) left no message to go on
    else:  # the new bundle was published before the signal: complete, like the reference (a SIGINT
        # while the interpreter shuts down gets Python's own "Exception ignored" report, no more)
        assert set(now["components"]) == set(read_manifest(reference)["components"])
        assert set(now["files"]) == set(old["files"])
        assert after_line >= STAGES.index("publishing") + 1


def test_a_killed_export_leaves_only_a_partial_folder_that_serve_refuses_and_the_next_run_removes(tmp_path, tiny_run):
    out = tmp_path / "bundle"
    argv = ["export", str(tiny_run), "--out", str(out), *EXPORT_ARGS]
    code, _, _ = run_and_signal(argv, after(2), signal.SIGKILL, tmp_path / "tmp")
    assert code == -signal.SIGKILL and not out.exists()
    assert leftovers(tmp_path) == ["bundle.partial"]
    with pytest.raises(BundleError, match="unfinished bundle"):
        load_bundle(tmp_path / "bundle.partial")
    code, _, err = run_and_signal(argv, after(1), signal.SIGINT, tmp_path / "tmp2")
    assert code == 130, err
    assert leftovers(tmp_path) == [] and not out.exists()


def test_export_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, tiny_run):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    code, lines, err = run_and_signal(["export", str(tiny_run), "--out", str(mine), *EXPORT_ARGS], None, 0,
                                      tmp_path / "tmp")
    assert code == 1 and lines == [] and "not a devassist bundle" in err
    assert (mine / "notes.txt").read_text() == "mine\n" and leftovers(tmp_path) == []


def test_an_interrupted_finetune_removes_its_work_and_partial_bundle(tmp_path, tiny_bundle):
    from tests.conftest import write_sources

    repo = write_sources(tmp_path / "repo", copies=10)
    out = tmp_path / "mine"
    argv = ["finetune", "--bundle", str(tiny_bundle), "--source", str(repo), "--out", str(out),
            "--max-steps", "5", "--eval-tokens", "200"]
    code, lines, err = run_and_signal(argv, lambda lines: lines[-1].startswith("lm.onnx: fp32 parity"),
                                      signal.SIGTERM, tmp_path / "tmp")
    assert code == 130, err
    assert any(line.startswith("lm.onnx: fp32 parity") for line in lines), lines
    assert not out.exists() and leftovers(tmp_path) == [] and temp_leftovers(tmp_path / "tmp") == []
    assert "interrupted by SIGTERM" in err.strip().splitlines()[-1] and "Traceback" not in err
