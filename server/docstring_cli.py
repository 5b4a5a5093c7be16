"""`devassist docstring FILE[:LINE]`: generate (or update) docstrings from the command line.

With a line (1-based), the definition there; without, every function and class of the file
that has no docstring. Prints the docstrings, or with --write replaces the file safely: the new
text goes to a temp file beside it and is renamed into place (`safe_io.write_atomic`), so a full
disk or a crash leaves the old file whole; the write is refused if the file changed since it was
read, or is a symbolic link; every line keeps its own ending (CRLF and LF may be mixed).
`devassist docstring index ...` builds the retrieval index for a bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from devassist.server.features.docstring import DocstringError, DocstringFeature
from devassist.server.parsing import definitions
from devassist.server.safe_io import UnsafeWrite, write_atomic
from devassist.server.settings import SUMMARY_POLICIES, DocstringSettings

EPILOG = """examples:
  devassist docstring mymod.py:42                 # print the docstring for the def at line 42
  devassist docstring mymod.py:42 --style numpy --write
  devassist docstring mymod.py:42 --summary model   # let the docstring model write the summary line too
  devassist docstring mymod.py --write            # every definition without a docstring (atomic;
                                                  # refused if mymod.py changes meanwhile)
  devassist docstring index --corpus runs/stdlib --bundle models/default   # build the index
"""


def load_feature(bundle_dir: str | None, quiet: bool = False) -> DocstringFeature:
    """The feature with the bundle's model and index, or the template alone if there is none."""
    from devassist.server.bundle import BundleError, default_bundle_path, load_bundle

    path = Path(bundle_dir) if bundle_dir else default_bundle_path()
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        if bundle_dir:
            raise
        if not quiet:
            print(f"devassist docstring: no bundle ({exc}); summaries come from the function names", file=sys.stderr)
        return DocstringFeature()
    return DocstringFeature(bundle)


def main(argv: list[str] | None = None) -> int:
    """Print or write docstrings for one file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "index":
        from devassist.export.docstring_index import main as index_main

        return index_main(argv[1:])
    p = argparse.ArgumentParser(prog="devassist docstring", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="FILE[:LINE]", help="a Python file, optionally with a 1-based line")
    p.add_argument("--style", choices=("google", "numpy", "sphinx"), default="google")
    p.add_argument("--summary", choices=SUMMARY_POLICIES, default=DocstringSettings().summary,
                   help="who writes the summary line (the setting devassist.docstring.summary; default: %(default)s)")
    p.add_argument("--write", action="store_true", help="edit the file in place instead of printing")
    p.add_argument("--bundle", help="bundle folder (default: $DEVASSIST_BUNDLE or models/default)")
    args = p.parse_args(argv)
    match = re.fullmatch(r"(.+?):(\d+)", args.target)
    path, line = (Path(match.group(1)), int(match.group(2))) if match and not Path(args.target).exists() else (Path(args.target), None)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")  # bytes as written: no newline translation, each line keeps its ending
    except (OSError, UnicodeDecodeError) as exc:
        print(f"devassist docstring: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    read_digest = hashlib.sha256(raw).digest()
    feature = load_feature(args.bundle)
    if line is not None:
        targets = [line - 1]
    else:  # bottom-up, so earlier edits do not move later targets
        targets = sorted((d.start_line for d in definitions(text) if d.docstring_node is None and not d.has_error), reverse=True)
        if not targets:
            print(f"{path}: every function and class already has a docstring")
            return 0
    status = 0
    for target in targets:
        try:
            edit = feature.edit_for(text, target, 0, args.style, summary=args.summary)
        except DocstringError as exc:
            print(f"{path}:{target + 1}: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.write:
            text = edit.apply(text)
        else:
            print(f"# {path}:{target + 1} {edit.qualname} ({edit.title.lower()}, summary: {edit.summary_source}, "
                  f"{edit.elapsed_ms:.0f} ms)")
            print(edit.new_text.strip("\r\n").lstrip(" \t") if edit.title.startswith("Generate") else edit.new_text)
    if args.write:
        return write_back(path, text, read_digest, len(targets), status)
    return status


def write_back(path: Path, text: str, read_digest: bytes, count: int, status: int) -> int:
    """Replace the file atomically with `text`, unless it changed since it was read (digest differs)."""
    try:
        now = path.read_bytes()
    except OSError as exc:
        print(f"devassist docstring: {path} cannot be read again ({exc}); nothing was written", file=sys.stderr)
        return 2
    if hashlib.sha256(now).digest() != read_digest:
        print(f"devassist docstring: {path} changed while the docstrings were written; nothing was written "
              "(run it again)", file=sys.stderr)
        return 2
    try:
        write_atomic(path, text, overwrite=True)
    except (UnsafeWrite, OSError) as exc:
        print(f"devassist docstring: not written, {path} is unchanged: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {count} docstring(s) written" if status == 0 else f"{path}: written, with errors above")
    return status


if __name__ == "__main__":
    sys.exit(main())
