from __future__ import annotations

import json
import os

import pytest

from datrig.atomic import (
    CONTENTS,
    TMP_PREFIX,
    ArtefactKind,
    atomic_dir,
    atomic_path,
    check_replaceable,
    destination_lock,
    replace_dir,
    write_json,
)
from datrig.errors import DatrigError

KIND = ArtefactKind("test artefact", "marker.json", "test")


def _mark(folder, value="test"):
    (folder / "marker.json").write_text(json.dumps({"stage": value}))


def _artefact(dest, *files, kind=KIND):
    """A finished ``kind`` artefact at ``dest`` holding ``files``, written as datrig does."""
    with atomic_dir(dest, kind) as tmp:
        for name in files:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(name)
        _mark(tmp)


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


def test_atomic_dir_replaces_an_artefact_of_its_kind(tmp_path):
    dest = tmp_path / "project"
    _artefact(dest, "stale", "sub/old")
    with atomic_dir(dest, KIND) as tmp:
        (tmp / "fresh").write_text("y")
        _mark(tmp)
    assert sorted(p.name for p in dest.iterdir()) == [CONTENTS, "fresh", "marker.json"]
    assert json.loads((dest / CONTENTS).read_text())["entries"] == ["fresh", "marker.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_atomic_dir_crash_keeps_previous_project(tmp_path):
    dest = tmp_path / "project"
    _artefact(dest)
    with pytest.raises(ValueError), atomic_dir(dest, KIND) as tmp:
        (tmp / "partial").write_text("y")
        _mark(tmp)
        raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    assert sorted(p.name for p in dest.iterdir()) == [CONTENTS, "marker.json"]


@pytest.mark.parametrize("what", ["foreign folder", "other kind", "file", "dot"])
def test_nothing_datrig_did_not_create_is_replaced(tmp_path, monkeypatch, what):
    dest = tmp_path / "out"
    if what == "file":
        dest.write_text("my notes")
    elif what == "dot":
        monkeypatch.chdir(tmp_path)
        (tmp_path / "notes.txt").write_text("mine")
        dest = tmp_path / "."
    else:
        dest.mkdir()
        (dest / "thesis.tex").write_text("mine")
        if what == "other kind":
            _mark(dest, "qat")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(DatrigError, match=r"nothing was changed|not a folder|working directory"):
        check_replaceable(dest, KIND)
    with pytest.raises(DatrigError), atomic_dir(dest, KIND) as tmp:
        _mark(tmp)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_folder_without_the_marker_is_never_swapped_in(tmp_path):
    with pytest.raises(DatrigError, match="internal error"), atomic_dir(tmp_path / "d", KIND):
        pass  # forgot to write the marker: an incomplete artefact
    assert list(tmp_path.iterdir()) == []


def test_replace_dir_swaps_a_staging_folder(tmp_path):
    staging, dest = tmp_path / ".run.partial", tmp_path / "run"
    _artefact(dest, "content")
    staging.mkdir()
    _mark(staging)
    (staging / "content").write_text("new")
    replace_dir(staging, dest, KIND)
    assert (dest / "content").read_text() == "new" and not staging.exists()


def test_interrupted_non_atomic_swap_is_rolled_back(tmp_path):
    """Without RENAME_EXCHANGE the old folder is moved aside first; if the writer dies before
    the new one is in place, the next writer puts the old one back."""
    from datrig.atomic import _host

    aside = tmp_path / f"{TMP_PREFIX}{_host()}-{_dead_pid()}-old-project"
    aside.mkdir()
    (aside / "good").write_text("x")
    write_json(tmp_path / "other.json", {})  # any atomic write sweeps
    assert (tmp_path / "project" / "good").read_text() == "x" and not aside.exists()


def test_concurrent_writers_are_serialised_and_leave_no_lock(tmp_path):
    import subprocess
    import sys

    dest = tmp_path / "project"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from datrig.atomic import destination_lock\n"
         f"with destination_lock({str(dest)!r}):\n"
         "    print('locked', flush=True); time.sleep(1.5)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    with (
        pytest.raises(DatrigError, match="another datrig process is writing"),
        destination_lock(dest, wait=False),
    ):
        pass
    with destination_lock(dest):  # waits for the holder
        assert holder.wait(timeout=30) == 0
    assert list(tmp_path.iterdir()) == []


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
        with atomic_dir(tmp_path / "d", KIND) as tmp:
            _mark(tmp)
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

    out = tmp_path / "data"
    env = {**os.environ, "DATRIG_PAUSE_AT": "simulate:wrote-photons_sim.h5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "simulate", "--out", str(out), "--n", "300",
         "--quiet", "--seed", "1"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert "datrig-paused-at" in proc.stderr.readline()
    assert any(p.name.startswith(TMP_PREFIX) for p in tmp_path.iterdir())  # mid-write
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated; no partial output was kept" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("added", "named"),
    [("notes.txt", "notes.txt"), ("sub/notes.txt", "sub/notes.txt"), ("inner/", "inner/")],
)
def test_an_artefact_holding_what_datrig_did_not_write_is_refused(tmp_path, added, named):
    """Files a user (or another --out) put inside an artefact make it foreign: refused, not
    cleaned; derived paths of the kind (a report added by a later stage) are datrig's."""
    kind = ArtefactKind("test artefact", "marker.json", "test", derived=("report.md", "rtl"))
    dest = tmp_path / "a"
    _artefact(dest, "sub/x", kind=kind)
    (dest / "report.md").write_text("a later stage's")
    _artefact(dest / "rtl", kind=kind)  # a nested artefact at a derived path
    check_replaceable(dest, kind)
    if added.endswith("/"):
        _artefact(dest / added, "x", kind=kind)  # a nested artefact nobody declared
    else:
        (dest / added).write_text("mine")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(DatrigError, match=f"files datrig did not write there \\({named}"):
        check_replaceable(dest, kind)
    with pytest.raises(DatrigError), atomic_dir(dest, kind) as tmp:
        _mark(tmp)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_an_artefact_without_a_record_of_its_files_is_not_replaced(tmp_path):
    dest = tmp_path / "old"
    dest.mkdir()
    _mark(dest)
    (dest / "data.h5").write_text("x")
    with pytest.raises(DatrigError, match="older datrig that did not record its files"):
        check_replaceable(dest, KIND)


def test_the_root_and_the_working_directory_are_never_a_destination(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for dest, match in (("/", "filesystem root"), (".", "working directory"),
                        ("..", "working directory")):  # fmt: skip
        with pytest.raises(DatrigError, match=match), destination_lock(dest):
            pass
        with pytest.raises(DatrigError, match=match), atomic_dir(dest, KIND) as tmp:
            _mark(tmp)
    assert not os.path.lexists("/..datrig-lock") and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_folder_the_system_refuses_is_one_line():
    """/proc exists and looks writable to root, yet nothing can be created in it."""
    for write in (lambda: atomic_dir("/proc/datrig-x", KIND), lambda: atomic_path("/proc/x.h5"),
                  lambda: destination_lock("/proc/datrig-x")):  # fmt: skip
        refused = r"cannot write in /proc|/proc is not writable"
        with pytest.raises(DatrigError, match=refused), write():
            pass
