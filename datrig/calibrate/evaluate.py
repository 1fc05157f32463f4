"""From run folders to calibrations: firmware scores of every candidate, then the measurement."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.calibrate.analysis import Result, Sample, Settings, calibrate
from datrig.data.manifest import dataset_file
from datrig.data.reader import read_rows
from datrig.errors import DatrigError
from datrig.paths import safe_name
from datrig.project.protocol import Firmware

CHUNK = 200_000  # candidates per read + emulation step (bounded memory, visible progress)


@dataclass
class MethodCalibration:
    """One run's calibration: its name (the DA method), where it came from, the result."""

    method: str
    run_dir: Path
    project: Path
    samples: dict[str, Sample]
    result: Result


def run_project(run_dir: Path, out_dir: Path, seed: int, method: str) -> Firmware:
    """The run's verified project (``hls_projects/<model>`` when current, else exported into
    ``out_dir/firmware/<method>``); photon-ID runs only."""
    from datrig.firmware.run_firmware import shipped_or_exported
    from datrig.models.registry import resolve_spec
    from datrig.train.predictions import load_predictions

    preds = load_predictions(run_dir)
    if resolve_spec(preds.model, preds.task_config).family != "photon_id":
        raise DatrigError(
            f"{run_dir} is a {preds.model} run; calibrate measures photon-ID calibrations "
            "(photon_id, photon_id_gnn, photon_id_bdt)"
        )
    return shipped_or_exported(preds, out_dir, seed, method, "calibrate")


def method_names(run_dirs: list[Path]) -> list[str]:
    """One name per run, unique (``none``, ``none-2``, ...): its DA method, which also names
    its results and its firmware folder, so a name read from a run must be a plain name.
    Runs of several models (a network beside a BDT) are named ``<model>-<da>``."""
    names: list[str] = []
    models = {_run_model(Path(r)) for r in run_dirs}
    for run_dir in run_dirs:
        base = _method_name(Path(run_dir))
        if len(models) > 1:
            base = f"{_run_model(Path(run_dir))}-{base}"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}-{k}"
        names.append(name)
    return names


def _method_name(run_dir: Path) -> str:
    config = run_dir / "config.json"
    try:
        da = json.loads(config.read_text())["da"]
    except (OSError, ValueError, KeyError, TypeError):
        return re.sub(r"[^A-Za-z0-9_-]", "_", run_dir.name) or "run"
    return safe_name(da, f"{config}: da")


def _run_model(run_dir: Path) -> str:
    try:
        model = json.loads((run_dir / "config.json").read_text())["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return "run"
    return safe_name(model, f"{run_dir / 'config.json'}: model")


def _event_files(run_dir: Path, data_dir: Path | None) -> tuple[dict[str, Path], str | None]:
    """(domain -> photons file, split): ``data_dir`` whole, else the run's own test split."""
    if data_dir is None:
        from datrig.train.runs import run_data_dir

        data_dir = run_data_dir(run_dir)
        split = "test"
    else:
        split = None
    files = {d: dataset_file(data_dir, "photons", d) for d in ("sim", "data")}
    return files, split


def firmware_sample(project: Firmware, path: Path, split: str | None) -> Sample:
    """Every candidate of ``path`` (``split``) with the firmware score the emulator computes
    from its raw variables (through the project's own input definition)."""
    events = read_rows(path, split)
    x = project.read_inputs(path, split=split)
    scores = [project.emulate(x[i : i + CHUNK])[:, 0] for i in range(0, len(x), CHUNK)]
    return Sample(events, np.concatenate(scores))


def evaluate_runs(
    run_dirs: list[Path], data_dir: Path | None, out_dir: Path, settings: Settings
) -> list[MethodCalibration]:
    from tqdm import tqdm

    results = []
    methods = method_names(run_dirs)
    for run_dir, method in tqdm(
        list(zip(run_dirs, methods, strict=True)), desc="calibrate", unit="run", file=sys.stderr
    ):
        run_dir = Path(run_dir)
        project = run_project(run_dir, out_dir, settings.seed, method)
        files, split = _event_files(run_dir, data_dir)
        samples = {d: firmware_sample(project, f, split) for d, f in files.items()}
        result = calibrate(samples["sim"], samples["data"], settings)
        results.append(MethodCalibration(method, run_dir, project.path, samples, result))
    return results
