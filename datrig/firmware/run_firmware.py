"""A run and its firmware, in one place: the run's verified project (exported when missing or
stale) and the firmware's outputs on the run's test events.

The pipeline, validate, calibrate (photon ID and energy) and scans all ask here, so "is this
project current for this run" and the events an export verifies on are defined once. A
project is current when it was exported from the run's checkpoint with the same firmware
config (:func:`datrig.project.meta.project_is_current`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError
from datrig.export.tree_export import ensemble_is_current
from datrig.paths import hls_project_dir, safe_name
from datrig.project.config import FirmwareConfig, config_for_run
from datrig.project.inputs import calibration_inputs
from datrig.project.meta import PROJECT, FirmwareProject, project_is_current
from datrig.project.protocol import Firmware
from datrig.project.trees import TREE_PROJECT, TreeProject
from datrig.provenance import file_sha256
from datrig.train.predictions import RunPredictions
from datrig.train.trees import ENSEMBLE_FILE

CHECKPOINT = "checkpoint.pt"


def is_tree_run(run_dir: str | Path) -> bool:
    """A tree ensemble's run (its model is ``ensemble.json``, not a checkpoint)."""
    return (Path(run_dir) / ENSEMBLE_FILE).is_file()


def run_checkpoint(run_dir: Path) -> Path:
    checkpoint = Path(run_dir) / CHECKPOINT
    if not checkpoint.is_file():
        raise DatrigError(
            f"{checkpoint} not found: cannot build the firmware for {run_dir}; rerun "
            "`datrig qat` (or validate with --no-firmware)"
        )
    return checkpoint


def ensure_run_project(
    run_dir: Path,
    project_dir: Path,
    fw: FirmwareConfig,
    *,
    seed: int,
    force: bool = False,
    say: Callable[[str], None] | None = None,
) -> Firmware:
    """The run's verified project in ``project_dir``: reused if current (and not ``force``),
    else exported from its checkpoint, verified on the run's first test events. A tree
    ensemble's run (``ensemble.json``) gets its conifer project instead."""
    from datrig.export.project import export_checkpoint

    if is_tree_run(run_dir):
        from datrig.firmware.tree_flow import ensure_tree_project

        return ensure_tree_project(
            run_dir, project_dir, fw, seed=seed, force=force, say=say or (lambda m: None)
        )
    checkpoint = run_checkpoint(run_dir)
    if not force and project_is_current(project_dir, file_sha256(checkpoint), fw):
        if say:
            say(f"up to date: {project_dir}")
        return FirmwareProject.load(project_dir)
    if say:
        say("Brevitas -> QONNX -> hls4ml, compiling the C-simulation ...")
    calib = calibration_inputs(run_dir, fw.verification.n_events)
    result = export_checkpoint(checkpoint, project_dir, fw, calib_inputs=calib, seed=seed)
    if say:
        for comparison in result.comparisons:
            say(comparison.message())
    return FirmwareProject.load(project_dir)


def project_for(
    preds: RunPredictions, project_dir: Path, seed: int, config_path: Path | None = None
) -> Firmware:
    """``ensure_run_project`` with the run's own firmware config (or ``config_path``)."""
    fw = config_for_run(preds.model, preds.task_config, config_path)
    return ensure_run_project(preds.run_dir, project_dir, fw, seed=seed)


def shipped_or_exported(
    preds: RunPredictions, out_dir: Path, seed: int, method: str, stage: str
) -> Firmware:
    """``hls_projects/<model>`` when it is current for this run, else the run exported into
    ``out_dir/firmware/<method>`` (reused there while current)."""
    fw = config_for_run(preds.model, preds.task_config)
    shipped = hls_project_dir(preds.model)
    if is_tree_run(preds.run_dir) and ensemble_is_current(shipped, Path(preds.run_dir), fw):
        return TreeProject.load(shipped)
    checkpoint = Path(preds.run_dir) / CHECKPOINT
    if checkpoint.is_file() and project_is_current(shipped, file_sha256(checkpoint), fw):
        return FirmwareProject.load(shipped)
    print(f"datrig {stage}: exporting {preds.run_dir} ...", file=sys.stderr)
    project_dir = out_dir / "firmware" / safe_name(method, "method")
    return ensure_run_project(preds.run_dir, project_dir, fw, seed=seed)


def firmware_outputs(
    preds: RunPredictions,
    project_dir: Path,
    *,
    seed: int,
    reuse_project: bool = False,
    config_path: Path | None = None,
) -> np.ndarray:
    """Emulated firmware output (float64, one value per event) on the run's test inputs.

    The emulator is bit-exact with hls4ml's C-simulation (checked at export), so these *are*
    the firmware's outputs. With ``reuse_project`` the given project is used as is (after
    checking it was made from this run's checkpoint); otherwise it is exported if stale.
    """
    if reuse_project and is_tree_run(preds.run_dir):
        fw = config_for_run(preds.model, preds.task_config, config_path)
        if not ensemble_is_current(project_dir, Path(preds.run_dir), fw):
            raise DatrigError(
                f"{project_dir} was not exported from {preds.run_dir}'s ensemble; re-export "
                "it or drop --project"
            )
        project: Firmware = TreeProject.load(project_dir)
    elif reuse_project:
        project = FirmwareProject.load(project_dir)
        checkpoint = Path(preds.run_dir) / CHECKPOINT
        if checkpoint.is_file() and project.meta.source.sha256 != file_sha256(checkpoint):
            raise DatrigError(
                f"{project_dir} was exported from another checkpoint than {checkpoint}; "
                "re-export it or drop --project"
            )
    else:
        project = project_for(preds, project_dir, seed, config_path)
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
    from datrig.safefs import copy_tree

    if not old.is_dir() or old.is_symlink():
        return
    for project in sorted(old.iterdir()) if names is None else [old / n for n in names]:
        owned = PROJECT.owns(project) or TREE_PROJECT.owns(project)
        if owned and foreign_contents(project) == []:
            copy_tree(project, new / project.name)
