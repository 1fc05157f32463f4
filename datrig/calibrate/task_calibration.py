"""The ABCD calibration of a task's ID on its firmware: a user's own simulation and data.

The regions and bins come from the task: the protected variable is the isolation axis, the
condition's terciles among the simulated background are the bins, the working point and the
isolated region follow the task's ``calibration`` section. Simulated candidates (with their
labels and signed weights) define the regions, the photon (signal) leakage fractions and R
from simulation; the data candidates give the measurement with nothing but their firmware
scores, protected variable and condition (:mod:`datrig.calibrate.analysis`). Real data has
no truth: the report gives the measurement and its statistical errors, and says that closure
is not available; a data source marked ``truth`` (the toy as a task) gets its closure too.

Candidates come from the run's task dataset (the test split), or ``--data FILE``: a user's
data ntuple of the task's format, read into a task dataset of its own with the task's
selection (:func:`data_file_task`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import ArtefactKind, atomic_dir, atomic_path, destination_lock, write_json
from datrig.calibrate.analysis import NO_TRUTH, Result, Sample, Settings, calibrate
from datrig.data.sources import SourceSpec
from datrig.data.task import TaskConfig
from datrig.data.taskdata import ensure_task_dataset
from datrig.errors import DatrigError
from datrig.faults import pause_point
from datrig.project.protocol import Firmware
from datrig.provenance import sidecar
from datrig.runtime import hdf5_writing

CHUNK = 200_000
MARKER = "calibrate.json"
CALIBRATION = ArtefactKind("calibration", MARKER, "calibrate")


@dataclass
class TaskCalibration:
    task: TaskConfig
    method: str
    project: Path
    samples: dict[str, Sample]
    where: dict[str, dict[str, np.ndarray]]  # domain -> file/entry/index of each candidate
    result: Result


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def task_settings(task: TaskConfig, base: Settings) -> Settings:
    """The calibration settings of a task: its variables and its calibration section."""
    cal = task.calibration
    if task.protected is None or task.condition is None:
        raise DatrigError(
            f"task {task.name} names no protected variable and condition: the ABCD "
            "calibration needs both (protected: the isolation axis, condition: the bins)"
        )
    return replace(
        base,
        protected=task.protected,
        condition=task.condition,
        id_efficiency=cal.efficiency,
        control_efficiency=cal.control_efficiency,
        iso_quantile=cal.isolated_quantile,
        iso_gap=float(cal.gap or 0.0),
        binnings=("pt",),
        peers=(),
        strict_counts=False,
        toy_binnings=False,
    )


def task_sample(
    project: Firmware, data_dir: Path, domain: str, split: str | None
) -> tuple[Sample, dict[str, np.ndarray]]:
    """Candidates of a task dataset's ``domain`` file with their firmware scores."""
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import read_rows

    path = dataset_file(data_dir, "task", domain)
    rows = read_rows(path, split)
    x = project.read_inputs(path, split=split)
    score = np.concatenate(
        [project.emulate(x[i : i + CHUNK])[:, 0] for i in range(0, len(x), CHUNK)]
    )
    truth = bool(np.all(rows["label"] >= 0))
    weight = rows["weight"].astype(np.float64)
    where = {k: rows[k] for k in ("file", "entry", "index")}
    return Sample(rows, score, None if np.all(weight == 1) else weight, truth), where


def data_file_task(task: TaskConfig, path: Path) -> TaskConfig:
    """``task`` reduced to one data source: the user's data file ``path``, in the format
    (tree, table, collection) of the task's data source, else of its simulation. Read
    through :func:`datrig.data.taskdata.ensure_task_dataset` like any source: the same
    selection, the same NaN policy, no label and no weight."""
    path = Path(path).resolve()
    like = task.sources.get("data") or task.sources["sim"]
    spec = SourceSpec((path.name,), like.tree, like.table, like.collection)
    return replace(task, sources={"data": spec}, base_dir=path.parent, toy_dir=None)


