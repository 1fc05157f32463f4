"""Atomic outputs: a crash never leaves a half-written file or folder that looks complete.

Everything is written under a temporary name in the destination's own directory (same
filesystem) and renamed into place with :func:`os.replace` only once it is complete.

Temporary names carry the writer's host and pid (``.datrig-tmp-<host>-<pid>-...``). An
exception or SIGINT/SIGTERM (see :mod:`datrig.cli`) removes them on the way out; a process
that cannot clean up (SIGKILL, power loss) leaves them behind, and the next atomic write into
the same directory removes those whose writer is no longer running on this host.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_PREFIX = ".datrig-tmp-"
_OWNED = re.compile(re.escape(TMP_PREFIX) + r"(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _tmp_prefix() -> str:
    return f"{TMP_PREFIX}{_host()}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
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
    writer on another host of a shared filesystem, or a live one here, is never disturbed.
    """
    removed = []
    host = _host()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        owner = _OWNED.match(entry.name)
        if owner is None or owner["host"] != host or _pid_alive(int(owner["pid"])):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _check_parent(dest: Path) -> None:
    from datrig.errors import DatrigError

    parent = dest.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatrigError(f"cannot create output directory {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise DatrigError(f"output directory {parent} is not writable; choose another --out")
    sweep_stale(parent)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed to ``dest``, on error removed."""
    dest = Path(dest)
    _check_parent(dest)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(), suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal permissions
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``dest`` (old contents removed)."""
    dest = Path(dest)
    _check_parent(dest)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(), dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if dest.exists():
            trash = Path(tempfile.mkdtemp(prefix=_tmp_prefix(), dir=dest.parent))
            os.replace(dest, trash / "old")
            os.replace(tmp, dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as stable (sorted, indented) JSON, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
