"""`devassist evaluate serving --users N`: N people typing at once, on one Triton server vs N local models.

Each simulated user is an editor with its own `devassist serve` process and types the typing
benchmark's keystroke pattern (`evaluation/typing.py`: a keystroke every 70 ms, each with an
inline completion request that cancels the previous one) at seeded spots, all users at once.
Two arms on the same machine, the same spots:

- *triton*: the N servers run `serve --remote URL` against one tritonserver (the nvidia-pytriton
  wheel's binary, started here on 127.0.0.1 with a repository exported from the bundle, unless
  `--remote` names a running one); the model runs only in Triton;
- *local*: the N servers each load the bundle's model (today's setup).

Users talk to LSP servers rather than straight to Triton because that is what an editor waits
for: tokenizer, prompt, the network hop, stop rules and filters are all in the measured time,
and the two arms differ only in where the decoding runs. Review is off and the completion list
is not requested (with `--remote` the list has no model words; the arms would not do the same work).

Reported per arm: latency p50/p95 of the answered completion after each spot's last keystroke,
completion requests sent and answered per second, CPU seconds per completion request (every
process of the arm: LSP servers, tritonserver and its Python-backend stubs), peak RSS summed over
those processes, the load average; for Triton, its Prometheus counters (requests, executions,
average batch size, queue and compute time per request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

from devassist.evaluation.latency import peak_rss_mb
from devassist.evaluation.lsp_client import LspClient, server_command
from devassist.evaluation.typing import Editor, pct, type_spot
from devassist.evaluation.typing_spots import KINDS, collect_files, sample_spots

EPILOG = """examples:
  devassist evaluate serving --users 8                                   # shipped bundle, stdlib `email` as text
  devassist evaluate serving --users 8 --spots 6 --source runs/heldout-clean --json --out serving.json
  devassist evaluate serving --users 4 --remote http://gpu-box:8000 --arms triton   # an existing Triton
"""
SETTINGS = {"review": {"enabled": False}}
TICKS = os.sysconf("SC_CLK_TCK")
COUNTERS = ("nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
            "nv_inference_exec_count", "nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
            "nv_inference_request_duration_us")


def process_tree(roots: list[int]) -> list[int]:
    """`roots` and all their descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (their own threads; live processes only)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def scrape(metrics_url: str) -> dict[str, float]:
    """Triton's Prometheus counters for `generate`, summed over versions."""
    with urllib.request.urlopen(metrics_url, timeout=5) as reply:
        text = reply.read().decode()
    out = dict.fromkeys(COUNTERS, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0]
        if name in out and 'model="generate"' in line:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


async def user(client: LspClient, root: Path, index: int, spots, warmup=None) -> list[dict]:
    """One person typing `spots` (or only the `warmup` spot), one document per spot."""
    editor = Editor(client)
    if warmup is not None:
        uri = (root / f"user{index}_warmup.py").as_uri()
        editor.open(uri, warmup.before)
        await type_spot(editor, uri, warmup, with_list=False)
        return []
    rows = []
    for k, spot in enumerate(spots):
        uri = (root / f"user{index}_{k}.py").as_uri()
        editor.open(uri, spot.before)
        rows.append(dict(await type_spot(editor, uri, spot, with_list=False), keystrokes=len(spot.keystrokes)))
    return rows


