"""A dataset folder as one artefact: its six files and the manifest that binds them.

``datrig simulate`` writes ``photons_{sim,data}.h5``, ``diphoton_{sim,data}.h5``,
``resonance_{sim,data}.h5`` and, last,
``simulate.json``: the seed, generator config and version, and the size and sha256 of every
member. The folder is swapped into place as a whole, so an interrupted or repeated simulate
never leaves files of two runs side by side; :func:`dataset_file` still checks every member it
hands out against the manifest, so a folder mixed by hand (or by an older datrig) is refused
instead of trained on. A folder of the user's own files without a manifest is read as is.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from datrig.atomic import ArtefactKind
from datrig.errors import SchemaError

MANIFEST = "simulate.json"
DATASET = ArtefactKind("simulated dataset", MANIFEST, "simulate")

# (schema kind, domain) -> file name inside a dataset folder
FILE_NAMES: dict[tuple[str, str], str] = {
    ("photons", "sim"): "photons_sim.h5",
    ("photons", "data"): "photons_data.h5",
    ("diphoton", "sim"): "diphoton_sim.h5",
    ("diphoton", "data"): "diphoton_data.h5",
    ("resonance", "sim"): "resonance_sim.h5",
    ("resonance", "data"): "resonance_data.h5",
}
# the members of a task dataset (datrig.data.taskdata), found by the same dataset_file
TASK_FILE_NAMES: dict[tuple[str, str], str] = {
    ("task", "sim"): "task_sim.h5",
    ("task", "data"): "task_data.h5",
}


def member_record(path: Path) -> dict[str, Any]:
    """What the manifest records of one member: its size and sha256."""
    from datrig.provenance import file_sha256

    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def read_manifest(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The folder's manifest, or None for a folder of user files without one."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        raise SchemaError(f"{path} is unreadable; re-run datrig simulate") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) and isinstance(v.get("sha256"), str)
        for v in files.values()
    ):
        raise SchemaError(
            f"{path} does not list the dataset's files (written by an older datrig?); "
            "re-run datrig simulate into this folder"
        )
    return doc


def dataset_file(data_dir: str | os.PathLike[str], kind: str, domain: str) -> Path:
    """Path of the ``kind``/``domain`` member of a dataset folder, checked against the
    folder's manifest (when it has one)."""
    data_dir = Path(data_dir)
    name = FILE_NAMES.get((kind, domain)) or TASK_FILE_NAMES.get((kind, domain))
    if name is None:
        raise SchemaError(f"no dataset file for kind {kind!r} and domain {domain!r}")
    path = data_dir / name
    manifest = read_manifest(data_dir)
    if manifest is not None and name not in manifest["files"] and not path.exists():
        raise SchemaError(
            f"{data_dir} has no {kind} sample, only {_held_samples(manifest)} (simulated for a "
            f"command that read no other, or by an older datrig); run `datrig simulate --out "
            f"{data_dir}` (with the same seed, sizes and config its files come out "
            "byte-identical)"
        )
    if not path.is_file():
        raise SchemaError(
            f"{path}: no such file; run `datrig simulate --out {data_dir}` (or put your "
            f"{kind} file of the {domain!r} domain there)"
        )
    if manifest is not None:
        stat = path.stat()
        _check_member(str(path), name, stat.st_ino, stat.st_size, stat.st_mtime_ns, _key(manifest))
    _check_name(path, kind, domain)
    return path


def _held_samples(manifest: dict[str, Any]) -> str:
    names = {name: kind for (kind, _), name in FILE_NAMES.items()}
    return " + ".join(sorted({names.get(n, n) for n in manifest["files"]})) or "nothing"


def _check_name(path: Path, kind: str, domain: str) -> None:
    """The file holds what its name says: a swapped ``photons_sim.h5``/``photons_data.h5``
    (user files have no manifest) would train on data and test on the wrong domain."""
    from datrig.data.reader import open_dataset

    info = open_dataset(path)  # validated once per file version: rows agree with the attribute
    if (info.kind, info.domain) != (kind, domain):
        raise SchemaError(
            f"{path} holds {info.kind} events of the {info.domain!r} domain (its attributes and "
            f"rows), not {kind} of {domain!r} as its name says: the files are swapped or "
            f"misnamed; rename it to {FILE_NAMES.get((info.kind, info.domain), '?')}"
        )


def _key(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest["files"], sort_keys=True)


@functools.lru_cache(maxsize=32)
def _check_member(path_text: str, name: str, ino: int, size: int, mtime: int, files: str) -> None:
    """Cached on the file's identity and the manifest, so a member is hashed once per run."""
    recorded = json.loads(files).get(name)
    path = Path(path_text)
    if recorded is None:
        raise SchemaError(
            f"{path} is not listed in {path.parent / MANIFEST}: the folder mixes files of "
            "different runs; re-run datrig simulate into it"
        )
    if size != recorded.get("bytes") or member_record(path)["sha256"] != recorded.get("sha256"):
        raise SchemaError(
            f"{path} is not the file {path.parent / MANIFEST} describes (different size or "
            "hash: replaced or mixed with another simulate run); re-run datrig simulate "
            f"--out {path.parent}"
        )
