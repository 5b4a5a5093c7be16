"""Staged folders: published in one swap when complete, removed on an error or a signal."""

from __future__ import annotations

import signal

import pytest

from devassist.export.staging import Interrupted, UnsafeOutput, signals_held, staged_folder


def make_bundle(folder, text: str):
    """A folder that passes for a bundle of ours (it has a manifest), holding `text`."""
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    (folder / "payload.txt").write_text(text)
    return folder


def test_a_finished_folder_replaces_the_old_one_in_one_step(tmp_path):
    out = make_bundle(tmp_path / "out", "old")
    with staged_folder(out) as staging:
        assert staging.name == "out.partial" and list(staging.iterdir()) == []
        (staging / "manifest.json").write_text("{}")
        (staging / "payload.txt").write_text("new")
        assert (out / "payload.txt").read_text() == "old"  # untouched until the block ends
    assert (out / "payload.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("stop", ["error", "SIGINT", "SIGTERM"])
def test_an_error_or_a_signal_leaves_the_old_folder_and_no_partial(tmp_path, stop):
    out = make_bundle(tmp_path / "out", "old")
    expected = (RuntimeError, "export failed") if stop == "error" else (Interrupted, f"interrupted by {stop}")
    with pytest.raises(expected[0], match=expected[1]):
        with staged_folder(out) as staging:
            (staging / "payload.txt").write_text("half")
            if stop == "error":
                raise RuntimeError("export failed")
            signal.raise_signal(getattr(signal, stop))  # its handler runs before this returns
            pytest.fail("the signal did not interrupt the block")
    assert (out / "payload.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored


def test_a_stale_partial_folder_is_removed_first(tmp_path):
    (tmp_path / "out.partial").mkdir()
    (tmp_path / "out.partial" / "lm.onnx").write_bytes(b"half")
    with staged_folder(tmp_path / "out") as staging:
        assert list(staging.iterdir()) == []
        (staging / "manifest.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_that_is_not_ours_or_a_symlink_is_never_replaced(tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    (tmp_path / "link").symlink_to(make_bundle(tmp_path / "real", "old"))
    for out, reason in ((mine, "not a devassist bundle"), (tmp_path / "link", "symbolic link")):
        with pytest.raises(UnsafeOutput, match=reason):
            with staged_folder(out):
                pytest.fail("entered the block")
    assert (mine / "notes.txt").read_text() == "keep" and (tmp_path / "real" / "payload.txt").read_text() == "old"


def test_held_signals_arrive_when_the_block_ends():
    # A process started in the background by a shell inherits SIGINT ignored; Python then keeps
    # SIG_IGN instead of raising KeyboardInterrupt. Install Python's own handler for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached_end = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with signals_held():
                signal.raise_signal(signal.SIGINT)
                reached_end = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached_end
