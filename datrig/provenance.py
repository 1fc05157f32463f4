"""Small JSON sidecars that let a later stage know what an artefact was made from."""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = ("datrig", "numpy", "h5py", "torch", "brevitas", "qonnx", "onnx", "hls4ml")


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def sidecar(
    *, stage: str, seed: int | None, inputs: dict[str, Path] | None = None, **extra: Any
) -> dict[str, Any]:
    """Provenance record: stage name, seed, sha256 of each input file, package versions."""
    return {
        "stage": stage,
        "seed": seed,
        "inputs": {
            name: {"path": str(path), "sha256": file_sha256(path)}
            for name, path in (inputs or {}).items()
        },
        "versions": package_versions(),
        **extra,
    }
