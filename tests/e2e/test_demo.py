"""`devassist demo`: the main job prints what an editor would show, from a real server."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_prints_completions_with_latencies(tiny_bundle):
    out = subprocess.run([sys.executable, "-m", "devassist.server", "demo", "--bundle", str(tiny_bundle), "--no-color"],
                         capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("ms; completion list") == 4  # one report per cursor position in the sample
    assert "status: ready" in out.stdout and "tiny" in out.stdout
    assert "median" in out.stdout


def test_demo_with_a_corrupt_bundle_says_why(bundle_copy):
    (bundle_copy / "manifest.json").write_text("{broken")
    out = subprocess.run([sys.executable, "-m", "devassist.server", "demo", "--bundle", str(bundle_copy), "--no-color"],
                         capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert out.returncode == 1
    assert "manifest.json" in out.stderr and "not valid JSON" in out.stderr