def calibrate_task(
    project: Firmware,
    task: TaskConfig,
    method: str,
    data_dir: Path,
    data_file: Path | None,
    base: Settings,
    split: str | None = "test",
) -> TaskCalibration:
    """Measure the task's calibration on the firmware scores (see module docstring)."""
    settings = task_settings(task, base)
    sim, sim_where = task_sample(project, data_dir, "sim", split)
    if data_file is not None:
        read = ensure_task_dataset(data_file_task(task, data_file), say=_say)
        data, data_where = task_sample(project, read, "data", None)
    elif "data" in task.sources:
        data, data_where = task_sample(project, data_dir, "data", split)
    else:
        raise DatrigError(
            f"task {task.name} has no data source: give the data to measure in with --data FILE"
        )
    result = calibrate(sim, data, settings)
    samples = {"sim": sim, "data": data}
    return TaskCalibration(
        task, method, project.path, samples, {"sim": sim_where, "data": data_where}, result
    )


def write_task_calibration(
    cals: list[TaskCalibration], tmp: Path, final: Path, settings: Settings, inputs: dict
) -> Path:
    """calibration.json, per_event.h5, two PNGs and report.md, then the marker."""
    doc: dict[str, Any] = {"settings": _settings_json(cals[0].task, settings)}
    for cal in cals:
        regions = cal.result.regions
        doc[cal.method] = {
            "task": cal.task.name,
            "n_candidates": {d: len(s.score) for d, s in cal.samples.items()},
            "truth_in_data": cal.samples["data"].truth,
            "regions": {
                "pass_threshold": regions.pass_threshold,
                "control_threshold": regions.control_threshold,
                "isolated_below": regions.iso_cut,
                "gap": regions.iso_gap,
            },
            "binning": cal.result.binnings["pt"].to_json(),
            "bins": cal.result.bins["pt"],
        }
    write_json(tmp / "calibration.json", doc)
    _per_event(cals, tmp / "per_event.h5")
    figures = {
        "abcd_r_sim.png": _plot_bins(cals, tmp / "abcd_r_sim.png", "abcd_r", "sim"),
        "scale_factors.png": _plot_bins(
            cals, tmp / "scale_factors.png", "scale_factor", "measured"
        ),
    }
    with atomic_path(tmp / "report.md") as path:
        path.write_text(_markdown(cals, doc, figures))
    pause_point("calibrate:before-swap")
    write_json(tmp / MARKER, sidecar(stage="calibrate", seed=settings.seed, inputs=inputs))
    return final / "report.md"


def _settings_json(task: TaskConfig, s: Settings) -> dict[str, Any]:
    return {
        "protected": s.protected,
        "condition": s.condition,
        "id_efficiency": s.id_efficiency,
        "control_efficiency": s.control_efficiency,
        "isolated_quantile": s.iso_quantile,
        "gap": s.iso_gap,
        "bootstrap_replicas": s.n_replicas,
        "units": task.units,
    }


def _per_event(cals: list[TaskCalibration], path: Path) -> None:
    import h5py

    with hdf5_writing(path), atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        for cal in cals:
            group = fh.create_group(cal.method)
            for domain, sample in cal.samples.items():
                g = group.create_group(domain)
                g.create_dataset("score", data=sample.score, compression="gzip")
                g.create_dataset("region", data=cal.result.region_of[domain], compression="gzip")
                g.create_dataset("bin", data=cal.result.bin_of[domain]["pt"], compression="gzip")
                names = [cal.task.protected, cal.task.condition]
                if sample.truth:
                    names.append("label")
                for name in dict.fromkeys(names):
                    g.create_dataset(name, data=sample.events[name], compression="gzip")
                weight = np.ones(len(sample.score)) if sample.weight is None else sample.weight
                g.create_dataset("weight", data=weight, compression="gzip")
                for key, values in cal.where[domain].items():
                    g.create_dataset(key, data=values, compression="gzip")


