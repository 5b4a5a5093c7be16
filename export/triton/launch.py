"""Run the `tritonserver` binary of the `nvidia-pytriton` wheel on a model repository (no container).

The wheel (Linux x86-64) ships Triton 2.51 with the Python backend only (no ONNX Runtime
backend), and PyTriton's own Python glue, which we do not use. So we start the binary directly:
its shared libraries are in `nvidia_pytriton.libs` (LD_LIBRARY_PATH), and the backend directory
we hand it holds the Python backend plus the backend stub built for this interpreter's Python
version. Only `generate` is loaded (explicit model control): `lm` needs the ONNX Runtime backend
of a full Triton (the NGC container). The server listens on 127.0.0.1 unless told otherwise.

    python -m devassist.export.triton.launch REPO --http-port 8000 --grpc-port 8001 --metrics-port 8002
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "pip install --no-deps nvidia-pytriton==0.7.0 (its numpy<2 pin is for PyTriton's glue, unused here)"
# The backend stub of Triton 2.51 is built against numpy 1.x: with numpy 2 its tensors come back
# empty. So `generate/1/model.py` runs on packages of its own, not the server's virtual environment.
MODEL_ENV_PACKAGES = ("numpy<2", "onnxruntime>=1.20,<1.23")
ENV_HINT = "pip install --target {path} " + " ".join(f"'{p}'" for p in MODEL_ENV_PACKAGES)


def model_env_path() -> Path:
    """Where the Python backend's packages live: $DEVASSIST_TRITON_ENV, else ~/.cache/devassist/triton-env."""
    env = os.environ.get("DEVASSIST_TRITON_ENV")
    return Path(env) if env else Path.home() / ".cache" / "devassist" / "triton-env"


class TritonUnavailable(RuntimeError):
    """No usable tritonserver binary here, or it did not become ready; the message says which."""


def pytriton_root() -> Path:
    """The installed `pytriton` package folder ($DEVASSIST_PYTRITON overrides)."""
    env = os.environ.get("DEVASSIST_PYTRITON")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonUnavailable(f"no tritonserver binary: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0])


def backend_directory(work: Path, root: Path | None = None) -> Path:
    """A backend directory for this Python: `python/` with the backend, its utils and the matching stub."""
    root = root or pytriton_root()
    server = root / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonUnavailable(f"the wheel has no Python backend stub for Python {version}")
    dst = work / "backends" / "python"
    dst.mkdir(parents=True, exist_ok=True)
    for src in (server / "backends" / "python" / "libtriton_python.so",
                server / "backends" / "python" / "triton_python_backend_utils.py", stub):
        if not (dst / src.name).is_file() or (dst / src.name).stat().st_size != src.stat().st_size:
            shutil.copy2(src, dst / src.name)  # (a running server's stub is busy: rewrite only what differs)
    return work / "backends"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TritonProcess:
    """A running tritonserver and its three endpoints."""

    process: subprocess.Popen
    http_port: int
    grpc_port: int
    metrics_port: int
    log_path: Path

    @property
    def url(self) -> str:
        """The KServe v2 HTTP endpoint, as `serve --remote` takes it."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        """Triton's Prometheus endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_triton(repo: Path, work: Path, models: tuple[str, ...] = ("generate",), http_port: int = 0,
                 grpc_port: int = 0, metrics_port: int = 0, address: str = "127.0.0.1",
                 ready_timeout_s: float = 120.0, model_env: Path | None = None) -> TritonProcess:
    """Start tritonserver on `repo` and wait (polling, with a deadline) until its ready endpoint says 200.

    `model_env`: a folder of packages (numpy<2, onnxruntime) for model.py (default `model_env_path()`)."""
    root = pytriton_root()
    binary = root / "tritonserver" / "bin" / "tritonserver"
    if not binary.is_file():
        raise TritonUnavailable(f"{binary} is missing: {INSTALL_HINT}")
    work.mkdir(parents=True, exist_ok=True)
    backends = backend_directory(work, root)
    ports = [p or free_port() for p in (http_port, grpc_port, metrics_port)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    # The stub's embedded Python finds its standard library from the `python3` on PATH: a virtual
    # environment's (another build's stdlib under the system's libpython) broke struct unpacking.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not (Path(p).parent / "pyvenv.cfg").is_file())
    # The stub links the system's libpython3.X.so.1.0 (Debian: libpython3.11); pyenv's build of it
    # put first here made the stub misread BYTES tensors, so only the wheel's own libraries go first.
    libs = [str(root.parent / "nvidia_pytriton.libs")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p])
    model_env = model_env or model_env_path()
    if not (model_env / "numpy").is_dir() or not (model_env / "onnxruntime").is_dir():
        raise TritonUnavailable(f"no packages for the Python backend at {model_env}: {ENV_HINT.format(path=model_env)}")
    env["PYTHONPATH"] = str(model_env)  # generate/1/model.py adds it to the stub's sys.path
    cmd = [str(binary), "--model-repository", str(Path(repo).resolve()), "--backend-directory", str(backends),
           "--model-control-mode", "explicit", *[f"--load-model={m}" for m in models],
           "--http-address", address, "--http-port", str(ports[0]), "--grpc-address", address,
           "--grpc-port", str(ports[1]), "--metrics-address", address, "--metrics-port", str(ports[2]),
           "--allow-metrics", "true", "--log-verbose", "0"]
    log_path = work / "tritonserver.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = TritonProcess(process, *ports, log_path)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TritonUnavailable(f"tritonserver exited with {process.returncode}:\n{server.log_tail()}")
        try:
            for model in models:  # the server's own ready endpoint can answer before a model is loaded
                with urllib.request.urlopen(f"{server.url}/v2/models/{model}/ready", timeout=1.0) as reply:
                    reply.read()
            return server
        except OSError:  # refused, or 400 (HTTPError) while a model is loading
            pass
        time.sleep(0.2)  # polling interval for the ready endpoint, bounded by the deadline above
    server.stop()
    raise TritonUnavailable(f"tritonserver not ready after {ready_timeout_s:.0f} s:\n{server.log_tail()}")


def main(argv: list[str] | None = None) -> int:
    """Serve a repository until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m devassist.export.triton.launch", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a repository written by `devassist export --triton`")
    parser.add_argument("--address", default="127.0.0.1", help="listen address (default %(default)s; 0.0.0.0 for a team)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--work", type=Path, default=None, help="folder for the backend directory and log (default REPO.run)")
    args = parser.parse_args(argv)
    try:
        server = start_triton(args.repo, args.work or args.repo.with_name(args.repo.name + ".run"), http_port=args.http_port,
                              grpc_port=args.grpc_port, metrics_port=args.metrics_port, address=args.address)
    except TritonUnavailable as exc:
        print(f"triton: {exc}", file=sys.stderr)
        return 1
    print(f"triton: ready at {server.url} (gRPC :{server.grpc_port}, metrics {server.metrics_url}); log {server.log_path}",
          flush=True)
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        server.stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
