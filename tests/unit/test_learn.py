"""Learning a workspace without training: the cache layout and its rules, the split, the measure's parts."""

from __future__ import annotations

import json

import pytest

from devassist.evaluation.typing_spots import sample_spots
from devassist.server import workspace_cache
from devassist.server.features.learn import LearnError, remove_leftovers, workspace_path
from devassist.training.learn import is_better, spot_document


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """XDG_CACHE_HOME pointed at a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "devassist"


def fake_bundle(folder, text="{}"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(text)
    return folder


def test_cache_folder_is_keyed_by_the_resolved_workspace_path(cache, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "link").symlink_to(ws)
    assert workspace_cache.workspace_dir(ws) == workspace_cache.workspace_dir(tmp_path / "link")
    assert workspace_cache.workspace_dir(ws).parent == cache / "workspaces"
    assert workspace_cache.workspace_dir(ws) != workspace_cache.workspace_dir(tmp_path)
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert workspace_cache.cache_home() == tmp_path / "home" / ".cache" / "devassist"


@pytest.mark.parametrize("record_base, adopted, has_bundle, used", [
    ("same", True, True, True),
    ("other", True, True, False),  # adapted from another bundle: never served on top of this one
    ("same", False, True, False),
    ("same", True, False, False),
], ids=["matching-base", "other-base", "not-adopted", "bundle-gone"])
def test_adapted_bundle_only_for_its_own_base(cache, tmp_path, record_base, adopted, has_bundle, used):
    ws = tmp_path / "ws"
    ws.mkdir()
    base = fake_bundle(tmp_path / "base", '{"name": "base"}')
    folder = workspace_cache.workspace_dir(ws)
    if has_bundle:
        fake_bundle(folder / "bundle")
    folder.mkdir(parents=True, exist_ok=True)
    sha = workspace_cache.bundle_sha(base) if record_base == "same" else "0" * 64
    (folder / "record.json").write_text(json.dumps({"adopted": adopted, "base_bundle": {"sha256": sha}}))
    found = workspace_cache.adapted_bundle(ws, base)
    assert (found is not None) == used
    if used:
        assert found[0] == folder / "bundle"


def test_unreadable_record_is_ignored(cache, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    folder = workspace_cache.workspace_dir(ws)
    folder.mkdir(parents=True)
    (folder / "record.json").write_text("{not json")
    assert workspace_cache.read_record(ws) is None
    assert workspace_cache.adapted_bundle(ws, fake_bundle(tmp_path / "base")) is None


def test_leftovers_of_a_killed_run_are_removed_and_an_empty_cache_folder_too(cache, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    folder = workspace_cache.workspace_dir(ws)
    (folder / "bundle.partial").mkdir(parents=True)
    (folder / "bundle.work.partial" / "run").mkdir(parents=True)
    remove_leftovers(ws)
    assert not folder.exists()
    fake_bundle(folder / "bundle")
    (folder / "bundle.partial").mkdir()
    remove_leftovers(ws)
    assert [p.name for p in folder.iterdir()] == ["bundle"]  # an adopted bundle stays


def test_workspace_path_must_be_an_open_folder(tmp_path):
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    assert workspace_path(None, [ws]) == ws.resolve()
    assert workspace_path((ws / "pkg").as_uri(), [ws.as_uri()]) == (ws / "pkg").resolve()
    with pytest.raises(LearnError, match="not in the workspace folders"):
        workspace_path(tmp_path.as_uri(), [ws])
    with pytest.raises(LearnError, match="no workspace folder"):
        workspace_path(None, [])
    with pytest.raises(LearnError, match="only file://"):
        workspace_path("https://example.com/x", [ws])


def test_split_by_file_is_deterministic_and_holds_out_at_least_one(tmp_path):
    from devassist.training.corpus import build_corpus
    from devassist.training.finetune import resplit

    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    build_corpus([src], tmp_path / "corpus", progress=False)
    first = {r["path"]: r["split"] for r in resplit(tmp_path / "corpus", 0)}
    assert sorted(first.values()) == ["train", "train", "valid"]
    assert {r["path"]: r["split"] for r in resplit(tmp_path / "corpus", 0)} == first


def test_spot_document_puts_the_cursor_after_the_keystrokes():
    text = "import os\n\ndef f(path):\n    return os.path.join(path, 'x')\n"
    for spot in sample_spots([("a.py", text)], per_kind=2, seed=0):
        doc, offset = spot_document(spot)
        line_start = doc.rfind("\n", 0, offset) + 1
        assert offset - line_start == spot.cursor_col
        assert (doc[line_start:offset] + spot.rest).rstrip() == text.split("\n")[spot.line].rstrip()


@pytest.mark.parametrize("before, after, better", [
    ((10.0, 50.0), (20.0, 49.0), True),  # clearly more useful suggestions decide (60 spots: noise 8.3 points)
    ((20.0, 50.0), (10.0, 60.0), False),
    ((38.3, 52.8), (36.7, 57.2), True),  # one spot fewer is noise: next-token accuracy decides (flask)
    ((40.0, 52.8), (35.0, 56.7), True),  # three fewer too (flask, 4 epochs: +7.8 points in `evaluate typing`)
    ((10.0, 50.0), (15.0, 49.0), False),  # three more, lower accuracy
    ((10.0, 50.0), (10.0, 50.0), False),
], ids=["more-useful", "less-useful", "one-spot-fewer", "three-spots-fewer", "three-spots-more", "no-change"])
def test_is_better(before, after, better):
    as_metrics = lambda m: {"spots": 60, "useful_pct": m[0], "next_token_accuracy": m[1]}  # noqa: E731
    assert is_better(as_metrics(before), as_metrics(after)) is better


@pytest.mark.parametrize("serves_fim, fim_rate", [(False, 0.0), (True, 0.5)], ids=["prefix-only", "fim"])
def test_learn_trains_on_samples_shaped_like_the_served_prompts(serves_fim, fim_rate):
    from types import SimpleNamespace

    from devassist.training.learn import learn_config

    base = SimpleNamespace(manifest={"defaults": {"fim": serves_fim},
                                     "training": {"config": {"model": {"n_layer": 2}, "data": {"fim_rate": 0.5}}}})
    cfg = learn_config(base, 60.0, max_steps=40)
    assert cfg.data.fim_rate == fim_rate
    assert cfg.model.n_layer == 2 and cfg.train.max_steps == 40 and cfg.train.time_budget_s == 60.0


def test_learning_stops_after_a_few_passes_over_the_workspace():
    from types import SimpleNamespace

    from devassist.training.learn import EPOCHS, learn_config

    base = SimpleNamespace(manifest={"training": {"config": {"model": {"context_length": 64}}}})
    cfg = learn_config(base, 600.0, train_tokens=6400)  # 6,400 tokens: 12.5 steps of 8 x 64 per pass
    assert cfg.train.max_steps == round(EPOCHS * 12.5)
    assert learn_config(base, 600.0, max_steps=30, train_tokens=6400).train.max_steps == 30
    assert learn_config(base, 600.0, train_tokens=10).train.max_steps == cfg.train.warmup_steps + 1
