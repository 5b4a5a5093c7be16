"""Bundles `serve` must refuse though every checksum matches: unfinished, incomplete or malformed.

Each case damages a private copy of the tiny bundle, re-seals the checksums so that only the new
checks can catch it, and runs the real `devassist serve`: one line naming the file, exit 1, no
traceback, nothing on stdout (the protocol channel).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devassist.server.bundle import MANIFEST, BundleError, load_bundle, sha256_file
from tests.conftest import read_manifest


def reseal(bundle: Path) -> None:
    """Recompute every listed file's checksum and size, as a careless tool would after an edit."""
    manifest = read_manifest(bundle)
    for name in manifest["files"]:
        path = bundle / name
        manifest["files"][name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2))


def edit_manifest(bundle: Path, change) -> None:
    """Apply `change(manifest)` to the bundle's manifest in place."""
    manifest = read_manifest(bundle)
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2))


def garbage_onnx(bundle: Path) -> Path:
    """The served LM replaced by random bytes of the same length."""
    target = bundle / "lm_int8.onnx"
    rng = random.Random(19)
    target.write_bytes(bytes(rng.randrange(256) for _ in range(target.stat().st_size)))
    return target


def cut_in_half(name: str):
    """A damage that keeps the first half of a bundle file (a copy stopped by a full disk)."""
    def damage(bundle: Path) -> Path:
        target = bundle / name
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        return target
    return damage


def unloadable_onnx(bundle: Path) -> Path:
    """Well-formed ONNX protobuf whose graph onnxruntime rejects (an output nothing produces)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([], "broken", [], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])])
    target = bundle / "lm_int8.onnx"
    target.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    assert onnx.load_from_string(target.read_bytes()).graph.output[0].name == "logits"
    return target


def not_a_tokenizer(bundle: Path) -> Path:
    """tokenizer.json that is valid JSON but no tokenizer."""
    target = bundle / "tokenizer.json"
    target.write_text(json.dumps({"version": "1.0", "model": {"type": "nothing"}}))
    return target


def bad_checkpoint(bundle: Path) -> Path:
    """The fp16 checkpoint's safetensors header claims more bytes than the file has."""
    target = bundle / "checkpoint" / "model.safetensors"
    data = bytearray(target.read_bytes())
    data[:8] = (len(data) * 2).to_bytes(8, "little")
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("damage,named,reason", [
    (garbage_onnx, "lm_int8.onnx", "malformed ONNX"),
    (cut_in_half("lm_int8.onnx"), "lm_int8.onnx", "malformed ONNX"),
    (unloadable_onnx, "lm_int8.onnx", "onnxruntime cannot load"),
    (cut_in_half("tokenizer.json"), "tokenizer.json", "not a tokenizer"),
    (not_a_tokenizer, "tokenizer.json", "not a tokenizer"),
    (cut_in_half("review_calibration.json"), "review_calibration.json", "malformed JSON"),
    (bad_checkpoint, "model.safetensors", "malformed safetensors"),
], ids=["garbage-onnx", "truncated-onnx", "unloadable-onnx", "tokenizer-not-json", "json-not-tokenizer",
        "calibration-not-json", "safetensors-header"])
def test_checksum_valid_but_malformed_files_are_named(bundle_copy, damage, named, reason):
    target = damage(bundle_copy)
    reseal(bundle_copy)
    assert_serve_refuses(bundle_copy, named, reason)
    if reason != "onnxruntime cannot load":  # that one is only found by loading the model
        with pytest.raises(BundleError, match=f"{target.name}.*{reason}"):
            load_bundle(bundle_copy)


def drop_served_component(m: dict) -> None:
    """The component `defaults` serves is gone from the manifest (its file too)."""
    m["components"].pop("lm_int8")
    m["files"].pop("lm_int8.onnx")
    m["defaults"]["completion_component"] = "lm_int8"


def docstring_without_its_lm(m: dict) -> None:
    """The docstring component names a model component the bundle does not have."""
    m["components"]["docstring"] = {"summarizer": "model", "lm": "docstring_lm"}


@pytest.mark.parametrize("change,reason", [
    (drop_served_component, "defaults.completion_component names 'lm_int8'"),
    (docstring_without_its_lm, "component 'docstring' uses the component 'docstring_lm'"),
    (lambda m: m["components"]["lm"].pop("n_layer"), "component 'lm' lacks 'n_layer'"),
    (lambda m: m["components"]["lm_int8"].update(head_dim="64"), "head_dim '64', not a positive integer"),
    (lambda m: m["components"]["review"].pop("calibration"), "component 'review' lacks 'calibration'"),
    (lambda m: m["components"]["review"].update(detector="review_gone.onnx"), "'review_gone.onnx', which is not listed"),
], ids=["default-component-missing", "docstring-lm-missing", "no-n_layer", "head_dim-string",
        "review-no-calibration", "review-unlisted-file"])
def test_incomplete_manifests_are_refused(bundle_copy, change, reason):
    edit_manifest(bundle_copy, change)
    assert_serve_refuses(bundle_copy, "manifest.json", reason)


def test_a_partial_folder_is_refused_even_when_complete(bundle_copy):
    partial = bundle_copy.with_name("mine.partial")
    shutil.copytree(bundle_copy, partial)
    assert load_bundle(partial, partial_ok=True).has("lm")  # what the writers themselves read
    assert_serve_refuses(partial, "mine.partial", "unfinished bundle")


def test_the_shipped_bundle_passes_every_check():
    root = Path(__file__).resolve().parents[2] / "models" / "default"
    bundle = load_bundle(root)
    assert bundle.manifest["defaults"]["completion_component"] in bundle.components


def assert_serve_refuses(bundle: Path, named: str, reason: str) -> None:
    """`devassist serve --bundle` exits 1 with one stderr line naming `named` and giving `reason`."""
    out = subprocess.run([sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle)],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1, out.stderr
    assert len(lines) == 1, out.stderr
    assert named in lines[0] and reason in lines[0], lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""
