"""Default artefact locations, relative to the working directory (the project root for `make`),
and the two checks every path built from a name or read from a file goes through.

data/default/            simulated HDF5 (photons_{sim,data}.h5, diphoton_{sim,data}.h5)
runs/<model>/<da>/       QAT runs: checkpoint, config, curves, metrics, predictions
hls_projects/<model>/    verified hls4ml projects (+ emulator IR, reports)
reports/<model>/         validation reports

A name (``--name``, a model, a DA method read from a run's ``config.json``) becomes one folder
name, never a path: :func:`safe_name`. A path recorded in an artefact's JSON (the C-simulation
library of a project) is resolved inside that artefact's folder, or refused:
:func:`resolve_inside`. Files are data that people share; neither may lead datrig to write or
load anything elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from datrig.errors import DatrigError

DATA_DIR = Path("data")
DEFAULT_DATA_DIR = DATA_DIR / "default"
RUNS_DIR = Path("runs")
HLS_PROJECTS_DIR = Path("hls_projects")
REPORTS_DIR = Path("reports")
FIRMWARE_CONFIGS_DIR = Path("firmware_configs")
PREDICTIONS_FILE = "predictions_test.h5"  # a run's test-split predictions

_NAME = re.compile(r"[A-Za-z0-9_-]+")


def safe_name(name: object, what: str = "name") -> str:
    """``name`` if it is one folder name of letters, digits, ``_`` and ``-``; else a
    DatrigError (no ``/``, ``..``, absolute paths, dots or spaces: a name is not a path)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DatrigError(
            f"{what} {name!r} is not a valid name: use only letters, digits, '_' and '-' "
            "(it becomes one folder name, never a path)"
        )
    return name


def resolve_inside(folder: str | os.PathLike[str], relpath: object, what: str = "path") -> Path:
    """``folder/relpath`` with symlinks resolved, if that lies inside ``folder``; else a
    DatrigError. For paths read from an artefact's own JSON, which may have been edited."""
    root = Path(folder).resolve()
    if not isinstance(relpath, str) or not relpath or os.path.isabs(relpath):
        raise DatrigError(
            f"{folder}: {what} {relpath!r} is not a path relative to the folder; the artefact "
            "is damaged or crafted: re-create it (only use artefacts you trust)"
        )
    target = (root / relpath).resolve()
    if not target.is_relative_to(root) or target == root:
        raise DatrigError(
            f"{folder}: {what} {relpath!r} points outside the folder ({target}); the artefact "
            "is damaged or crafted: re-create it (only use artefacts you trust)"
        )
    return target


def run_dir(model: str, da: str) -> Path:
    return RUNS_DIR / safe_name(model, "model") / safe_name(da, "DA method")


def predictions_path(run: str | os.PathLike[str]) -> Path:
    """A QAT run's test-split predictions (docs/artefacts.md section 2)."""
    return Path(run) / PREDICTIONS_FILE


def hls_project_dir(model: str) -> Path:
    return HLS_PROJECTS_DIR / safe_name(model, "project name")


def report_dir(model: str) -> Path:
    return REPORTS_DIR / safe_name(model, "model")


def firmware_config_path(model: str) -> Path:
    """``firmware_configs/<model>.yml`` of the working directory, else the one shipped with
    datrig's source tree (so commands also work from another directory)."""
    local = FIRMWARE_CONFIGS_DIR / f"{safe_name(model, 'model')}.yml"
    shipped = Path(__file__).resolve().parents[1] / local
    return local if local.is_file() or not shipped.is_file() else shipped
