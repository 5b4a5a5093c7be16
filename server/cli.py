"""The `devassist` command: picks a subcommand and hands it the rest of the arguments.

Each subcommand lives in its own module with a `main(argv)` and an argparse parser whose
epilog shows examples. Modules are imported only when their subcommand runs, so
`devassist serve` never loads the PyTorch side.
"""

from __future__ import annotations

import importlib
import sys

# name -> (module with `main(argv) -> int`, one-line help). PyTorch-side modules are
# imported lazily by name: the server package itself never imports them.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("devassist.server.serve", "run the language server (stdio, or --tcp on 127.0.0.1)"),
    "demo": ("devassist.server.demo", "a real LSP session on a sample file, printed as an editor shows it"),
    "corpus": ("devassist.training.corpus", "mine Python files and functions into a corpus"),
    "tokenizer": ("devassist.training.tokenizer", "train the byte-level BPE tokenizer on a corpus"),
    "train": ("devassist.training.train", "train a model from a TOML config"),
    "finetune": ("devassist.training.finetune", "fine-tune a bundle's model on your own repository"),
    "learn": ("devassist.training.learn", "adapt the model to a workspace (kept in your cache; the server uses it)"),
    "export": ("devassist.export.cli", "export a training run to an ONNX bundle, parity-checked"),
    "docstring": ("devassist.server.docstring_cli", "generate a docstring for a function in a file"),
    "review": ("devassist.server.review_cli", "review diagnostics for files; `review calibrate` refits"),
    "synth": ("devassist.training.tabular.cli", "learn a CSV/JSON fixture and write synthetic rows"),
    "evaluate": ("devassist.evaluation.cli", "benchmarks: completion, latency, docstring, review, synth"),
}

USAGE = """usage: devassist COMMAND [ARGS...]

A private, offline coding assistant. Commands:
{commands}

Examples:
  devassist demo                         # completions from the shipped bundle, with latencies
  devassist serve --bundle models/default
  devassist corpus --out runs/corpus     # the standard library, split train/valid/test
  devassist COMMAND --help               # each command's options and examples
"""


def usage() -> str:
    """The top-level help text."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Dispatch `devassist COMMAND ...` to the command's module."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from devassist.server import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"devassist: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("torch", "transformers", "optimum", "sklearn", "safetensors"):
            print(
                f"devassist {name} needs the training extra ({exc.name} is not installed).\n"
                "Install it with:  pip install 'devassist[cpu,train]'",
                file=sys.stderr,
            )
            return 2
        raise
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
