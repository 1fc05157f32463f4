"""Atomic outputs: a crash never leaves a half-written file or folder that looks complete, and
datrig never replaces anything it did not create.

Everything is written under a temporary name in the destination's own directory (same
filesystem) and renamed into place only once it is complete. A folder replaces the previous
one in a single ``renameat2(RENAME_EXCHANGE)`` system call, so at every instant either the
old or the new folder is in place; where the kernel lacks that call, the old folder is moved
aside first and a crash in between is rolled back by the next writer (:func:`sweep_stale`).

A folder is only replaced when it is missing, empty, or datrig's own artefact of the same
kind (:class:`ArtefactKind`: a marker file that datrig writes into every such folder) holding
nothing but what datrig wrote: every artefact folder records its contents when it is swapped
in (:data:`CONTENTS`), so a user's file or a nested artefact put inside it later makes the
folder foreign. Anything else at the destination is a :class:`DatrigError` (refused, never
cleaned), checked before any work and again at the swap. The filesystem root, the working
directory and its ancestors are never a destination. Concurrent writers of one destination
are serialised by :func:`destination_lock`.

Temporary names carry the writer's host and pid (``.datrig-tmp-<host>-<pid>-...``). An
exception or SIGINT/SIGTERM (see :mod:`datrig.cli`) removes them on the way out; a process
that cannot clean up (SIGKILL, power loss) leaves them behind, and the next atomic write into
the same directory removes those whose writer is no longer running on this host.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import fnmatch
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datrig.errors import DatrigError
from datrig.jsonio import json_text
from datrig.signals import check_terminated

TMP_PREFIX = ".datrig-tmp-"
LOCK_SUFFIX = ".datrig-lock"
# In every artefact folder: what datrig wrote there (relative paths, folders with a "/"),
# recorded just before the folder is swapped in.
CONTENTS = ".datrig-contents.json"
_OWNED = re.compile(re.escape(TMP_PREFIX) + r"(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-")
# A folder moved aside during a non-atomic swap: "<tmp prefix>old-<dest name>"
_ASIDE = re.compile(r"old-(?P<dest>.+)$")
_RENAME_EXCHANGE = 2  # linux/fs.h
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ArtefactKind:
    """How datrig recognises one of its own output folders: ``marker`` is a JSON file datrig
    writes into every such folder, with ``key == value`` (e.g. ``"stage": "export"``).

    ``derived``: relative paths (globs) that later datrig stages add to a finished artefact
    of this kind (a project's ``report.md``, its ``rtl/``); everything else in the folder must
    be listed in its :data:`CONTENTS`.
    """

    name: str  # for messages, e.g. "hls4ml project"
    marker: str
    value: str
    key: str = "stage"
    derived: tuple[str, ...] = ()

    def owns(self, folder: Path) -> bool:
        try:
            doc = json.loads((folder / self.marker).read_text())
        except (OSError, ValueError, RecursionError):  # a crafted marker is not ours
            return False
        return isinstance(doc, dict) and doc.get(self.key) == self.value


def check_replaceable(dest: str | os.PathLike[str], kind: ArtefactKind) -> None:
    """Raise unless ``dest`` is missing, an empty folder, or datrig's ``kind`` of artefact
    holding only what datrig wrote (see :func:`foreign_contents`)."""
    dest = _destination(dest)
    if not os.path.lexists(dest):
        return
    if dest.is_symlink() or not dest.is_dir():
        raise DatrigError(
            f"{dest} exists and is not a folder; datrig writes a {kind.name} folder there only "
            "if it is missing or one of its own: choose another --out"
        )
    if not any(dest.iterdir()):
        return
    if kind.owns(dest):
        foreign = foreign_contents(dest)
        if foreign is None:
            raise DatrigError(
                f"{dest} is a {kind.name} from an older datrig that did not record its files "
                f"({CONTENTS}); nothing was changed: remove it yourself or choose another --out"
            )
        if not foreign:
            return
        raise DatrigError(
            f"{dest} is a {kind.name} but also holds files datrig did not write there "
            f"({_some(foreign)}); nothing was changed: move them out (or remove them) first, "
            "or choose another --out"
        )
    found = sorted(p.name for p in dest.iterdir())
    raise DatrigError(
        f"{dest} holds files datrig did not write as a {kind.name} ({_some(found)}); nothing "
        "was changed: choose a new or empty --out, or remove it yourself"
    )


def _some(names: list[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _destination(dest: str | os.PathLike[str]) -> Path:
    """``dest`` as an absolute, normalised path; the root, the working directory and its
    ancestors are refused (replacing them would pull the ground from under the user)."""
    path = Path(os.path.abspath(dest))
    if path == path.parent:
        raise DatrigError(f"{dest} is the filesystem root; choose a folder inside it as --out")
    if Path.cwd().is_relative_to(path):
        raise DatrigError(
            f"{dest} is the working directory or contains it; choose a folder inside it as --out"
        )
    return path


def _transient(name: str) -> bool:
    """A writer's temporary or lock file: datrig's own, never part of an artefact."""
    return name.startswith(TMP_PREFIX) or name.endswith(LOCK_SUFFIX)


def _derived(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) and rel.count("/") == p.count("/") for p in patterns)


def record_contents(folder: str | os.PathLike[str], kind: ArtefactKind) -> None:
    """Write ``folder``'s :data:`CONTENTS`: every file and folder in it (sorted, so the same
    artefact gives the same bytes). A subfolder with its own record (an artefact built inside
    this one, e.g. a calibration's projects) is listed, not descended into."""
    folder = Path(folder)
    entries: list[str] = []

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if _transient(entry.name) or (not prefix and entry.name == CONTENTS):
                continue
            if entry.is_dir(follow_symlinks=False):
                entries.append(f"{prefix}{entry.name}/")
                if not (Path(entry.path) / CONTENTS).is_file():
                    walk(Path(entry.path), f"{prefix}{entry.name}/")
            else:
                entries.append(prefix + entry.name)

    walk(folder, "")
    doc = {"artefact": kind.name, "entries": entries, "derived": list(kind.derived)}
    write_json(folder / CONTENTS, doc)


def foreign_contents(folder: str | os.PathLike[str]) -> list[str] | None:
    """Relative paths in ``folder`` that datrig did not write there (not in its
    :data:`CONTENTS`, not a derived path of its kind, not a writer's temporary); ``None`` when
    the folder has no record."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / CONTENTS).read_text())
        listed, derived = set(doc["entries"]), list(doc.get("derived", []))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    foreign: list[str] = []

    def nested(path: Path, rel: str) -> None:
        inner = foreign_contents(path)
        foreign.extend([f"{rel} (no {CONTENTS})"] if inner is None else [rel + f for f in inner])

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if _transient(entry.name) or (not prefix and entry.name == CONTENTS):
                continue
            path, is_dir = Path(entry.path), entry.is_dir(follow_symlinks=False)
            rel = prefix + entry.name + ("/" if is_dir else "")
            if _derived(prefix + entry.name, derived):
                if is_dir and (path / CONTENTS).is_file():  # an artefact of its own (rtl/)
                    nested(path, rel)
            elif rel not in listed:
                foreign.append(rel)
            elif is_dir and (path / CONTENTS).is_file():
                nested(path, rel)
            elif is_dir:
                walk(path, rel)

    walk(folder, "")
    return foreign


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _tmp_prefix() -> str:
    return f"{TMP_PREFIX}{_host()}-{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def sweep_stale(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries in ``directory`` left by datrig processes that died on this host.

    Only names whose host is this machine and whose pid no longer runs are touched, so a
    writer on another host of a shared filesystem, or a live one here, is never disturbed. A
    previous folder that a dead writer had moved aside while its destination is now missing
    is put back instead of removed.
    """
    removed = []
    host = _host()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        owner = _OWNED.match(entry.name)
        if owner is None or owner["host"] != host or pid_alive(int(owner["pid"])):
            continue
        path = Path(entry.path)
        aside = _ASIDE.search(entry.name[owner.end() :])
        if aside and entry.is_dir(follow_symlinks=False):
            dest = path.parent / aside["dest"]
            if not os.path.lexists(dest):
                os.rename(path, dest)  # roll back an interrupted swap
                continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _check_parent(dest: Path) -> None:
    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatrigError(f"cannot create output directory {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise DatrigError(f"output directory {parent} is not writable; choose another --out")
    sweep_stale(parent)


@contextlib.contextmanager
def _os_errors(parent: Path) -> Iterator[None]:
    """An OS refusal to create a file in ``parent`` (``/proc``, a read-only mount, a full
    disk) as one line."""
    try:
        yield
    except OSError as exc:
        raise DatrigError(
            f"cannot write in {parent} ({exc.strerror or exc}); choose another --out"
        ) from None


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed to ``dest``, on error removed."""
    dest = Path(dest)
    if dest.is_dir():
        raise DatrigError(f"{dest} is a folder; datrig writes a file there: choose another path")
    _check_parent(dest)
    with _os_errors(dest.parent):
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(), suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal permissions
    try:
        yield tmp_path
        check_terminated()  # a swallowed SIGTERM never leaves a new file behind
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike[str], kind: ArtefactKind) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``dest`` in one step.

    ``dest`` must be missing, empty or a ``kind`` artefact (checked now and at the swap); the
    folder yielded must contain ``kind``'s marker by the end, or nothing is replaced. Its
    contents are recorded (:func:`record_contents`) just before the swap.
    """
    dest = _destination(dest)
    check_replaceable(dest, kind)
    _check_parent(dest)
    with _os_errors(dest.parent):
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(), dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if not kind.owns(tmp):
            raise DatrigError(f"internal error: the new {kind.name} has no {kind.marker}")
        record_contents(tmp, kind)
        check_replaceable(dest, kind)
        check_terminated()  # a swallowed SIGTERM never swaps in a new artefact
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(
    staging: str | os.PathLike[str], dest: str | os.PathLike[str], kind: ArtefactKind
) -> None:
    """Swap a finished staging folder into ``dest`` in one step (for artefacts built in a
    persistent staging folder, such as a resumable training run). ``staging`` must already be
    a complete ``kind``; ``dest`` must be missing, empty or a ``kind``."""
    staging, dest = Path(staging), _destination(dest)
    if not kind.owns(staging):
        raise DatrigError(f"internal error: {staging} is not a complete {kind.name}")
    record_contents(staging, kind)
    check_replaceable(dest, kind)
    check_terminated()
    _swap_into_place(staging, dest)


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Put ``tmp`` at ``dest``; the previous ``dest`` (if any) ends up at ``tmp`` and is removed."""
    if not os.path.lexists(dest):
        os.rename(tmp, dest)
        return
    if _exchange(tmp, dest):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    aside = dest.parent / f"{_tmp_prefix()}old-{dest.name}"  # sweep_stale's roll-back name
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(dest, aside)
    os.rename(tmp, dest)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # filesystem or kernel without RENAME_EXCHANGE
    raise OSError(err, f"cannot swap {a} into {b}: {os.strerror(err)}")


@contextlib.contextmanager
def destination_lock(dest: str | os.PathLike[str], *, wait: bool = True) -> Iterator[None]:
    """Serialise writers of one destination with an advisory lock file next to it.

    The lock file (``.<name>.datrig-lock``, empty) exists only while a writer holds it: the
    holder removes it before releasing, and a waiter that wakes up on a removed file retries
    on the new one, so two writers never both hold the lock. A second writer waits (saying
    so) for the first to finish; with ``wait=False`` it stops with a clear error instead.
    """
    dest = _destination(dest)
    _check_parent(dest)
    lock_path = dest.parent / f".{dest.name}{LOCK_SUFFIX}"
    announced = False
    while True:
        try:  # O_NOFOLLOW: a link planted at the lock's name is refused, never followed
            fd = os.open(lock_path, _LOCK_FLAGS, 0o666 & ~_umask())
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DatrigError(
                    f"{lock_path} is a symbolic link; datrig never creates its lock through a "
                    "link: remove it and retry"
                ) from None
            raise DatrigError(
                f"cannot write in {dest.parent} ({exc.strerror or exc}); choose another --out"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                raise DatrigError(
                    f"another datrig process is writing {dest}; wait for it to finish"
                ) from None
            if not announced:
                print(f"datrig: waiting for another datrig process writing {dest} ...",
                      file=sys.stderr)  # fmt: skip
                announced = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)  # the previous holder removed this file: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)  # releases the lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as stable (sorted, indented) JSON, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(json_text(obj))


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
