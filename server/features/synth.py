"""Synthetic test data for the LSP command `devassist.synthesizeTestData`.

The server has no torch, so training runs in a separate `devassist synth ... --progress-json`
process; this feature checks the path, starts that process with asyncio, relays its JSON
progress events, kills it on cancellation and returns the path of `NAME.synthetic.EXT`.

Options (all optional): `seed` (int), `model` (auto / gan / vae / copula), `where`
({"column": "value"}), `constraints` (["low <= high"]), `overwrite` (bool: replace an existing
output). The output must lie inside the fixture's workspace folder, is never written through a
symbolic link, and an existing file is only replaced with `overwrite`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from devassist.server.features.progress_process import ProcessCancelled, run_with_progress
from devassist.server.safe_io import UnsafeWrite, check_target

EXIT_NO_EXTRA = 3  # `devassist synth` exits with this when torch / scikit-learn are missing
EXTRA_HINT = 'the training extra is not installed: pip install "devassist[cpu,train]"'
DEFAULT_COMMAND = (sys.executable, "-m", "devassist.server", "synth")
MODELS = ("auto", "gan", "vae", "copula")


class SynthesisError(Exception):
    """The request cannot be served; the message is meant for the user as is."""


class TrainingExtraMissing(SynthesisError):
    """torch / scikit-learn are not installed where the training process runs."""


class SynthesisCancelled(SynthesisError):
    """The client cancelled; the training process was killed and nothing was written."""


def to_path(uri_or_path) -> Path:
    """A filesystem path from a `file://` URI, a plain path, or an object with a `.uri` (WorkspaceFolder)."""
    value = str(getattr(uri_or_path, "uri", uri_or_path))
    if "://" in value:
        parsed = urlparse(value)
        if parsed.scheme != "file":
            raise SynthesisError(f"only file:// URIs can be synthesized from, not {parsed.scheme}://")
        return Path(url2pathname(unquote(parsed.path)))
    return Path(value)


def output_path(fixture: Path) -> Path:
    """NAME.synthetic.EXT beside the fixture."""
    return fixture.with_name(f"{fixture.stem}.synthetic{fixture.suffix or '.csv'}")


class SynthesisFeature:
    """Trains a synthesizer on a fixture in a subprocess and writes NAME.synthetic.EXT beside it.

    Usage from the LSP handler:
        path = await SynthesisFeature().run(uri, rows, folders, report, is_cancelled)
    where `report(percent: int, message: str)` forwards to `$/progress` and `is_cancelled()` says
    whether the client cancelled. Errors are `SynthesisError` subclasses with user-ready messages.
    """

    def __init__(self, command: Sequence[str] = DEFAULT_COMMAND, extra_args: Sequence[str] = (),
                 env: dict[str, str] | None = None, poll_s: float = 0.1):
        """`command` starts `devassist synth`; `extra_args` go after it (e.g. ["--time-budget", "60"])."""
        self.command, self.extra_args, self.env, self.poll_s = list(command), list(extra_args), env, poll_s

    def check_path(self, uri_or_path, workspace_folders: Iterable) -> Path:
        """The fixture's resolved path, if it is a file inside one of the workspace folders."""
        return self._locate(uri_or_path, workspace_folders)[0]

    def _locate(self, uri_or_path, workspace_folders: Iterable) -> tuple[Path, Path]:
        """The fixture's resolved path and the workspace folder that holds it."""
        fixture = to_path(uri_or_path).resolve()
        folders = [to_path(f).resolve() for f in workspace_folders]
        inside = [folder for folder in folders if fixture.is_relative_to(folder)]
        if not inside:
            raise SynthesisError(f"{fixture} is outside the workspace folders; refusing to read or write there")
        if not fixture.is_file():
            raise SynthesisError(f"{fixture}: no such file")
        return fixture, inside[0]


    async def run(self, uri_or_path, rows: int, workspace_folders: Iterable,
                  report: Callable[[int, str], None], is_cancelled: Callable[[], bool], **options) -> Path:
        """Train on the fixture and write `rows` synthetic rows beside it; return the output path.

        `options`: seed, model, where, constraints, overwrite (see the module docstring).
        Raises SynthesisError (outside the workspace, a symlink or an existing file as output, bad
        fixture or option, failed run), SynthesisCancelled when `is_cancelled()` turns true (the
        process is killed), TrainingExtraMissing without torch.
        """
        fixture, folder = self._locate(uri_or_path, workspace_folders)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise SynthesisError(f"rows must be a whole number, 0 or more (got {rows!r})")
        extra = option_args(**options)
        out = output_path(fixture)
        try:
            check_target(out, root=folder, overwrite=bool(options.get("overwrite")))
        except UnsafeWrite as exc:
            raise SynthesisError(f"not writing {out.name}: {exc}") from None
        args = [*self.command, str(fixture), "--rows", str(rows), "--out", str(out), "--progress-json",
                *extra, *self.extra_args]
        report(0, f"training on {fixture.name}")
        try:
            result = await run_with_progress(args, report, is_cancelled, self.env, self.poll_s)
        except ProcessCancelled:
            raise SynthesisCancelled("synthesis cancelled; no file was written") from None
        if result.code == EXIT_NO_EXTRA or result.has_error("missing_extra"):
            raise TrainingExtraMissing(EXTRA_HINT)
        if result.code != 0 or not result.done:
            raise SynthesisError(f"synthesizing {fixture.name} failed: {result.detail()}")
        report(100, f"wrote {rows:,} rows to {out.name}")
        return Path(result.done.get("out", out))


def option_args(seed=None, model=None, where=None, constraints=None, overwrite=False) -> list[str]:
    """The LSP command's options as `devassist synth` arguments; SynthesisError for a malformed one."""
    args: list[str] = []
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise SynthesisError(f"seed must be a whole number (got {seed!r})")
        args += ["--seed", str(seed)]
    if model is not None:
        if model not in MODELS:
            raise SynthesisError(f"model must be one of {', '.join(MODELS)} (got {model!r})")
        args += ["--model", model]
    if where is not None:
        if not isinstance(where, dict) or not all(isinstance(k, str) for k in where):
            raise SynthesisError(f'where must be an object such as {{"status": "active"}} (got {where!r})')
        for name, value in where.items():
            args += ["--where", f"{name}={_spelled(value)}"]
    if constraints is not None:
        if isinstance(constraints, str):
            constraints = [constraints]
        if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
            raise SynthesisError(f'constraints must be a list of rules such as ["low <= high"] (got {constraints!r})')
        for rule in constraints:
            args += ["--constraint", rule]
    if overwrite:
        args.append("--force")
    return args


def _spelled(value) -> str:
    """A JSON value as the CLI's --where expects it: true -> "true", 3 -> "3"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
