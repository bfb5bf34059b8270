"""Atomic writes leave the permissions a plain write would, not mkstemp's 0o600."""

import os
import stat

from seqattn.atomic import atomic_write_text


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    os.umask(old)
    path = tmp_path / "summary.md"
    atomic_write_text(path, "x")
    assert _mode(path) == 0o666 & ~old
    assert path.read_text() == "x"


def test_replacing_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_text(path, "new")
    assert _mode(path) == 0o640
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temp file left
