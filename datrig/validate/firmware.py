"""The firmware's own outputs for a run: export its checkpoint, then run the emulator.

The emulator (``datrig.emulate``) is bit-accurate with hls4ml's C-simulation (checked by
``datrig export``/``datrig verify``), so its outputs *are* the firmware's outputs, at numpy
speed. Projects are cached under the report's ``firmware/<da>/`` folder and reused while
the checkpoint they were made from is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError
from datrig.provenance import file_sha256
from datrig.validate.predictions import RunPredictions

CALIBRATION_EVENTS = 2000  # sim events handed to the export for range calibration
PROJECT_META = "datrig_project.json"  # = datrig.firmware.csim.PROJECT_FILE


def _project_checkpoint_sha(project_dir: Path) -> str | None:
    """The sha256 of the checkpoint a project was exported from, if it records one."""
    meta_path = project_dir / PROJECT_META
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    stack: list[object] = [meta]
    while stack:  # the hash may sit at any depth (e.g. provenance.inputs.checkpoint.sha256)
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if "checkpoint" in str(key).lower():
                    if isinstance(value, str) and len(value) == 64:
                        return value
                    if isinstance(value, dict) and isinstance(value.get("sha256"), str):
                        return value["sha256"]
                stack.append(value)
    return None


def _up_to_date(project_dir: Path, checkpoint_sha: str, fw_config: dict[str, object]) -> bool:
    """True when the project was exported from this checkpoint with this firmware config."""
    if not (project_dir / "emulator_ir.json").is_file():
        return False
    if _project_checkpoint_sha(project_dir) != checkpoint_sha:
        return False
    meta = json.loads((project_dir / PROJECT_META).read_text())
    return meta.get("firmware_config") == json.loads(json.dumps(fw_config))


def export_run(
    preds: RunPredictions, project_dir: Path, seed: int, config_path: Path | None = None
) -> Path:
    """Export the run's checkpoint to an hls4ml project (reused if already up to date).

    ``config_path`` defaults to ``firmware_configs/<model>.yml``.
    """
    checkpoint = preds.run_dir / "checkpoint.pt"
    if not checkpoint.is_file():
        raise DatrigError(
            f"{checkpoint} not found: cannot build the firmware for {preds.run_dir}; "
            "rerun `datrig qat` or validate with --no-firmware"
        )
    from datrig.export.project import export_checkpoint
    from datrig.firmware.config import config_for_model

    fw_config = config_for_model(preds.model, config_path)
    if _up_to_date(project_dir, file_sha256(checkpoint), fw_config.to_json()):
        return project_dir
    sim = np.flatnonzero(preds.field("domain") == 0)[:CALIBRATION_EVENTS]
    export_checkpoint(checkpoint, project_dir, fw_config, calib_inputs=preds.inputs[sim], seed=seed)
    return project_dir


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
        checkpoint = preds.run_dir / "checkpoint.pt"
        recorded = _project_checkpoint_sha(project_dir)
        if checkpoint.is_file() and recorded is not None and recorded != file_sha256(checkpoint):
            raise DatrigError(
                f"{project_dir} was exported from another checkpoint than {checkpoint}; "
                "re-export it or drop --project"
            )
    else:
        export_run(preds, project_dir, seed, config_path)
    from datrig.emulate.io import load_ir
    from datrig.emulate.runner import emulate

    result = emulate(load_ir(project_dir), preds.inputs)
    out = np.asarray(result.output, dtype=np.float64).reshape(preds.n_events, -1)
    if out.shape[1] != 1:
        raise DatrigError(f"firmware has {out.shape[1]} outputs per event; validate expects 1")
    return out[:, 0]
