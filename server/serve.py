"""`devassist serve`: the language server, on stdio (default) or on 127.0.0.1 with --tcp.

Framing, limits and the lifecycle are in server/transport.py and server/protocol.py. Over TCP
every connection is its own session (its own documents, settings and lifecycle) on a server
object forked from one loaded at start, so the models are loaded once and shared; a connection
that closes, exits or times out ends only its session.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import logging
import os
import sys
from pathlib import Path

# Before onnxruntime is imported: its 1.23+ wheels upload telemetry (DNS lookups of
# mobile.events.data.microsoft.com every few seconds from an idle server); this turns it off.
# tests/e2e/test_offline.py proves the whole session makes no network syscall.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
SWITCH_INTERVAL_S = 0.0002  # the GIL's switch interval in the server (see `main`)

log = logging.getLogger("devassist")

EPILOG = """examples:
  devassist serve                                  # stdio, the shipped models/default bundle
  devassist serve --bundle ~/bundles/mine          # a fine-tuned bundle
  devassist serve --tcp 2087                       # listen on 127.0.0.1:2087 only, a session per connection
  devassist serve --on-framing-error exit          # exit 2 on a mis-framed message (the editor restarts us)
  devassist serve --tcp 2087 --idle-timeout 600    # close TCP sessions silent for 10 minutes
  DEVASSIST_DEVICE=cpu devassist serve             # ignore a GPU even with onnxruntime-gpu
  devassist serve --remote http://gpu-box:8000     # completions from a team's Triton server (docs/SCALE.md)
  devassist serve --remote grpc://gpu-box:8001     # the same over gRPC (cancellation reaches the server)
"""


def _install_protocol(server) -> None:
    """Give `server` a fresh DevassistProtocol (before any handler is registered on it)."""
    from pygls.lsp._base_server import default_converter

    from devassist.server.protocol import DevassistProtocol

    server.protocol = DevassistProtocol(server, default_converter())


def build_server(bundle_dir: Path | None, threads: int | None = None, remote: str | None = None):
    """Load and verify the bundle, then create the server with every handler registered.

    `remote`: a Triton server's URL (`http://host:8000` or `grpc://host:8001`) for completions."""
    from devassist.server.bundle import default_bundle_path, load_bundle
    from devassist.server.handlers import register
    from devassist.server.lsp import DevassistServer

    bundle = load_bundle(bundle_dir or default_bundle_path())
    server = DevassistServer(bundle, threads=threads, remote=remote)
    server.pristine_settings = copy.deepcopy(server.settings)
    _install_protocol(server)
    register(server)
    return server


def new_session(template):
    """A server for one more client: shares the template's bundle, models, model lanes and gate;
    has its own protocol, workspace, settings, completion caches, repository index and feature state."""
    from devassist.server.handlers import register
    from devassist.server.lsp import Supersede

    session = copy.copy(template)
    session._thread_pool = None
    session._stop_event = None
    session._server = None
    session.settings = copy.deepcopy(template.pristine_settings)
    engine = template.engine
    session.engine = type(engine)(engine.lm, cache_mix=engine.cache_mix, use_fim=engine.use_fim, backend=engine.backend)
    session.supersede = Supersede()
    session._repo_index = session._repo_future = None  # the workspace's index is per client
    session.extra_features = {}
    session.code_action_providers = []
    _install_protocol(session)
    register(session)
    return session


def end_session(session) -> None:
    """Cancel what the session still runs and release its own thread pool."""
    for future in list(session.protocol._request_futures.values()):
        future.cancel()
    if session._thread_pool is not None:
        session._thread_pool.shutdown(wait=False, cancel_futures=True)


def serve_stdio(server, on_framing_error: str) -> int:
    """Serve one client on stdin/stdout; returns the process exit code."""
    from pygls.io_ import StdoutWriter

    from devassist.server.transport import Limits, run_session, stdin_source

    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))

    async def main() -> int:
        return await run_session(server.protocol, stdin_source(sys.stdin.fileno()), Limits(), on_framing_error)

    try:
        return asyncio.run(main())
    except (BrokenPipeError, KeyboardInterrupt):
        return 1
    finally:
        end_session(server)


