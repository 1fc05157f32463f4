"""File-system moves that cannot be led astray by a link, and single-file outputs that
never replace a user's file.

* :func:`refuse_symlink`: staging folders, lock files and artefact folders are datrig's own;
  a symbolic link in their place (planted, or left by another tool) is refused, never followed.
* :func:`copy_tree`: copies an artefact without following links: a link anywhere inside is
  refused with its name, so a crafted artefact cannot pull a file from elsewhere into a new one.
* :func:`check_output_file`: a command that writes one file (``emulate --out x.npy``) replaces
  it only when it is missing or datrig's own output of the same command, recorded by its
  sidecar ``x.npy.json``; an output equal to an input is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from datrig.atomic import pid_alive
from datrig.errors import DatrigError


def refuse_symlink(path: str | os.PathLike[str], what: str) -> None:
    """Raise if ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise DatrigError(
            f"{path} ({what}) is a symbolic link; datrig never writes through links there: "
            "remove it and retry"
        )


def copy_tree(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy folder ``src`` into ``dst`` (created if missing), refusing any symbolic link."""
    src, dst = Path(src), Path(dst)
    refuse_symlink(src, "artefact folder")
    links = [p for p in src.rglob("*") if p.is_symlink()]
    if links:
        rel = ", ".join(str(p.relative_to(src)) for p in links[:4])
        raise DatrigError(
            f"{src} holds symbolic links ({rel}); datrig copies artefacts without following "
            "links and refuses them: the artefact is damaged or crafted"
        )
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.rglob("*")):
        target = dst / entry.relative_to(src)
        if entry.is_dir():
            target.mkdir(exist_ok=True)
        else:
            shutil.copy2(entry, target, follow_symlinks=False)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def sidecar_path(out: str | os.PathLike[str]) -> Path:
    """The provenance sidecar of a single-file output: ``x.npy`` -> ``x.npy.json``."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def _is_datrig_sidecar(path: Path, stage: str, output: str) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("stage") == stage and doc.get("output") == output


def check_output_file(
    out: str | os.PathLike[str], stage: str, inputs: tuple[str | os.PathLike[str], ...] = ()
) -> None:
    """Raise unless ``out`` (and its sidecar) may be written by ``stage`` (see module doc)."""
    out = Path(out)
    for source in inputs:
        if source is not None and os.path.lexists(out) and same_file(out, source):
            raise DatrigError(f"--out {out} is the input file; choose another --out")
    refuse_symlink(out, "output")
    if os.path.isdir(out):
        raise DatrigError(f"--out {out} is a folder; give a file name")
    side = sidecar_path(out)
    ours = _is_datrig_sidecar(side, stage, out.name)
    if os.path.lexists(side) and not ours:
        raise DatrigError(
            f"{side} exists and is not datrig's record of a `{stage}` output; nothing was "
            "changed: choose another --out or move it"
        )
    if os.path.lexists(out) and not ours:
        raise DatrigError(
            f"{out} exists and was not written by `datrig {stage}` (no {side.name} record); "
            "nothing was changed: choose another --out or remove it yourself"
        )


_SCRATCH = re.compile(r"datrig-(?P<what>[a-z]+)-(?P<pid>\d+)-")


@contextlib.contextmanager
def scratch_dir(what: str) -> Iterator[Path]:
    """A temporary folder ``$TMPDIR/datrig-<what>-<pid>-*`` removed on the way out; folders of
    the same kind left by a process that was killed (SIGKILL skips every clean-up) are removed
    the next time, so scratch space never piles up."""
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            m = _SCRATCH.match(entry.name)
            stale = m and m["what"] == what and not pid_alive(int(m["pid"]))
            if stale and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"datrig-{what}-{os.getpid()}-") as tmp:
        yield Path(tmp)


def die_with_parent() -> None:
    """For ``subprocess`` ``preexec_fn``: the child gets SIGKILL when datrig dies (Linux), so a
    killed datrig leaves no build tool running."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
