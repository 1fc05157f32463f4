"""Default artefact locations, relative to the working directory (the project root for `make`).

data/default/            simulated HDF5 (photons_{sim,data}.h5, diphoton_{sim,data}.h5)
runs/<model>/<da>/       QAT runs: checkpoint, config, curves, metrics, predictions
hls_projects/<model>/    verified hls4ml projects (+ emulator IR, reports)
reports/<model>/         validation reports
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path("data")
DEFAULT_DATA_DIR = DATA_DIR / "default"
RUNS_DIR = Path("runs")
HLS_PROJECTS_DIR = Path("hls_projects")
REPORTS_DIR = Path("reports")
FIRMWARE_CONFIGS_DIR = Path("firmware_configs")


def run_dir(model: str, da: str) -> Path:
    return RUNS_DIR / model / da


def hls_project_dir(model: str) -> Path:
    return HLS_PROJECTS_DIR / model


def report_dir(model: str) -> Path:
    return REPORTS_DIR / model


def firmware_config_path(model: str) -> Path:
    """``firmware_configs/<model>.yml`` of the working directory, else the one shipped with
    datrig's source tree (so commands also work from another directory)."""
    local = FIRMWARE_CONFIGS_DIR / f"{model}.yml"
    shipped = Path(__file__).resolve().parents[1] / local
    return local if local.is_file() or not shipped.is_file() else shipped
