"""The firmware's own outputs for a run: export its checkpoint, then run the emulator.

The emulator (``datrig.emulate``) is bit-accurate with hls4ml's C-simulation (checked by
``datrig export``/``datrig verify``), so its outputs *are* the firmware's outputs, at numpy
speed. A run's project is reused while it was made from the run's checkpoint with the same
firmware config (:meth:`datrig.project.meta.ProjectMeta.is_current`), else exported again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datrig.errors import DatrigError
from datrig.project.config import FirmwareConfig, config_for_run
from datrig.project.meta import FirmwareProject, project_is_current
from datrig.provenance import file_sha256
from datrig.validate.predictions import RunPredictions

CALIBRATION_EVENTS = 2000  # sim events handed to the export for range calibration


def export_run(
    preds: RunPredictions,
    project_dir: Path,
    seed: int,
    config_path: Path | None = None,
) -> FirmwareProject:
    """The run's verified project in ``project_dir``: reused if current, else exported.

    ``config_path`` defaults to ``firmware_configs/<model>.yml``.
    """
    checkpoint = preds.run_dir / "checkpoint.pt"
    if not checkpoint.is_file():
        raise DatrigError(
            f"{checkpoint} not found: cannot build the firmware for {preds.run_dir}; "
            "rerun `datrig qat` or validate with --no-firmware"
        )
    fw: FirmwareConfig = config_for_run(preds.model, preds.task_config, config_path)
    if not project_is_current(project_dir, file_sha256(checkpoint), fw):
        from datrig.export.project import export_checkpoint

        sim = np.flatnonzero(preds.field("domain") == 0)[:CALIBRATION_EVENTS]
        export_checkpoint(checkpoint, project_dir, fw, calib_inputs=preds.inputs[sim], seed=seed)
    return FirmwareProject.load(project_dir)


def firmware_outputs(
    preds: RunPredictions,
    project_dir: Path,
    *,
    seed: int,
    reuse_project: bool = False,
    config_path: Path | None = None,
) -> np.ndarray:
    """Emulated firmware output (float64, one value per event) on the run's test inputs.

    With ``reuse_project`` the given project is used as is (after checking that it was made
    from this run's checkpoint); otherwise the checkpoint is exported into ``project_dir``.
    """
    if reuse_project:
        project = FirmwareProject.load(project_dir)
        checkpoint = preds.run_dir / "checkpoint.pt"
        if checkpoint.is_file() and project.meta.source.sha256 != file_sha256(checkpoint):
            raise DatrigError(
                f"{project_dir} was exported from another checkpoint than {checkpoint}; "
                "re-export it or drop --project"
            )
    else:
        project = export_run(preds, project_dir, seed, config_path)
    out = project.emulate(preds.inputs)
    if out.shape[1] != 1:
        raise DatrigError(f"firmware has {out.shape[1]} outputs per event; validate expects 1")
    return out[:, 0]


def keep_projects(old: Path, new: Path, names: list[str] | None = None) -> None:
    """Copy the projects of a previous artefact's folder ``old`` (only ``names`` when given)
    into ``new``, the staging folder of its replacement, so an unchanged run is not exported
    again (a stale copy is re-exported in place). Only datrig's own, unchanged projects are
    copied, and without following links."""
    from datrig.atomic import foreign_contents
    from datrig.project.meta import PROJECT
    from datrig.safefs import copy_tree

    if not old.is_dir() or old.is_symlink():
        return
    for project in sorted(old.iterdir()) if names is None else [old / n for n in names]:
        if PROJECT.owns(project) and foreign_contents(project) == []:
            copy_tree(project, new / project.name)
