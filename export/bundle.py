"""Write bundles: copy files in, describe components, and seal everything in manifest.json.

Changes to an existing bundle are made on a copy (`BUNDLE.partial`) that replaces the bundle
in one step once it is sealed, so an interrupted change leaves the old bundle whole.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

from devassist.export.staging import staged_folder
from devassist.server.bundle import FORMAT_VERSION, MANIFEST, PARTIAL_SUFFIX, load_bundle, sha256_file
from devassist.server.safe_io import write_atomic


def seal(root: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Checksum every file under `root` (but the manifest) into `manifest` and write it."""
    root = Path(root)
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(root).as_posix()
        files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    manifest = dict(manifest)
    manifest["format_version"] = FORMAT_VERSION
    manifest.setdefault("created", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    manifest["files"] = files
    write_atomic(root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n", overwrite=True)
    load_bundle(root, partial_ok=True)  # what we wrote must read back
    return manifest


@contextlib.contextmanager
def changed_bundle(src: Path, dst: Path | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield (folder, manifest) to change a copy of bundle `src`; the copy becomes `dst` (default `src`).

    A bundle that is itself still being written (`*.partial`) is changed in place: its writer
    publishes it when done.
    """
    src = Path(src)
    dst = Path(dst) if dst else src
    manifest = load_bundle(src, partial_ok=True).manifest
    if src.name.endswith(PARTIAL_SUFFIX) and dst.resolve() == src.resolve():
        yield src, manifest
        return
    with staged_folder(dst, seed=src) as staging:
        yield staging, manifest


def add_component(
    bundle_dir: Path,
    name: str,
    description: dict[str, Any],
    files: dict[str, Path] | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Add (or replace) one component in a bundle and re-seal it.

    `files` maps the file name inside the bundle to a source path to copy. With `out_dir`, the
    result is written there, so the original stays untouched. Returns the bundle folder.
    """
    dst = Path(out_dir) if out_dir else Path(bundle_dir)
    with changed_bundle(Path(bundle_dir), dst) as (root, manifest):
        for rel, path in (files or {}).items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(path).resolve() != target.resolve():
                shutil.copyfile(path, target)
        manifest.setdefault("components", {})[name] = description
        manifest.pop("created", None)
        seal(root, manifest)
    return dst


def drop_component(bundle_dir: Path, name: str, keep_record: bool = True) -> None:
    """Remove a component and its files from a bundle (its parity record can stay) and re-seal."""
    with changed_bundle(Path(bundle_dir)) as (root, manifest):
        comp = manifest["components"].pop(name)
        refs = [comp["file"]] if "file" in comp else list(comp.get("files", []))
        still_used = {r for c in manifest["components"].values()
                      for r in ([c["file"]] if "file" in c else c.get("files", []))}
        for ref in refs:
            if ref not in still_used:
                (root / ref).unlink(missing_ok=True)
        if keep_record and "parity" in comp:
            manifest["components"][f"{name}_record"] = {"kind": "record", "removed": refs, "parity": comp["parity"]}
        manifest.pop("created", None)
        seal(root, manifest)


def promote_int8(bundle_dir: Path) -> None:
    """Ship only the int8 LM: drop `lm.onnx`, rename `lm_int8` to `lm`, keep the fp32 parity record.

    Run after the steps that build on the fp32 graph (review calibration).
    """
    with changed_bundle(Path(bundle_dir)) as (root, manifest):
        comps = manifest["components"]
        fp32, int8 = comps.pop("lm"), comps.pop("lm_int8")
        (root / fp32["file"]).unlink(missing_ok=True)
        comps["lm"] = int8
        comps["lm_fp32_parity"] = {"kind": "record", "parity": fp32.get("parity")}
        manifest.setdefault("defaults", {})["completion_component"] = "lm"
        manifest.pop("created", None)
        seal(root, manifest)


def write_model_card(root: Path, manifest: dict[str, Any], extra: str = "") -> None:
    """Write MODEL_CARD.md from what the manifest records (call before `seal`)."""
    lm = manifest.get("components", {}).get("lm", {})
    train = manifest.get("training", {})
    lines = [
        f"# devassist bundle `{manifest.get('name', root.name)}`",
        "",
        "A language model for Python code completion (fill-in-the-middle), trained from scratch by",
        "devassist's own recipe and exported to ONNX. Runs offline with onnxruntime.",
        "",
        "## Model",
        f"- architecture: {lm.get('architecture', 'gpt2')}, {lm.get('n_layer')} layers, "
        f"{lm.get('n_head')} heads, d_model {lm.get('n_embd')}, context {lm.get('context_length')} tokens",
        f"- parameters: {lm.get('n_params', 'unknown'):,}" if isinstance(lm.get("n_params"), int) else "- parameters: unknown",
        f"- vocabulary: {lm.get('vocab_size')} byte-level BPE tokens with FIM specials",
        "",
        "## Training",
    ]
    for key in ("config", "corpus", "corpus_sha256", "tokens_seen", "steps", "wall_time_s", "hardware", "train_loss", "valid_loss"):
        if key in train:
            lines.append(f"- {key}: {train[key]}")
    parity = lm.get("parity")
    if parity:
        lines += ["", "## Export parity (ONNX Runtime vs PyTorch)", f"- {json.dumps(parity)}"]
    ev = manifest.get("evaluation")
    if ev:
        lines += ["", "## Evaluation", "```json", json.dumps(ev, indent=2), "```"]
    if extra:
        lines += ["", extra]
    write_atomic(Path(root) / "MODEL_CARD.md", "\n".join(lines) + "\n", overwrite=True)
