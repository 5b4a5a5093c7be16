"""Where a workspace's adapted bundle lives, and when the server may use it.

`devassist learn` (and the LSP command `devassist.learnWorkspace`) fine-tune the served bundle on
one workspace and keep the result in the user's cache, never beside the shipped bundle:

    $XDG_CACHE_HOME/devassist/workspaces/<sha256 of the resolved workspace path, 16 hex>/
        bundle/        the adapted bundle (a normal, verified bundle)
        record.json    {"workspace", "base_bundle": {"name", "sha256"}, "metrics": {"before", "after"}, "date", ...}

A bundle is identified by the sha256 of its manifest.json (which lists every file's sha256),
so the record says exactly which base it was adapted from; the server uses the adapted bundle
only when that base is the bundle it was started with. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from devassist.server.bundle import MANIFEST, PARTIAL_SUFFIX

RECORD = "record.json"
BUNDLE = "bundle"


def cache_home() -> Path:
    """`$XDG_CACHE_HOME/devassist`, or `~/.cache/devassist`."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "devassist"


def workspace_dir(workspace: str | os.PathLike) -> Path:
    """The cache folder of one workspace, keyed by its resolved path."""
    key = hashlib.sha256(str(Path(workspace).resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_home() / "workspaces" / key


def bundle_sha(bundle_root: str | os.PathLike) -> str:
    """The identity of a bundle: sha256 of its manifest.json."""
    return hashlib.sha256((Path(bundle_root) / MANIFEST).read_bytes()).hexdigest()


def read_record(workspace: str | os.PathLike) -> dict | None:
    """The workspace's record, or None when there is none (or it is unreadable)."""
    try:
        record = json.loads((workspace_dir(workspace) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def adapted_bundle(workspace: str | os.PathLike, base_root: str | os.PathLike) -> tuple[Path, dict] | None:
    """(bundle folder, record) of the workspace's adapted bundle when it was adapted from
    `base_root` (same manifest sha256) and is still there; None otherwise."""
    record = read_record(workspace)
    if not record or not record.get("adopted"):
        return None
    try:
        if record.get("base_bundle", {}).get("sha256") != bundle_sha(base_root):
            return None
    except OSError:
        return None
    folder = workspace_dir(workspace) / BUNDLE
    return (folder, record) if (folder / MANIFEST).is_file() else None


def leftovers(workspace: str | os.PathLike) -> list[Path]:
    """Staging and work folders (`*.partial`) a killed run left in the workspace's cache folder."""
    folder = workspace_dir(workspace)
    return sorted(folder.glob(f"*{PARTIAL_SUFFIX}")) if folder.is_dir() else []
