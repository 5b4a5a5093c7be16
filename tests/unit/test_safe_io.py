"""write_atomic: never through a symlink, never outside the root, never over a file unasked."""

from __future__ import annotations

import os

import pytest

from devassist.server.safe_io import UnsafeWrite, write_atomic


def test_writes_new_file_and_keeps_line_endings(tmp_path):
    out = write_atomic(tmp_path / "a.txt", "x\r\ny\nz\r\n")
    assert out.read_bytes() == b"x\r\ny\nz\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp file left


def test_refuses_existing_file_without_overwrite(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(UnsafeWrite, match="exists"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    write_atomic(target, "new", overwrite=True)
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_refuses_symlink_even_with_overwrite(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "ws" / "data.csv"
    link.parent.mkdir()
    link.symlink_to(victim)
    with pytest.raises(UnsafeWrite, match="symbolic link"):
        write_atomic(link, "x", overwrite=True)
    assert victim.read_text() == "precious"


def test_refuses_outside_root(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "sub").mkdir()
    write_atomic(ws / "sub" / "ok.txt", "ok", root=ws)
    with pytest.raises(UnsafeWrite, match="outside the workspace"):
        write_atomic(tmp_path / "out.txt", "x", root=ws)
    escape = ws / "escape"
    escape.symlink_to(tmp_path)  # a folder link inside the workspace pointing out of it
    with pytest.raises(UnsafeWrite, match="outside the workspace"):
        write_atomic(escape / "out.txt", "x", root=ws)
    assert not (tmp_path / "out.txt").exists()


def test_missing_folder_and_folder_target(tmp_path):
    with pytest.raises(UnsafeWrite, match="does not exist"):
        write_atomic(tmp_path / "nope" / "a.txt", "x")
    with pytest.raises(UnsafeWrite, match="is a folder"):
        write_atomic(tmp_path, "x", overwrite=True)


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new" * 1000, overwrite=True)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
