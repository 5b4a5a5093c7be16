"""`devassist docstring FILE[:LINE]`: generate (or update) docstrings from the command line.

With a line (1-based), the definition there; without, every function and class of the file
that has no docstring. Prints the docstrings, or with --write edits the file in place (line
endings kept). `devassist docstring index ...` builds the retrieval index for a bundle.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from devassist.server.features.docstring import DocstringError, DocstringFeature
from devassist.server.parsing import definitions

EPILOG = """examples:
  devassist docstring mymod.py:42                 # print the docstring for the def at line 42
  devassist docstring mymod.py:42 --style numpy --write
  devassist docstring mymod.py --write            # every definition without a docstring
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
    p.add_argument("--write", action="store_true", help="edit the file in place instead of printing")
    p.add_argument("--bundle", help="bundle folder (default: $DEVASSIST_BUNDLE or models/default)")
    args = p.parse_args(argv)
    match = re.fullmatch(r"(.+?):(\d+)", args.target)
    path, line = (Path(match.group(1)), int(match.group(2))) if match and not Path(args.target).exists() else (Path(args.target), None)
    try:
        with open(path, encoding="utf-8", newline="") as fh:  # newline="" keeps CRLF as written
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"devassist docstring: cannot read {path}: {exc}", file=sys.stderr)
        return 2
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
            edit = feature.edit_for(text, target, 0, args.style)
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
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"{path}: {len(targets)} docstring(s) written" if status == 0 else f"{path}: written, with errors above")
    return status


if __name__ == "__main__":
    sys.exit(main())
