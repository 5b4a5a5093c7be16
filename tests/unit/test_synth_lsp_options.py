"""The LSP command's options (seed, model, where, constraints, overwrite) and where its output may go."""

from __future__ import annotations

import csv
import json
import sys
import textwrap

import pytest

from devassist.server.features.synth import SynthesisError, SynthesisFeature

FAKE = textwrap.dedent("""
    import json, os, sys
    json.dump(sys.argv[1:], open(os.environ["ARGV_FILE"], "w"))
    out = sys.argv[sys.argv.index("--out") + 1]
    open(out, "w").write("a\\n1\\n")
    print(json.dumps({"event": "done", "out": out, "rows": 1}), flush=True)
""")


@pytest.fixture
def workspace(tmp_path):
    """A workspace with a fixture, a fake `devassist synth` that records its arguments, and a 'home' file."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.csv").write_text("a\n1\n2\n3\n")
    fake = tmp_path / "fake_synth.py"
    fake.write_text(FAKE)
    home_file = tmp_path / "home" / ".bashrc"
    home_file.parent.mkdir()
    home_file.write_text("export PATH=$PATH:~/bin\n")
    feature = SynthesisFeature(command=[sys.executable, str(fake)], poll_s=0.02,
                               env={"ARGV_FILE": str(tmp_path / "argv.json")})
    return ws, feature, home_file, tmp_path / "argv.json"


def run(feature, ws, **options):
    """Run the feature on ws/data.csv with 5 rows."""
    return feature.run(ws / "data.csv", 5, [ws], lambda p, m: None, lambda: False, **options)


async def test_options_reach_the_training_command(workspace):
    ws, feature, _, argv_file = workspace
    await run(feature, ws, seed=7, model="vae", where={"a": 1, "flag": True}, constraints=["a <= b"])
    argv = json.loads(argv_file.read_text())
    assert argv[argv.index("--seed") + 1] == "7" and argv[argv.index("--model") + 1] == "vae"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--where"] == ["a=1", "flag=true"]
    assert argv[argv.index("--constraint") + 1] == "a <= b" and "--force" not in argv


async def test_planted_symlink_output_is_refused_and_its_target_untouched(workspace):
    ws, feature, home_file, argv_file = workspace
    (ws / "data.synthetic.csv").symlink_to(home_file)
    for overwrite in (False, True):
        with pytest.raises(SynthesisError, match="symbolic link"):
            await run(feature, ws, overwrite=overwrite)
    assert home_file.read_text() == "export PATH=$PATH:~/bin\n"
    assert not argv_file.exists()  # refused before the training process started


async def test_existing_output_needs_overwrite(workspace):
    ws, feature, _, argv_file = workspace
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
async def test_malformed_options_get_one_clear_error(workspace, options, message):
    ws, feature, _, argv_file = workspace
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
