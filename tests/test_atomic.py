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


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_leftovers_of_dead_writers_are_swept(tmp_path):
    from datrig.atomic import _host

    dead = tmp_path / f"{TMP_PREFIX}{_host()}-{_dead_pid()}-abc"
    (dead / "sub").mkdir(parents=True)
    dead_file = tmp_path / f"{TMP_PREFIX}{_host()}-{_dead_pid()}-x.h5"
    dead_file.write_bytes(b"half")
    live = tmp_path / f"{TMP_PREFIX}{_host()}-{os.getpid()}-live"
    live.mkdir()
    foreign = tmp_path / f"{TMP_PREFIX}otherhost-{_dead_pid()}-nfs"
    foreign.mkdir()
    write_json(tmp_path / "a.json", {})
    assert not dead.exists() and not dead_file.exists()
    assert live.exists(), "a running writer's temporary must survive"
    assert foreign.exists(), "another host's temporary must survive (shared filesystems)"


def test_sigterm_removes_partial_output(tmp_path):
    """A SIGTERM mid-write (batch kill, CI time-out) unwinds: exit 143, no temporaries."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "simulate", "--out", str(out), "--n", "3000000",
         "--quiet", "--seed", "1"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out.exists() and any(p.name.startswith(TMP_PREFIX) for p in out.iterdir())):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "simulate never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated; no partial output was kept" in err
    assert [p.name for p in out.iterdir()] == []
