"""`devassist docstring --write` never loses a file: atomic, refused on a concurrent change, line endings kept."""

from __future__ import annotations

import errno
import os

import pytest

from devassist.server import docstring_cli
from devassist.server.features.docstring import DocstringFeature
from devassist.server.parsing import definitions

MIXED = (b"import os\r\n\r\n\r\ndef read_config(path):\r\n    return os.path.join(path, 'x')\r\n\n\n"
         b"def is_ready(flag):\n    return flag is not None\n")


@pytest.fixture(autouse=True)
def no_bundle(tmp_path, monkeypatch):
    """Summaries from the parse alone: no model is loaded."""
    monkeypatch.setenv("DEVASSIST_BUNDLE", str(tmp_path / "no-bundle"))


def test_each_line_keeps_its_own_ending(tmp_path):
    f = tmp_path / "m.py"
    f.write_bytes(MIXED)
    assert docstring_cli.main([str(f), "--write"]) == 0
    data = f.read_bytes()
    text = data.decode()
    assert all(d.docstring for d in definitions(text.replace("\r\n", "\n")))
    for line in MIXED.splitlines(keepends=True):  # every original line is still there, ending and all
        assert line in data
    crlf_part, lf_part = data.split(b"def is_ready")
    # the new docstring of the CRLF function is CRLF; the one of the LF function is LF
    assert b'"""Read the config.\r\n' in crlf_part and b"\r\n" not in lf_part
    assert b'"""Return whether ``flag`` is ready.\n' in lf_part


def test_refused_when_the_file_changes_meanwhile(tmp_path, monkeypatch):
    f = tmp_path / "m.py"
    f.write_bytes(MIXED)
    users_edit = MIXED + b"\n# typed by the user meanwhile\n"
    original = DocstringFeature.edit_for

    def edit_and_touch(self, *args, **kwargs):
        f.write_bytes(users_edit)  # the user saves while the docstrings are being written
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DocstringFeature, "edit_for", edit_and_touch)
    assert docstring_cli.main([str(f), "--write"]) == 2
    assert f.read_bytes() == users_edit  # the user's edit survives; nothing of ours was written


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch, capsys):
    f = tmp_path / "m.py"
    f.write_bytes(MIXED)

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert docstring_cli.main([str(f), "--write"]) == 2
    assert f.read_bytes() == MIXED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]  # no temp file left behind
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if "not written" in ln]  # one line says why
    assert "unchanged" in line and "No space left" in line


def test_a_symlink_is_not_written_through(tmp_path):
    real = tmp_path / "real.py"
    real.write_bytes(MIXED)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    assert docstring_cli.main([str(link), "--write"]) == 2
    assert real.read_bytes() == MIXED and link.is_symlink()
