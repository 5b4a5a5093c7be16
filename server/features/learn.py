"""Learning the workspace for the LSP command `devassist.learnWorkspace`.

The server has no torch, so `devassist learn WORKSPACE --progress-json` runs as a subprocess with
the server's own interpreter; this feature checks the folder, relays the run's progress, kills
it on cancellation (and removes what it was writing in the cache), and returns the run's record:
metrics before/after on held-out files and whether the adapted bundle was adopted. Swapping the
served model is the server's part (`DevassistServer.use_bundle`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

from devassist.server.features.progress_process import ProcessCancelled, run_with_progress
from devassist.server.features.synth import SynthesisError, to_path
from devassist.server.workspace_cache import leftovers, workspace_dir

EXIT_NO_EXTRA = 3  # `devassist learn` exits with this when torch & co. are missing
EXTRA_HINT = "learning a workspace needs the training extra: pip install 'devassist[train]'"
DEFAULT_COMMAND = (sys.executable, "-m", "devassist.server", "learn")


class LearnError(Exception):
    """The request cannot be served; the message is meant for the user as is."""


class LearnCancelled(LearnError):
    """The client cancelled; the process was killed and its unfinished folders removed."""


def workspace_path(uri_or_path, workspace_folders: Iterable) -> Path:
    """The resolved folder to learn: the given one, which must be one of (or inside) the
    workspace folders; without one, the first workspace folder."""
    folders = [to_path(f).resolve() for f in workspace_folders]
    try:
        folder = to_path(uri_or_path).resolve() if uri_or_path else (folders[0] if folders else None)
    except SynthesisError as exc:
        raise LearnError(str(exc)) from None
    if folder is None:
        raise LearnError("no workspace folder is open: open a folder, or pass its URI")
    if not any(folder.is_relative_to(f) for f in folders):
        raise LearnError(f"{folder} is not in the workspace folders; only the open workspace can be learnt")
    if not folder.is_dir():
        raise LearnError(f"{folder} is not a folder")
    return folder


class WorkspaceLearner:
    """Runs `devassist learn` on a workspace folder in a subprocess.

    Usage from the LSP handler:
        record = await WorkspaceLearner().run(folder, bundle_root, budget_s, report, is_cancelled)
    where `report(percent, message)` forwards to `$/progress`. The record is `devassist learn`'s
    (`adopted`, `bundle`, `metrics`: before/after). Errors are `LearnError`s with user-ready messages.
    """

    def __init__(self, command: Sequence[str] = DEFAULT_COMMAND, env: dict[str, str] | None = None,
                 poll_s: float = 0.1):
        """`command` starts `devassist learn`; `env` is added to the server's environment."""
        self.command, self.env, self.poll_s = list(command), env, poll_s

    async def run(self, folder: Path, bundle_root: Path, budget_s: float, report: Callable[[int, str], None],
                  is_cancelled: Callable[[], bool]) -> dict:
        """Learn `folder` starting from the bundle at `bundle_root`; the run's record."""
        args = [*self.command, str(folder), "--bundle", str(bundle_root), "--time-budget", str(budget_s),
                "--progress-json"]
        report(0, f"learning {folder.name}")
        try:
            result = await run_with_progress(args, report, is_cancelled, self.env, self.poll_s)
        except BaseException as exc:  # the client, or the task, cancelled: the process was killed
            remove_leftovers(folder)
            if isinstance(exc, ProcessCancelled):
                raise LearnCancelled("learning cancelled; the current model stays") from None
            raise
        if result.code == EXIT_NO_EXTRA or result.has_error("missing_extra"):
            raise LearnError(EXTRA_HINT)
        if result.code != 0 or not isinstance(result.done.get("record"), dict):
            raise LearnError(f"learning {folder.name} failed: {result.detail()}")
        return result.done["record"]


def remove_leftovers(folder: Path) -> None:
    """Remove what a killed run was writing in the workspace's cache folder (never through a
    symbolic link), and the cache folder itself when that leaves it empty."""
    import shutil

    for path in leftovers(folder):  # a killed run cannot clean up after itself
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
    cache = workspace_dir(folder)
    if cache.is_dir() and not any(cache.iterdir()):
        cache.rmdir()