def _plot_bins(cals: list[TaskCalibration], path: Path, key: str, sub: str) -> Path:
    from datrig.validate.plots import new_figure, save_png

    fig, axes = new_figure(1, 1, width=5.5)
    ax = axes[0, 0]
    for i, cal in enumerate(cals):
        bins = cal.result.bins["pt"]
        nan = {"value": np.nan, "err": np.nan}
        values = [b[key][sub] if key in b else nan for b in bins]
        x = np.arange(len(bins)) + 0.08 * i
        ax.errorbar(
            x,
            [v["value"] for v in values],
            yerr=[v["err"] for v in values],
            fmt="o",
            capsize=3,
            label=cal.method,
        )
        ax.set_xticks(np.arange(len(bins)), [b["label"] for b in bins], fontsize=7)
    ax.axhline(1.0, color="green", lw=1)
    what = (
        "R = N_A N_D / (N_B N_C) among simulated background"
        if key == "abcd_r"
        else ("ID efficiency scale factor, data measured / simulation")
    )
    ax.set_ylabel(what, fontsize=8)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, str):
        return v
    return f"{v['value']:.{digits}f} ± {v['err']:.{digits}f}"


def _markdown(cals: list[TaskCalibration], doc: dict, figures: dict) -> str:
    s = doc["settings"]
    lines = [
        f"# datrig calibration of task {cals[0].task.name}",
        "",
        f"Regions from simulation, applied unchanged to data: the ID passes "
        f"{s['id_efficiency']:.0%} of the simulated signal (weighted); the control band holds "
        f"scores below its {s['control_efficiency']:.1%} point; isolated: `{s['protected']}` "
        f"below the {s['isolated_quantile']:.0%} quantile of the simulated signal, "
        f"non-isolated: {s['gap']:g} above. Bins: terciles of `{s['condition']}` among the "
        "simulated background. Statistical errors from a bootstrap (weighted counts).",
        "",
    ]
    for cal in cals:
        truth = cal.samples["data"].truth
        lines += [f"## {cal.method}", ""]
        if not truth:
            lines += [f"Closure: {NO_TRUTH}. The measurement below uses no data label.", ""]
        lines += [
            "| bin | R sim | fakes in A (data, R=1) | fakes in A (R from sim) | ID eff. data | "
            "SF data/sim | R data (truth) | closure |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for b in cal.result.bins["pt"]:
            if "not_measured" in b:
                lines.append(f"| {b['label']} | not measured: {b['not_measured']} |||||||")
                continue
            closure = (
                b["closure"] if isinstance(b["closure"], str) else _fmt(b["closure"]["uncorrected"])
            )
            lines.append(
                f"| {b['label']} | {_fmt(b['abcd_r']['sim'], 2)} "
                f"| {_fmt(b['fakes_a']['uncorrected'], 1)} "
                f"| {_fmt(b['fakes_a']['corrected_with_sim_r'], 1)} "
                f"| {_fmt(b['efficiency']['data_measured'], 4)} "
                f"| {_fmt(b['scale_factor']['measured'], 4)} "
                f"| {_fmt(b['abcd_r']['data_truth'], 2)} | {closure} |"
            )
        lines.append("")
    lines += [f"![{name}]({name})" for name in figures]
    lines += ["", "Per candidate (score, region, bin, entry in the input): `per_event.h5`.", ""]
    return "\n".join(lines)


def calibrate_task_into(
    make_entries: Callable[[Path], list[tuple[Firmware, TaskConfig, str, Path, str | None]]],
    data_file: Path | None,
    out: Path,
    settings: Settings,
    inputs: dict[str, Path],
) -> Path:
    """Calibrate each (project, task, method, task dataset) that ``make_entries(staging)``
    gives (exporting a run's project into the staging folder when it has none) into the
    calibration folder ``out``: staged and swapped in whole, like every datrig artefact."""
    out = Path(out)
    with destination_lock(out), atomic_dir(out, CALIBRATION) as tmp:
        entries = make_entries(tmp)
        cals = [
            calibrate_task(project, task, method, data_dir, data_file, settings, split)
            for project, task, method, data_dir, split in entries
        ]
        report = write_task_calibration(
            cals, tmp, out, task_settings(cals[0].task, settings), inputs
        )
    return report


def run_task(run_dir: Path) -> TaskConfig | None:
    """The task a run was trained on, or None for a run of a named model."""
    try:
        doc = json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    task = doc.get("task") if isinstance(doc, dict) else None
    if task is None:
        return None
    return TaskConfig.from_json(task, Path("."), f"the task of {run_dir}")
