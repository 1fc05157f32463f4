"""A calibration folder as one artefact (marker ``calibrate.json``, stage ``calibrate``).

Everything a calibration writes (the ABCD photon-ID calibration and the in-situ energy scale
alike), including the projects it exports for runs that have none (``firmware/<method>/``), is
built in a staging folder next to ``--out`` and swapped in as the last step, under the
destination's lock, like every other datrig artefact: a crash or a failure leaves the previous
calibration or nothing, and ``--out`` must be missing, empty or an earlier calibration holding
only what datrig wrote (never a dataset, a project or a user's folder).
"""

from __future__ import annotations

from pathlib import Path

from datrig.atomic import ArtefactKind, atomic_dir, destination_lock, write_json
from datrig.calibrate.analysis import Settings
from datrig.calibrate.energy_scale import ScaleSettings
from datrig.calibrate.evaluate import evaluate_runs, method_names
from datrig.calibrate.peers import peer_scores
from datrig.calibrate.report import MARKER, write_calibration
from datrig.faults import pause_point
from datrig.firmware.run_firmware import keep_projects
from datrig.provenance import sidecar
from datrig.train.runs import model_file

CALIBRATION = ArtefactKind("calibration", MARKER, "calibrate")
FIRMWARE_DIR = "firmware"  # projects exported for runs without a current one


def calibrate_into(
    run_dirs: list[Path], data_dir: Path | None, out: Path, settings: Settings
) -> Path:
    """Calibrate ``run_dirs`` into the calibration folder ``out``; returns its report.md."""
    out = Path(out)
    methods = method_names(run_dirs)  # names read from the runs: checked before any work
    with destination_lock(out), atomic_dir(out, CALIBRATION) as tmp:
        keep_projects(out / FIRMWARE_DIR, tmp / FIRMWARE_DIR, methods)
        results = evaluate_runs(run_dirs, data_dir, tmp, settings)
        peers = peer_scores(results, settings.peers, settings.seed)
        report = write_calibration(results, tmp, seed=settings.seed, final=out, peers=peers,
                                   settings=settings)  # fmt: skip
        pause_point("calibrate:before-swap")
    return report


def calibrate_energy_into(
    run_dir: Path, data_dir: Path | None, out: Path, settings: ScaleSettings
) -> Path:
    """The in-situ energy scale of one energy-regression run (resonance peak in data vs
    simulation, :mod:`datrig.calibrate.energy_evaluate`) into the calibration folder ``out``:
    the same staged, locked artefact as the photon-ID calibration; returns its report.md."""
    from datrig.calibrate.energy_evaluate import evaluate_energy_run
    from datrig.calibrate.energy_report import write_energy_calibration

    out = Path(out)
    (method,) = method_names([run_dir])
    with destination_lock(out), atomic_dir(out, CALIBRATION) as tmp:
        keep_projects(out / FIRMWARE_DIR, tmp / FIRMWARE_DIR, [method])
        cal = evaluate_energy_run(run_dir, method, data_dir, tmp, settings)
        report = write_energy_calibration(cal, tmp, out)
        inputs = {f"{method}/model": model_file(run_dir)}
        write_json(tmp / MARKER, sidecar(stage="calibrate", seed=settings.seed, inputs=inputs))
        pause_point("calibrate:before-swap")
    return report