def serve_tcp(template, port: int, on_framing_error: str, limits, max_sessions: int) -> int:
    """Serve each connection to 127.0.0.1:`port` as its own session until interrupted."""
    from devassist.server.transport import BoundedStreamWriter, run_session, stream_source

    sessions: set = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if len(sessions) >= max_sessions:
            log.warning("refused %s: %d sessions already open", peer, max_sessions)
            writer.close()
            return
        placeholder = object()  # holds the slot while the session's features load
        sessions.add(placeholder)
        try:  # loading a session's features takes a moment: off the loop, other sessions keep going
            session = await asyncio.get_running_loop().run_in_executor(None, new_session, template)
        except Exception:
            log.exception("could not open a session for %s", peer)
            sessions.discard(placeholder)
            writer.close()
            return
        sessions.discard(placeholder)
        sessions.add(session)
        session.protocol.set_writer(BoundedStreamWriter(writer))
        log.info("session opened for %s (%d open)", peer, len(sessions))
        try:
            code = await run_session(session.protocol, stream_source(reader), limits, on_framing_error)
            log.info("session for %s ended (code %d)", peer, code)
        except Exception:
            log.exception("session for %s failed", peer)
        finally:
            sessions.discard(session)
            end_session(session)
            writer.close()

    async def main() -> None:
        listener = await asyncio.start_server(on_connect, "127.0.0.1", port)
        # Always printed (whatever the log level): tools wait for this line before connecting.
        print(f"devassist serve: listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        async with listener:
            await listener.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    from devassist.server.bundle import BundleError

    parser = argparse.ArgumentParser(prog="devassist serve", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: $DEVASSIST_BUNDLE or models/default)")
    parser.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT instead of stdio")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: up to 4 cores)")
    parser.add_argument("--on-framing-error", choices=["resync", "exit"], default="resync",
                        help="after a message that cannot be framed: skip to the next header (default), "
                             "or exit with code 2 (on TCP: close that connection)")
    parser.add_argument("--idle-timeout", type=float, default=3600.0, metavar="S",
                        help="TCP: close a session with no message for S seconds (default 3600)")
    parser.add_argument("--message-timeout", type=float, default=30.0, metavar="S",
                        help="TCP: close a session whose message is not complete S seconds after its first byte "
                             "(slow clients; default 30)")
    parser.add_argument("--max-sessions", type=int, default=8, help="TCP: most sessions at once (default 8)")
    parser.add_argument("--remote", metavar="URL",
                        help="complete with the `generate` model of a Triton server (http://HOST:8000 or grpc://HOST:8001) "
                             "exported from the same bundle; settings remote.fallbackToLocal and remote.timeoutMs")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    # stdout carries the protocol: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="devassist %(levelname)s %(message)s")
    if args.log_level != "DEBUG":  # pygls logs every message at INFO: too much for an editor's log
        logging.getLogger("pygls").setLevel(logging.WARNING)
    # Review's worker threads run Python between their model runs; at the default 5 ms switch
    # interval a keystroke's request waited up to that long for the GIL at every step of its way
    # through the server (measured: client-to-handler p95 13.7 ms with review on, 3.4 ms off).
    # 0.2 ms costs review nothing measurable (2,000-line file, interleaved: 0.594 s median against
    # 0.661 s at 5 ms); `evaluate typing` review-on/off p95 1.20-1.50 in five runs, 1.20-1.74 at 1 ms.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        if args.remote:
            from devassist.server.remote.triton_client import split_url

            split_url(args.remote)  # a malformed URL is refused here, with one line
        server = build_server(args.bundle, args.threads, args.remote)
    except BundleError as exc:
        print(f"devassist serve: cannot load the bundle: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"devassist serve: {exc}", file=sys.stderr)
        return 1
    from devassist.server.client_log import send_logs_to_client
    send_logs_to_client(server)  # log lines reach the editor with their level, not as stderr "errors"
    # Everything loaded so far (modules, sessions, tokenizers, the LSP types) lives as long as the
    # server: out of the collector's sight, a full collection no longer walks it. One took 50 ms
    # with the GIL held, in whichever thread set it off (review allocates the most), and stalled
    # the keystroke's request; with `gc.freeze()` the longest stall measured was 3 ms.
    gc.collect()
    gc.freeze()
    if args.tcp is not None:
        from devassist.server.transport import Limits

        limits = Limits(message_timeout_s=args.message_timeout, idle_timeout_s=args.idle_timeout)
        return serve_tcp(server, args.tcp, args.on_framing_error, limits, args.max_sessions)
    return serve_stdio(server, args.on_framing_error)