async def run_arm(name: str, command: list[str], users: int, per_user, warmup, root: Path, extra_pids=(),
                  metrics_url: str | None = None) -> dict:
    """Start N servers, let every user type at once, measure the arm."""
    clients = [LspClient(command, settings=SETTINGS) for _ in range(users)]
    await asyncio.gather(*(c.start(root) for c in clients))
    pids = lambda: process_tree([c.proc.pid for c in clients] + list(extra_pids))  # noqa: E731
    try:
        await asyncio.gather(*(user(c, root, i, [], warmup) for i, c in enumerate(clients)))
        before_cpu, before_metrics = cpu_seconds(pids()), scrape(metrics_url) if metrics_url else None
        load_before, started = os.getloadavg(), time.monotonic()
        rows = await asyncio.gather(*(user(c, root, i, per_user[i]) for i, c in enumerate(clients)))
        wall = time.monotonic() - started
        cpu = cpu_seconds(pids()) - before_cpu
        rss = [peak_rss_mb(p) or 0.0 for p in pids()]
        metrics = scrape(metrics_url) if metrics_url else None
    finally:
        await asyncio.gather(*(c.stop() for c in clients))
    rows = [r for rs in rows for r in rs]
    requests = sum(r["keystrokes"] for r in rows)
    report = {"arm": name, "users": users, "spots": len(rows), "completion_requests": requests,
              "latency": pct([r["latency_ms"] for r in rows]), "wall_s": round(wall, 1),
              "requests_per_s": round(requests / wall, 2), "answered_per_s": round(len(rows) / wall, 2),
              "shown_pct": round(100.0 * sum(1 for r in rows if r["shown"]) / max(1, len(rows)), 1),
              "cpu_s": round(cpu, 2), "cpu_s_per_request": round(cpu / max(1, requests), 4),
              "cpu_s_per_spot": round(cpu / max(1, len(rows)), 3), "rss_total_mb": round(sum(rss), 1),
              "processes": len(rss), "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()]}
    if metrics is not None:
        delta = {k: metrics[k] - before_metrics[k] for k in COUNTERS}
        n, execs = delta["nv_inference_count"], delta["nv_inference_exec_count"]
        report["triton"] = {"requests": int(delta["nv_inference_request_success"]),
                            "failures": int(delta["nv_inference_request_failure"]), "executions": int(execs),
                            "avg_batch_size": round(n / execs, 2) if execs else None,
                            "queue_ms_per_request": round(delta["nv_inference_queue_duration_us"] / max(1, n) / 1000, 2),
                            "compute_ms_per_request": round(delta["nv_inference_compute_infer_duration_us"] / max(1, n) / 1000, 2)}
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist evaluate serving", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8, help="people typing at once (default %(default)s)")
    parser.add_argument("--spots", type=int, default=6, help="spots each user types (default %(default)s)")
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]) / "email",
                        help="Python code to type into (default: the standard library's email package)")
    parser.add_argument("--bundle", type=Path, help="bundle (default: the shipped models/default)")
    parser.add_argument("--remote", help="use this running Triton (http://HOST:PORT) instead of starting one")
    parser.add_argument("--metrics", help="its metrics URL (default: port 8002 of --remote's host)")
    parser.add_argument("--instances", type=int, default=2, help="generate instances when started here (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per instance (default 1)")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http",
                        help="how the LSP servers reach the Triton started here (gRPC cancels on the server too)")
    parser.add_argument("--arms", default="triton,local", help="which arms to run (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    if args.users < 1 or args.spots < 1:
        parser.error("--users and --spots must be at least 1")
    files = collect_files(args.source)
    if not files:
        parser.error(f"no readable Python files under {args.source}")
    spots = sample_spots(files, -(-(args.users * args.spots + 1) // len(KINDS)), args.seed)
    warmup, spots = spots[0], spots[1:]
    per_user = [spots[i::args.users][:args.spots] for i in range(args.users)]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    report = {"users": args.users, "spots_per_user": args.spots, "source": str(args.source),
              "bundle": str(args.bundle or "models/default"), "cpus": os.cpu_count(), "arms": {}}
    with tempfile.TemporaryDirectory(prefix="devassist-serving-") as tmp:
        root = Path(tmp)
        if "triton" in arms:
            report["arms"]["triton"] = asyncio.run(_triton_arm(args, per_user, warmup, root, report))
        if "local" in arms:
            report["arms"]["local"] = asyncio.run(run_arm("local", server_command(args.bundle), args.users, per_user,
                                                          warmup, root))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1) if args.json else table(report))
    return 0


async def _triton_arm(args, per_user, warmup, root: Path, report: dict) -> dict:
    from devassist.export.triton.launch import start_triton
    from devassist.export.triton.repository import export_triton
    from devassist.server.bundle import default_bundle_path

    if args.remote:
        from urllib.parse import urlparse

        host = urlparse(args.remote).hostname
        return await run_arm("triton", server_command(args.bundle) + ["--remote", args.remote], args.users, per_user,
                             warmup, root, metrics_url=args.metrics or f"http://{host}:8002/metrics")
    export_triton(args.bundle or default_bundle_path(), root / "repo", instances=args.instances, threads=args.threads,
                  log=lambda *_: None)
    server = start_triton(root / "repo", root / "triton")
    url = server.url if args.protocol == "http" else f"grpc://127.0.0.1:{server.grpc_port}"
    try:
        report["triton_server"] = {"instances": args.instances, "threads_per_instance": args.threads, "url": url,
                                   "rss_idle_mb": round(sum(peak_rss_mb(p) or 0 for p in process_tree([server.process.pid])), 1)}
        return await run_arm("triton", server_command(args.bundle) + ["--remote", url], args.users, per_user,
                             warmup, root, extra_pids=[server.process.pid], metrics_url=server.metrics_url)
    finally:
        server.stop()


def table(report: dict) -> str:
    """The two arms side by side."""
    lines = [f"serving: {report['users']} users x {report['spots_per_user']} spots on {report['cpus']} CPUs ({report['bundle']})",
             "arm      p50 ms  p95 ms  req/s  answered/s  shown %  CPU s/request  CPU s/spot  RSS total MB  load before -> after"]
    for name, a in report["arms"].items():
        lat = a["latency"]
        lines.append(f"{name:<8} {lat.get('p50_ms', 0):6.1f} {lat.get('p95_ms', 0):7.1f} {a['requests_per_s']:6.2f} "
                     f"{a['answered_per_s']:11.2f} {a['shown_pct']:8.1f} {a['cpu_s_per_request']:14.4f} "
                     f"{a['cpu_s_per_spot']:11.3f} {a['rss_total_mb']:13.1f}  {a['load_before']} -> {a['load_after']}")
        if a.get("triton"):
            lines.append(f"         triton: {a['triton']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
