"""Writing a folder (a bundle, a run) so that an interrupted run leaves nothing half-made behind.

Everything is written into `OUT.partial` (which `serve` refuses) and swapped into `OUT` in one
step only once it is complete. SIGINT and SIGTERM during the work end it with `Interrupted`,
the partial folder is removed, and the command exits with one line; SIGKILL cannot be caught,
so the next run for the same OUT removes the stale `OUT.partial` first. While the swap and the
clean-up run, SIGINT and SIGTERM are held back, so they cannot be cut in half either.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterator

from devassist.server.bundle import MANIFEST, PARTIAL_SUFFIX

_HELD = {signal.SIGINT, signal.SIGTERM}
_handler_depth = [0]  # how many `interrupts_raise` blocks are open (the outermost owns the handler)
_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while a staged folder was being written."""


class UnsafeOutput(Exception):
    """An output folder that must not be replaced (a user's folder, a symlink); one line says why."""


def partial_path(out: Path) -> Path:
    """The staging folder of `out`: `out.partial` beside it."""
    return out.with_name(out.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM until the block ends, then deliver the first one that came.

    The handlers are swapped rather than the signal mask set: a mask holds only the main
    thread, while the kernel may deliver the signal to any of torch's or onnxruntime's threads.
    """
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum)) for sig in _HELD}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if caught:
            signal.raise_signal(caught[0])


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGTERM raises `Interrupted` like SIGINT does, so `finally` blocks clean up on both.

    Only the first signal raises: a second one while the clean-up runs is ignored. Nested
    blocks share the outermost block's handler.
    """
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    if _handler_depth[0]:
        _handler_depth[0] += 1
        try:
            yield
        finally:
            _handler_depth[0] -= 1
        return
    raised = threading.Event()

    def handler(signum, _frame):
        if raised.is_set():
            return
        raised.set()
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in _HELD}
    _handler_depth[0] += 1
    try:
        yield
    finally:
        _handler_depth[0] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)


def remove_tree(path: Path) -> None:
    """Remove a folder we created (or a stale one of ours), with SIGINT/SIGTERM held back."""
    with signals_held():
        if path.is_symlink():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)


def check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a bundle or run folder of ours (or an empty folder)."""
    if out.is_symlink():
        raise UnsafeOutput(f"{out} is a symbolic link; give the real folder (devassist never writes through one)")
    if not out.exists():
        return
    if not out.is_dir():
        raise UnsafeOutput(f"{out} exists and is not a folder; choose another --out")
    ours = (out / MANIFEST).is_file() or (out / "run.json").is_file() or not any(out.iterdir())
    if not ours:
        raise UnsafeOutput(f"{out} exists and is not a devassist bundle or run folder; choose another --out")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def publish(staging: Path, out: Path) -> None:
    """Move a finished staging folder to `out`, replacing what was there in one step."""
    with signals_held():
        if not out.exists():
            staging.rename(out)
            return
        if _exchange(staging, out):  # `staging` now holds the old folder
            shutil.rmtree(staging, ignore_errors=True)
            return
        old = out.with_name(out.name + ".old" + PARTIAL_SUFFIX)
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(out: str | os.PathLike, seed: Path | None = None) -> Iterator[Path]:
    """Yield an empty `OUT.partial` (or a copy of `seed`); publish it as OUT when the block ends.

    Any exception, SIGINT or SIGTERM inside the block removes the partial folder and OUT is left
    as it was. A stale `OUT.partial` from a killed run is removed first.
    """
    out = Path(out)
    check_replaceable(out)
    staging = partial_path(out)
    with interrupts_raise():
        remove_tree(staging)
        try:
            if seed is not None:
                shutil.copytree(seed, staging)
            else:
                staging.mkdir(parents=True)
            yield staging
            publish(staging, out)
        finally:
            remove_tree(staging)


@contextlib.contextmanager
def scratch_folder(out: str | os.PathLike, tag: str) -> Iterator[Path]:
    """A work folder beside `out` (`OUT.TAG.partial`) removed when the block ends, however it ends.

    Beside the output rather than in /tmp: a killed run's leftovers are found and removed by the
    next run for the same output, and large intermediate files stay on the output's disk.
    """
    out = Path(out)
    work = out.with_name(f"{out.name}.{tag}{PARTIAL_SUFFIX}")
    with interrupts_raise():
        remove_tree(work)
        try:
            work.mkdir(parents=True)
            yield work
        finally:
            remove_tree(work)
