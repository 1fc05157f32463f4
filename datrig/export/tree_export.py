"""A tree-ensemble run to a verified conifer project (:mod:`datrig.project.trees`).

The project is built in a temporary folder and swapped into place only when conifer's
C-simulation equals datrig's emulator bit for bit on the run's test events and on seeded
inputs spanning the whole input grid (saturated extremes included); a project of another
kind, or with files datrig did not write, is never replaced.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from datrig.atomic import atomic_dir, write_json
from datrig.errors import VerificationError
from datrig.export.conifer_export import compile_csim, write_hls
from datrig.export.conifer_vhdl import write_vhdl
from datrig.export.tree_vhdl import write_shallow_vhdl
from datrig.ir.trees import EnsembleIR
from datrig.project.config import FirmwareConfig
from datrig.project.meta import PROJECT_FILE
from datrig.project.trees import ENSEMBLE, NORMALISATION, TREE_PROJECT, TreeProject
from datrig.provenance import file_sha256, sidecar
from datrig.train.predictions import load_predictions
from datrig.train.trees import ENSEMBLE_FILE


def seeded_mantissas(ir: EnsembleIR, n: int, seed: int) -> np.ndarray:
    """Uniform over the whole input grid (every extreme reachable), seeded."""
    rng = np.random.default_rng([seed, 31])
    t = ir.input_type
    return rng.integers(t.min_mantissa, t.max_mantissa + 1, size=(n, ir.n_features))


def ensemble_is_current(project_dir: Path, run_dir: Path, fw: FirmwareConfig) -> bool:
    if not TREE_PROJECT.owns(project_dir):
        return False
    try:
        meta = json.loads((project_dir / PROJECT_FILE).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("source", {}).get("sha256") == file_sha256(run_dir / ENSEMBLE_FILE) and (
        meta.get("part"),
        meta.get("clock_period_ns"),
    ) == (fw.part, fw.clock_period_ns)


def export_ensemble(
    run_dir: Path, project_dir: Path, fw: FirmwareConfig, *, seed: int, n_events: int
) -> TreeProject:
    """Write, compile and verify the conifer project of ``run_dir`` into ``project_dir``."""
    source = run_dir / ENSEMBLE_FILE
    ir = EnsembleIR.from_json(json.loads(source.read_text()), str(source))
    with atomic_dir(project_dir, TREE_PROJECT) as tmp:
        shutil.copyfile(source, tmp / ENSEMBLE)
        shutil.copyfile(run_dir / "normalisation.json", tmp / NORMALISATION)
        write_hls(ir, tmp / "hls", fw.part, fw.clock_period_ns)
        compile_csim(tmp / "hls")
        write_vhdl(ir, tmp / "vhdl", fw.part)
        write_shallow_vhdl(ir, tmp / "vhdl_pipelined" / "firmware")
        record = {
            **sidecar(stage="export-trees", seed=seed),
            "model": ir.name,
            "source": {"run": str(run_dir), "sha256": file_sha256(source)},
            "part": fw.part,
            "clock_period_ns": fw.clock_period_ns,
            "types": {
                "input": ir.input_type.to_hls(),
                "score": ir.score_type.to_hls(),
                "output": ir.output_type.to_hls(),
            },
            "trees": len(ir.trees),
            "max_depth": ir.max_depth,
            "threshold_map": None if ir.threshold_map is None else list(ir.threshold_map.shape),
        }
        write_json(tmp / PROJECT_FILE, {**record, "stage": "partial"})
        project = TreeProject(tmp, record, ir, TreeProject.load_norm(tmp))
        events = project.mantissas(load_predictions(run_dir).inputs[:n_events])
        check = project.verify_mantissas(
            np.concatenate([events, seeded_mantissas(ir, n_events, seed)])
        )
        if not check.ok:
            raise VerificationError(
                f"conifer's C-simulation and datrig's emulator differ on {check.n_mismatch} of "
                f"{check.n_events} events (first: {check.first_event}); nothing was replaced"
            )
        record["verification"] = {"emulator_vs_csim": check.to_json()}
        write_json(tmp / PROJECT_FILE, record)  # stage export-trees: the project is complete
    return TreeProject.load(project_dir)
