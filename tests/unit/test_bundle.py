"""The bundle contract: checksums verified, a corrupt or missing bundle named in one clear line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devassist.server.bundle import BundleError, load_bundle
from tests.conftest import read_manifest


def test_tiny_bundle_verifies_and_describes_itself(tiny_bundle):
    b = load_bundle(tiny_bundle)
    m = read_manifest(tiny_bundle)
    assert {"lm", "lm_int8", "embed"} <= set(b.components)
    assert set(m["files"]) >= {"lm.onnx", "lm_int8.onnx", "embed.onnx", "tokenizer.json", "MODEL_CARD.md"}
    assert m["components"]["lm"]["parity"]["greedy_identical"] == "4/4"
    assert m["training"]["step"] > 0 and m["training"]["corpus_sha256"]


def test_one_changed_byte_is_refused_naming_the_file(bundle_copy):
    target = bundle_copy / "lm.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="lm.onnx.*sha256"):
        load_bundle(bundle_copy)


def test_serve_exits_with_one_line_naming_the_file(bundle_copy):
    target = bundle_copy / "tokenizer.json"
    target.write_text(target.read_text()[:-2] + " }")
    out = subprocess.run([sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle_copy)],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 1
    assert "tokenizer.json" in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("damage,match", [
    (lambda b: (b / "manifest.json").unlink(), "missing"),
    (lambda b: (b / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda b: (b / "embed.onnx").unlink(), "embed.onnx.*missing"),
    (lambda b: (b / "manifest.json").write_text(json.dumps({**read_manifest(b), "format_version": 99})), "format_version"),
], ids=["no-manifest", "bad-json", "missing-file", "future-format"])
def test_damaged_bundles(bundle_copy, damage, match):
    damage(bundle_copy)
    with pytest.raises(BundleError, match=match):
        load_bundle(bundle_copy)


def test_missing_folder(tmp_path):
    with pytest.raises(BundleError, match="no bundle folder"):
        load_bundle(tmp_path / "nope")
