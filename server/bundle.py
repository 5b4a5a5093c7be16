"""The bundle contract: read `manifest.json`, verify every file's checksum, find components.

A bundle is a folder: ONNX files, `tokenizer.json`, `manifest.json` and `MODEL_CARD.md`. It is the
only thing that passes from the PyTorch side to the server. The server trusts nothing that the
manifest does not describe and refuses, with one line naming the file:
- a folder named `*.partial`: a writer (export, fine-tune) that has not finished or was killed;
- a file whose size or sha256 differs from the manifest;
- a manifest whose defaults or components name a component or file it lacks (an interrupted
  export), or a component without the keys the server reads (`n_layer`, ... for an LM);
- a file that matches its checksum but not its kind: ONNX that is not an ONNX protobuf, JSON that
  does not parse, a tokenizer `tokenizers` cannot read, a safetensors file with a broken header.

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

import gzip
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"  # a folder still being written (export, fine-tune); never served
FILE_KEYS = ("file", "files", "calibration", "signals", "detector", "tokenizer")  # component keys naming files
COMPONENT_KEYS = {"docstring": ("lm", "index")}  # component keys naming other components
DEFAULT_COMPONENT_KEYS = ("completion_component",)
INTEGER_KEYS = ("n_layer", "n_head", "head_dim", "vocab_size", "context_length")
CONTENT_KINDS = ((".onnx", "ONNX"), (".json.gz", "gzipped JSON"), (".json", "JSON"), (".safetensors", "safetensors"))
REQUIRED_KEYS = {  # by the component's kind (else its name): what the server reads without a default
    "causal-lm": ("file", *INTEGER_KEYS),
    "encoder": ("file",),
    "review": ("file", "calibration"),
    "bm25": ("file",),
    "pytorch-checkpoint": ("files",),
}


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


def load_bundle(root: str | os.PathLike[str], verify: bool = True, partial_ok: bool = False) -> Bundle:
    """Read and (by default) verify a bundle; raise BundleError naming the bad file.

    Refused: a folder named `*.partial` (an export or fine-tune that has not finished; only the
    writers themselves pass `partial_ok`), a manifest whose components or defaults name a
    component or file it lacks, a component without the keys the server reads, and files whose
    checksums match but whose contents cannot be what they claim (not ONNX, not a tokenizer).
    """
    root = Path(root)
    manifest_path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{root}: no bundle folder here")
    if root.name.endswith(PARTIAL_SUFFIX) and not partial_ok:
        raise BundleError(f"{root}: an unfinished bundle (its export or fine-tune was interrupted or is still "
                          f"running); run it again, or serve the folder without {PARTIAL_SUFFIX}")
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
        if not isinstance(meta, dict):
            raise BundleError(f"{manifest_path}: the entry of {name!r} is not an object")
        size = path.stat().st_size
        if size != meta.get("size"):
            raise BundleError(f"{path}: corrupt bundle: size {size} bytes, the manifest says {meta.get('size')}")
        if sha256_file(path) != meta.get("sha256"):
            raise BundleError(f"{path}: corrupt bundle: sha256 does not match the manifest")
    bundle = Bundle(root=root, manifest=manifest)
    check_references(bundle)
    if verify:
        tokenizers = check_tokenizer(bundle)  # parsed by `tokenizers` itself, not only as JSON
        for name in files:
            if root / name not in tokenizers:
                check_contents(root / name)
    return bundle


def check_references(bundle: Bundle) -> None:
    """Every file and component the manifest names exists; components carry the keys the server reads."""
    manifest_path = bundle.root / MANIFEST
    files = bundle.manifest["files"]
    tokenizer = bundle.manifest["tokenizer"]
    if not isinstance(tokenizer.get("file"), str) or tokenizer["file"] not in files:
        raise BundleError(f"{manifest_path}: the tokenizer file {tokenizer.get('file')!r} is not listed")
    components = bundle.components
    for name, comp in components.items():
        if not isinstance(comp, dict):
            raise BundleError(f"{manifest_path}: component {name!r} is not an object")
        for key in FILE_KEYS:
            refs = comp.get(key)
            for ref in [refs] if isinstance(refs, str) else (refs or []):
                if ref not in files:
                    raise BundleError(f"{manifest_path}: component {name!r} names {ref!r}, which is not listed")
        for key in COMPONENT_KEYS.get(name, ()):
            ref = comp.get(key, "lm" if key == "lm" else None)
            if ref is not None and ref not in components:
                raise BundleError(f"{manifest_path}: component {name!r} uses the component {ref!r}, "
                                  "which the bundle lacks (an interrupted export?)")
        needed = REQUIRED_KEYS.get(comp.get("kind", name), ())
        missing = [key for key in needed if key not in comp]
        if missing:
            raise BundleError(f"{manifest_path}: component {name!r} lacks {', '.join(map(repr, missing))}")
        for key in INTEGER_KEYS:
            if key in needed and not (isinstance(comp[key], int) and comp[key] > 0):
                raise BundleError(f"{manifest_path}: component {name!r} has {key} {comp[key]!r}, not a positive integer")
    defaults = bundle.manifest.get("defaults", {})
    if not isinstance(defaults, dict):
        raise BundleError(f"{manifest_path}: 'defaults' is not an object")
    for key in DEFAULT_COMPONENT_KEYS:
        ref = defaults.get(key)
        if ref is not None and ref not in components:
            raise BundleError(f"{manifest_path}: defaults.{key} names {ref!r}, a component the bundle lacks "
                              "(an interrupted export?)")


def check_contents(path: Path) -> None:
    """A file whose checksum matched is also what its name says (ONNX, JSON, gzip, safetensors)."""
    name = path.name
    kind = next((k for suffix, k in CONTENT_KINDS if name.endswith(suffix)), None)
    try:
        if kind == "ONNX":
            check_onnx_structure(path.read_bytes())
        elif kind == "JSON":
            json.loads(path.read_text(encoding="utf-8"))
        elif kind == "gzipped JSON":
            json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        elif kind == "safetensors":
            check_safetensors_header(path)
    except (ValueError, OSError, EOFError, zlib.error) as exc:  # JSON and Unicode errors are ValueErrors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BundleError(f"{path}: malformed {kind} file ({reason})") from None


def check_tokenizer(bundle: Bundle) -> list[Path]:
    """The tokenizer files parse as `tokenizers` tokenizers and know the manifest's special tokens.

    Returns the paths checked.
    """
    from tokenizers import Tokenizer

    paths = [bundle.tokenizer_path] + [bundle.path(c["tokenizer"]) for c in bundle.components.values()
                                       if isinstance(c.get("tokenizer"), str)]
    for path in paths:
        try:
            tokenizer = Tokenizer.from_str(path.read_text(encoding="utf-8"))
        except Exception as exc:  # tokenizers raises a bare Exception for any parse error
            raise BundleError(f"{path}: not a tokenizer devassist can read ({str(exc).splitlines()[0]})") from None
        if path == bundle.tokenizer_path:
            unknown = [tok for tok in bundle.special_tokens.values() if tokenizer.token_to_id(tok) is None]
            if unknown:
                raise BundleError(f"{path}: lacks the special tokens {unknown} that the manifest names")
    return paths


# Protobuf wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit (3 and 4,
# groups, never occur in ONNX). Field numbers and types from onnx.proto's ModelProto.
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at `pos`; returns (value, next position)."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise ValueError("varint longer than 10 bytes")


def _fields(data: memoryview, expected: dict[int, int], what: str) -> dict[int, list[memoryview]]:
    """Walk one protobuf message: field number -> its length-delimited payloads (or empty views)."""
    found: dict[int, list[memoryview]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or wire not in (0, 1, 2, 5):
            raise ValueError(f"not protobuf: field {number} with wire type {wire} in the {what}")
        if number in expected and expected[number] != wire:
            raise ValueError(f"field {number} of the {what} has wire type {wire}, ONNX says {expected[number]}")
        if wire == 0:
            _, pos = _varint(data, pos)
            payload = data[pos:pos]
        else:
            size = 8 if wire == 1 else 4 if wire == 5 else None
            if size is None:
                size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError(f"field {number} of the {what} runs past the end of the file")
            payload = data[pos:pos + size]
            pos += size
        found.setdefault(number, []).append(payload)
    return found


def check_onnx_structure(data: bytes) -> None:
    """Raise ValueError unless `data` parses as an ONNX ModelProto that holds a graph.

    A walk over the top level of the protobuf wire format, without the onnx package (the server
    does not depend on it) and in about a millisecond: garbage, a truncated file or another
    format fails here; a well-formed graph that onnxruntime rejects fails when it is loaded
    (`runtime/session.py` names the file too).
    """
    model = _fields(memoryview(data), _MODEL_FIELDS, "model")
    if 1 not in model or 7 not in model:
        raise ValueError("not an ONNX model: no ir_version or no graph")


def check_safetensors_header(path: Path) -> None:
    """Raise ValueError unless the file starts with a safetensors header (length + JSON)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        size = int.from_bytes(head, "little")
        if size > path.stat().st_size - 8:
            raise ValueError("the header length runs past the end of the file")
        header = json.loads(fh.read(size).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")


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
