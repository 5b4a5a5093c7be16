"""Writing a file so that nothing is lost: a temp file beside it, then one rename into place.

Every file devassist writes for a user (synthetic data, docstring edits, caches) goes through
`write_atomic`: the new content is written to a fresh temp file in the same folder, opened with
`O_CREAT | O_EXCL | O_NOFOLLOW` (never through a planted symlink), flushed to disk, and only
then renamed over the target. A crash or a full disk leaves the old file whole. The target must
not be a symlink, must stay inside `root` when one is given (the workspace the user opened), and
an existing file is only replaced with `overwrite=True`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class UnsafeWrite(Exception):
    """A write refused before anything was touched; the message says why in one line."""


def check_target(path: str | os.PathLike, root: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """The absolute target path, or UnsafeWrite if writing there could harm another file."""
    target = Path(os.path.abspath(path))
    if target.is_symlink():
        raise UnsafeWrite(f"{target} is a symbolic link; devassist never writes through one")
    parent = target.parent
    if not parent.is_dir():
        raise UnsafeWrite(f"folder {parent} does not exist")
    if target.exists() and target.is_dir():
        raise UnsafeWrite(f"{target} is a folder, not a file")
    if root is not None:
        real_root = Path(os.path.realpath(root))
        real_parent = Path(os.path.realpath(parent))
        if real_parent != real_root and real_root not in real_parent.parents:
            raise UnsafeWrite(f"{target} is outside the workspace {real_root}")
    if target.exists() and not overwrite:
        raise UnsafeWrite(f"{target} exists; pass --force (or choose another name) to replace it")
    return target


def write_atomic(path: str | os.PathLike, data: bytes | str, root: str | os.PathLike | None = None,
                 overwrite: bool = False, encoding: str = "utf-8") -> Path:
    """Write `data` to `path` through a same-folder temp file and a rename; returns the path.

    Text is encoded as given (no newline translation), so callers keep each line's own ending.
    Without `overwrite` the final step is a hard link, which fails if the target appeared
    meanwhile, so an existing file is never replaced by a race either.
    """
    target = check_target(path, root, overwrite)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    mode = 0o644
    if target.exists():
        mode = target.stat().st_mode & 0o777
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)  # replaces a directory entry; a symlink there is replaced, not followed
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise UnsafeWrite(f"{target} exists; pass --force (or choose another name) to replace it") from None
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
