"""The bundle contract: read `manifest.json`, verify every file's checksum, find components.

A bundle is a folder: ONNX files, `tokenizer.json`, `manifest.json` and `MODEL_CARD.md`. It is the
only thing that passes from the PyTorch side to the server. The server trusts nothing that the
manifest does not describe and refuses a bundle whose checksums do not match.

manifest.json (format 1):
    {
      "format_version": 1,
      "name": "default",
      "created": "2026-11-26T20:00:00Z",
      "files": {"lm.onnx": {"sha256": "...", "size": 123}, ...},      # every file but the manifest
      "tokenizer": {"file": "tokenizer.json", "special_tokens": {"eot": "<|endoftext|>",
                    "fim_prefix": "<fim_prefix>", "fim_suffix": "<fim_suffix>",
                    "fim_middle": "<fim_middle>", "pad": "<pad>"}},
      "components": {                                                  # name -> description
        "lm": {"file": "lm.onnx", "precision": "fp32", "n_layer": 4, "n_head": 4,
               "head_dim": 64, "vocab_size": 8192, "context_length": 512, "parity": {...}},
        "lm_int8": {...}, "review": {...}, "docstring": {...}
      },
      "training": {...}, "evaluation": {...}
    }
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class BundleError(Exception):
    """A bundle that is missing, malformed or corrupt; the message names the file."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Bundle:
    """A verified bundle on disk."""

    root: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        """The bundle's name from its manifest."""
        return str(self.manifest.get("name", self.root.name))

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        """Component name -> its description."""
        return self.manifest.get("components", {})

    def has(self, component: str) -> bool:
        """Whether the bundle ships this component."""
        return component in self.components

    def component(self, name: str) -> dict[str, Any]:
        """A component's description, or BundleError if the bundle lacks it."""
        try:
            return self.components[name]
        except KeyError:
            raise BundleError(f"{self.root / MANIFEST}: the bundle has no {name!r} component") from None

    def path(self, filename: str) -> Path:
        """The path of a file the manifest lists (and so was verified)."""
        if filename not in self.manifest.get("files", {}):
            raise BundleError(f"{self.root / MANIFEST}: {filename!r} is not listed in the manifest")
        return self.root / filename

    @property
    def tokenizer_path(self) -> Path:
        """The verified tokenizer.json."""
        return self.path(self.manifest["tokenizer"]["file"])

    @property
    def special_tokens(self) -> dict[str, str]:
        """Role -> token text (eot, fim_prefix, fim_suffix, fim_middle, pad)."""
        return dict(self.manifest["tokenizer"].get("special_tokens", {}))


def load_bundle(root: str | os.PathLike[str], verify: bool = True) -> Bundle:
    """Read and (by default) verify a bundle; raise BundleError naming the bad file."""
    root = Path(root)
    manifest_path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{root}: no bundle folder here")
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path}: missing; a bundle needs a manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{manifest_path}: expected a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{manifest_path}: format_version {version!r}, this devassist reads {FORMAT_VERSION}")
    for key in ("files", "tokenizer", "components"):
        if not isinstance(manifest.get(key), dict):
            raise BundleError(f"{manifest_path}: missing the {key!r} section")
    files = manifest["files"]
    for name, meta in files.items():
        path = root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{manifest_path}: file name {name!r} points outside the bundle")
        if not path.is_file():
            raise BundleError(f"{path}: listed in the manifest but missing")
        if not verify:
            continue
        size = path.stat().st_size
        if size != meta.get("size"):
            raise BundleError(f"{path}: corrupt bundle: size {size} bytes, the manifest says {meta.get('size')}")
        if sha256_file(path) != meta.get("sha256"):
            raise BundleError(f"{path}: corrupt bundle: sha256 does not match the manifest")
    bundle = Bundle(root=root, manifest=manifest)
    bundle.tokenizer_path  # raises if the tokenizer is not a listed file
    for name, comp in bundle.components.items():
        for key in ("file", "files"):
            refs = comp.get(key)
            for ref in [refs] if isinstance(refs, str) else (refs or []):
                if ref not in files:
                    raise BundleError(f"{manifest_path}: component {name!r} names {ref!r}, which is not listed")
    return bundle


def default_bundle_path() -> Path:
    """Where `devassist serve` looks when no --bundle is given.

    $DEVASSIST_BUNDLE, else the checkout's `models/default` (next to the `server/` folder when
    installed in editable mode), else `./models/default`.
    """
    env = os.environ.get("DEVASSIST_BUNDLE")
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[1] / "models" / "default"
    if beside_source.is_dir():
        return beside_source
    return Path.cwd() / "models" / "default"
