"""SynthesisFeature: workspace checks, progress relay, cancellation, the missing-extra message, options, output safety."""

from __future__ import annotations

import csv
import json
import os
import sys
import textwrap

import pytest

from devassist.server.features.synth import (
    SynthesisCancelled, SynthesisError, SynthesisFeature, TrainingExtraMissing, output_path)

FAKE = textwrap.dedent("""
    import json, os, sys, time
    out = sys.argv[sys.argv.index("--out") + 1]
    open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
    json.dump(sys.argv[1:], open(os.environ["PID_FILE"] + ".argv", "w"))
    for p in (10, 50, 90):
        print(json.dumps({"event": "progress", "percent": p, "message": f"step {p}"}), flush=True)
        time.sleep(float(os.environ.get("STEP_S", "0")))
    print(json.dumps({"event": "note", "message": "a note"}), flush=True)
    open(out, "w").write("a\\n1\\n")
    print(json.dumps({"event": "done", "out": out, "rows": 1}), flush=True)
""")


@pytest.fixture
def workspace(tmp_path):
    """A workspace folder with a fixture, and a fake `devassist synth` script beside it."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.csv").write_text("a\n1\n2\n3\n")
    fake = tmp_path / "fake_synth.py"
    fake.write_text(FAKE)
    return ws, fake


def fake_feature(fake, tmp_path, step_s="0"):
    return SynthesisFeature(command=[sys.executable, str(fake)], poll_s=0.02,
                            env={"PID_FILE": str(tmp_path / "pid"), "STEP_S": step_s})


async def test_relays_progress_and_returns_the_output_beside_the_fixture(workspace, tmp_path):
    ws, fake = workspace
    seen = []
    path = await fake_feature(fake, tmp_path).run(
        (ws / "data.csv").as_uri(), 5, [ws.as_uri()], lambda p, m: seen.append((p, m)), lambda: False)
    assert path == ws / "data.synthetic.csv" and path.read_text() == "a\n1\n"
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    assert (90, "a note") in seen and (50, "step 50") in seen


@pytest.mark.parametrize("target", ["../outside.csv", "/etc/passwd"], ids=["dotdot", "absolute"])
async def test_refuses_paths_outside_the_workspace(workspace, tmp_path, target):
    ws, fake = workspace
    (tmp_path / "outside.csv").write_text("a\n1\n")
    path = target if target.startswith("/") else str(ws / target)
    with pytest.raises(SynthesisError, match="outside the workspace"):
        await fake_feature(fake, tmp_path).run(path, 5, [ws], lambda p, m: None, lambda: False)
    assert not (tmp_path / "outside.synthetic.csv").exists()


async def test_refuses_symlink_escaping_the_workspace(workspace, tmp_path):
    ws, fake = workspace
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (ws / "link.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(SynthesisError, match="outside the workspace"):
        await fake_feature(fake, tmp_path).run(ws / "link.csv", 5, [ws], lambda p, m: None, lambda: False)


@pytest.mark.parametrize("uri,rows,message", [
    ("https://example.com/data.csv", 5, "only file://"),
    (None, -3, "rows must be"),
    (None, "10", "rows must be"),
], ids=["http_uri", "negative_rows", "string_rows"])
async def test_bad_requests_get_clear_errors(workspace, tmp_path, uri, rows, message):
    ws, fake = workspace
    with pytest.raises(SynthesisError, match=message):
        await fake_feature(fake, tmp_path).run(uri or ws / "data.csv", rows, [ws], lambda p, m: None, lambda: False)


async def test_cancel_kills_the_training_process(workspace, tmp_path):
    ws, fake = workspace
    seen = []
    with pytest.raises(SynthesisCancelled):
        await fake_feature(fake, tmp_path, step_s="30").run(
            ws / "data.csv", 5, [ws], lambda p, m: seen.append(p), lambda: 10 in seen)
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not output_path(ws / "data.csv").exists()


async def test_missing_training_extra_is_reported_clearly(workspace, tmp_path):
    ws, _ = workspace
    shadow = tmp_path / "no_torch" / "torch"
    shadow.mkdir(parents=True)  # a `torch` that fails to import, as on a server-only install
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    feature = SynthesisFeature(env={"PYTHONPATH": str(shadow.parent)})
    with pytest.raises(TrainingExtraMissing, match=r'pip install "devassist\[cpu,train\]"'):
        await feature.run(ws / "data.csv", 5, [ws], lambda p, m: None, lambda: False)


@pytest.mark.slow
async def test_real_training_process_writes_synthetic_rows(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "t.csv").write_text("x,k\n" + "".join(f"{i * 0.5},{'ab'[i % 2]}\n" for i in range(40)))
    seen = []
    path = await SynthesisFeature(extra_args=["--epochs", "5"]).run(
        (ws / "t.csv").as_uri(), 12, [ws.as_uri()], lambda p, m: seen.append(p), lambda: False)
    assert path == ws / "t.synthetic.csv"
    assert path.read_text().splitlines()[0] == "x,k" and len(path.read_text().splitlines()) == 13
    assert seen[-1] == 100 and len(seen) > 3


@pytest.mark.slow
async def test_real_process_reports_bad_fixture(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "h.csv").write_text("only,a,header\n")
    with pytest.raises(SynthesisError, match="header but no rows"):
        await SynthesisFeature().run(ws / "h.csv", 5, [ws], lambda p, m: None, lambda: False)


@pytest.fixture
def recorded(workspace, tmp_path):
    """The workspace, a fake-backed feature, a 'home' file to protect, and where the fake records its argv."""
    ws, fake = workspace
    home_file = tmp_path / "home" / ".bashrc"
    home_file.parent.mkdir()
    home_file.write_text("export PATH=$PATH:~/bin\n")
    return ws, fake_feature(fake, tmp_path), home_file, tmp_path / "pid.argv"


def run(feature, ws, **options):
    """Run the feature on ws/data.csv with 5 rows."""
    return feature.run(ws / "data.csv", 5, [ws], lambda p, m: None, lambda: False, **options)


async def test_options_reach_the_training_command(recorded):
    ws, feature, _, argv_file = recorded
    await run(feature, ws, seed=7, model="vae", where={"a": 1, "flag": True}, constraints=["a <= b"])
    argv = json.loads(argv_file.read_text())
    assert argv[argv.index("--seed") + 1] == "7" and argv[argv.index("--model") + 1] == "vae"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--where"] == ["a=1", "flag=true"]
    assert argv[argv.index("--constraint") + 1] == "a <= b" and "--force" not in argv


async def test_planted_symlink_output_is_refused_and_its_target_untouched(recorded):
    ws, feature, home_file, argv_file = recorded
    (ws / "data.synthetic.csv").symlink_to(home_file)
    for overwrite in (False, True):
        with pytest.raises(SynthesisError, match="symbolic link"):
            await run(feature, ws, overwrite=overwrite)
    assert home_file.read_text() == "export PATH=$PATH:~/bin\n"
    assert not argv_file.exists()  # refused before the training process started


async def test_existing_output_needs_overwrite(recorded):
    ws, feature, _, argv_file = recorded
    existing = ws / "data.synthetic.csv"
    existing.write_text("keep me\n")
    with pytest.raises(SynthesisError, match="exists"):
        await run(feature, ws)
    assert existing.read_text() == "keep me\n" and not argv_file.exists()
    await run(feature, ws, overwrite=True)
    assert "--force" in json.loads(argv_file.read_text()) and existing.read_text() == "a\n1\n"


@pytest.mark.parametrize("options,message", [
    ({"model": "xgboost"}, "model must be one of"),
    ({"seed": "abc"}, "seed must be a whole number"),
    ({"where": ["a=1"]}, "where must be an object"),
    ({"constraints": [3]}, "constraints must be a list"),
], ids=["model", "seed", "where", "constraints"])
async def test_malformed_options_get_one_clear_error(recorded, options, message):
    ws, feature, _, argv_file = recorded
    with pytest.raises(SynthesisError, match=message):
        await run(feature, ws, **options)
    assert not argv_file.exists()


@pytest.mark.slow
async def test_real_process_honours_where_and_constraint(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    rows = "".join(f"{i % 7},{i % 7 + 1 + i % 3},{'ns'[i % 2]}\n" for i in range(80))
    (ws / "t.csv").write_text("low,high,side\n" + rows)
    path = await SynthesisFeature().run(ws / "t.csv", 50, [ws], lambda p, m: None, lambda: False, seed=3,
                                        model="copula", where={"side": "s"}, constraints=["low < high"])
    synth = list(csv.DictReader(path.open()))
    assert len(synth) == 50 and {r["side"] for r in synth} == {"s"}
    assert all(int(r["low"]) < int(r["high"]) for r in synth)
