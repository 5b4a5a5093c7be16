"""`devassist serve`: the language server, on stdio (default) or on 127.0.0.1 with --tcp."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

EPILOG = """examples:
  devassist serve                                  # stdio, the shipped models/default bundle
  devassist serve --bundle ~/bundles/mine          # a fine-tuned bundle
  devassist serve --tcp 2087                       # listen on 127.0.0.1:2087 only
  DEVASSIST_DEVICE=cpu devassist serve             # ignore a GPU even with onnxruntime-gpu
"""


def build_server(bundle_dir: Path | None, threads: int | None = None):
    """Load and verify the bundle, then create the server with every handler registered."""
    from devassist.server.bundle import default_bundle_path, load_bundle
    from devassist.server.handlers import register
    from devassist.server.lsp import DevassistServer

    bundle = load_bundle(bundle_dir or default_bundle_path())
    server = DevassistServer(bundle, threads=threads)
    register(server)
    return server


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    from devassist.server.bundle import BundleError

    parser = argparse.ArgumentParser(prog="devassist serve", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: $DEVASSIST_BUNDLE or models/default)")
    parser.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT instead of stdio")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: up to 4 cores)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    # stdout carries the protocol: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="devassist %(levelname)s %(message)s")
    if args.log_level != "DEBUG":  # pygls logs every message at INFO: too much for an editor's log
        logging.getLogger("pygls").setLevel(logging.WARNING)
    try:
        server = build_server(args.bundle, args.threads)
    except BundleError as exc:
        print(f"devassist serve: cannot load the bundle: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"devassist serve: {exc}", file=sys.stderr)
        return 1
    from devassist.server.client_log import send_logs_to_client
    send_logs_to_client(server)  # log lines reach the editor with their level, not as stderr "errors"
    if args.tcp is not None:
        server.start_tcp("127.0.0.1", args.tcp)
    else:
        server.start_io()
    return 0
