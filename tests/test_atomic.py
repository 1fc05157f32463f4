from __future__ import annotations

import json
import os

import pytest

from datrig.atomic import TMP_PREFIX, atomic_dir, atomic_path, write_json
from datrig.errors import DatrigError


def test_atomic_path_renames_on_success(tmp_path):
    dest = tmp_path / "out.bin"
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"abc")
        assert not dest.exists()
    assert dest.read_bytes() == b"abc"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_atomic_path_leaves_nothing_on_crash(tmp_path):
    dest = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_crash(tmp_path):
    dest = tmp_path / "out.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("new, half")
        raise RuntimeError
    assert dest.read_text() == "old"


def test_atomic_dir_replaces_existing(tmp_path):
    dest = tmp_path / "project"
    dest.mkdir()
    (dest / "stale").write_text("x")
    with atomic_dir(dest) as tmp:
        (tmp / "fresh").write_text("y")
    assert sorted(p.name for p in dest.iterdir()) == ["fresh"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_atomic_dir_crash_keeps_previous_project(tmp_path):
    dest = tmp_path / "project"
    dest.mkdir()
    (dest / "good").write_text("x")
    with pytest.raises(ValueError), atomic_dir(dest) as tmp:
        (tmp / "partial").write_text("y")
        raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    assert sorted(p.name for p in dest.iterdir()) == ["good"]


def test_write_json_is_stable(tmp_path):
    import numpy as np

    write_json(tmp_path / "a.json", {"b": np.float32(1.5), "a": np.arange(2)})
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text) == {"a": [0, 1], "b": 1.5}
    assert text.index('"a"') < text.index('"b"')


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(DatrigError, match="not writable"), atomic_path(locked / "x"):
        pass


def test_uncreatable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.raises(DatrigError, match="cannot create output directory"),
        atomic_path(blocker / "sub" / "x"),
    ):
        pass


def test_outputs_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
