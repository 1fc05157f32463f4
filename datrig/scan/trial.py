"""One scan trial: the whole chain for one point of the design space, on the firmware.

QAT -> export (a trial whose C-simulation is not bit-exact with the emulator fails here) ->
firmware cost (da4ml's cost model, or iverilog + yosys) -> physics on the emulated firmware
outputs of the run's test events. Artefacts go to ``<scan>/trials/<key>/`` and are reused when
complete (a retried or resumed trial does not train again). Expected failures (training
diverged, verification failed) are recorded with their message, not raised: one bad point
must not stop a scan.
"""

from __future__ import annotations

import platform
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import write_json
from datrig.errors import DatrigError
from datrig.faults import pause_point
from datrig.scan.space import trial_key

CALIBRATION_REPLICAS = 20  # bootstrap replicas of the per-trial closure (statistical error)


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one scan shares."""

    model: str
    data_dir: str  # one simulated dataset for all trials (never re-simulated per trial)
    out_dir: str  # the scan folder (on a filesystem every Ray node sees)
    epochs: int | None = None
    n_train: int | None = None
    measured_cost: bool = False  # iverilog + yosys in every trial (default: da4ml's model)
    task: dict[str, Any] | None = None  # the task file's JSON, for a scan of a task


def run_trial(params: dict[str, Any], ctx: TrialContext) -> dict[str, Any]:
    """Run the chain for ``params`` and return one flat row of parameters and metrics."""
    from datrig.runtime import configure_torch

    configure_torch(1)
    start = time.monotonic()
    key = trial_key(params)
    trial_dir = Path(ctx.out_dir) / "trials" / key
    row: dict[str, Any] = {**params, "trial": key, "status": "ok", "error": ""}
    pause_point("scan:trial-started")
    try:
        project, preds = _train_and_export(params, ctx, trial_dir)
        row["ebops"] = _ebops(trial_dir / "run")
        firmware = project.emulate(preds.inputs)[:, 0]
        row.update(physics(preds, firmware))
        row.update(firmware_cost(project, measured=ctx.measured_cost, seed=params["seed"]))
    except DatrigError as exc:
        row.update(status="failed", error=str(exc))
    row.update(_provenance(), wall_seconds=round(time.monotonic() - start, 2))
    write_json(trial_dir / "trial.json", row)
    return row


def _train_and_export(params: dict[str, Any], ctx: TrialContext, trial_dir: Path):
    from datrig.firmware.run_firmware import project_for
    from datrig.train.predictions import load_predictions
    from datrig.train.runs import ensure_run, resolve_config, resolve_quant

    resource_lam = float(params.get("resource_lam", 0.0))
    bits = "auto" if resource_lam > 0 else None  # learned, starting from weight/act bits
    quant = resolve_quant(ctx.model, bits, params["weight_bits"], params["act_bits"], task=ctx.task)
    hidden = tuple(int(w) for w in str(params["hidden"]).split("x"))
    cfg = resolve_config(
        ctx.model,
        params["penalty"],
        ctx.data_dir,
        params["seed"],
        lam=params["lam"],
        epochs=ctx.epochs,
        n_train=ctx.n_train,
        quant=quant,
        hidden=hidden,
        resource_lam=resource_lam,
        task=ctx.task,
    )
    run = ensure_run(cfg, trial_dir / "run", progress=False)
    preds = load_predictions(run)
    project = project_for(preds, trial_dir / "project", seed=params["seed"])
    return project, preds


def _ebops(run: Path) -> float:
    """The run's EBOPs (the training's resource proxy; see datrig.quant.cost)."""
    import json

    return float(json.loads((run / "metrics.json").read_text())["resource"]["ebops"])


def task_physics(preds: Any, firmware: np.ndarray) -> dict[str, Any]:
    """A task run's figures on its firmware outputs, weighted, in simulation (its data has no
    truth): rejections, AUC and the background's ABCD factor per condition tercile, or the
    regression's resolution and median response."""
    from datrig.validate.task_report import task_metrics

    sim = task_metrics(preds, {"firmware": firmware})["firmware"].get("sim", {})
    regression = preds.task == "regression"
    out: dict[str, Any] = {"family": "task_energy" if regression else "task_id"}
    renames = {
        "auc": "auc_sim",
        "rejection_at_80": "rejection80_sim",
        "rejection_at_50": "rejection50_sim",
        "iqr_half": "resolution_sim",
        "median_response": "median_response_sim",
    }
    for key, value in sim.items():
        if key in renames:
            out[renames[key]] = value
    if "median_response" in sim:
        out["response_dev_sim"] = abs(float(sim["median_response"]) - 1.0)
    r = [v for v in sim.get("abcd_r_ptbins", []) if v is not None and np.isfinite(v)]
    if r:
        out["abcd_r_max_dev_sim"] = float(max(abs(v - 1) for v in r))
        out.update({f"abcd_r_ptbins_{i}": v for i, v in enumerate(sim["abcd_r_ptbins"])})
    return out


def physics(preds: Any, firmware: np.ndarray) -> dict[str, Any]:
    """The model family's figures of merit on the firmware outputs (see objectives.py)."""
    if preds.task_config is not None:
        return task_physics(preds, firmware)
    from datrig.models.registry import get_model_spec
    from datrig.validate.evaluate import EVALUATORS, family, physical_output

    fam = family(preds)
    out: dict[str, Any] = {"family": fam}
    fw = EVALUATORS[fam](preds, physical_output(preds, firmware)).metrics
    flt = EVALUATORS[fam](preds, physical_output(preds, preds.output_float)).metrics
    for key, value in fw.items():
        if isinstance(value, (int, float)):
            out[key] = value
        elif key.startswith("abcd_r") and isinstance(value, list):
            out.update({f"{key}_{i}": v for i, v in enumerate(value)})
    for key in ("auc_sim", "rejection80_sim", "rejection50_sim", "resolution_sim"):
        if key in fw and key in flt:
            out[f"{key}_firmware_minus_float"] = fw[key] - flt[key]
    if "response_shift" in fw:
        out["response_shift_abs"] = abs(fw["response_shift"])
    if fam == "photon_id" and get_model_spec(preds.model).condition == "pt":
        out.update(_calibration(preds, firmware))
    return out


def _calibration(preds: Any, firmware: np.ndarray) -> dict[str, Any]:
    """ABCD non-closure of the data-driven fake estimate on the run's test events (pT bins):
    what a calibration with this model would get wrong."""
    from datrig.calibrate.analysis import Sample, Settings, calibrate

    domain = preds.field("domain")
    samples = [Sample(preds.events[domain == d], firmware[domain == d]) for d in (0, 1)]
    try:
        settings = Settings(n_replicas=CALIBRATION_REPLICAS, binnings=("pt",))
        bins = calibrate(*samples, settings).bins["pt"]
    except DatrigError as exc:  # too few events in a region: no calibration possible
        return {"abcd_nonclosure": float("nan"), "calibration_error": str(exc)}
    closure = [b["closure"]["uncorrected"] for b in bins]
    sf = [b["scale_factor"]["measured_over_truth"] for b in bins]
    return {
        "abcd_nonclosure": max(abs(c["value"] - 1) for c in closure),
        "abcd_nonclosure_err": max(c["err"] for c in closure),
        "sf_nonclosure": max(abs(c["value"] - 1) for c in sf),
    }


def firmware_cost(project: Any, *, measured: bool, seed: int) -> dict[str, Any]:
    """Latency and resources: da4ml's models (seconds) or iverilog + yosys (minutes)."""
    from datrig.firmware.backends import ReportOptions
    from datrig.firmware.report import build_report, report_target

    options = ReportOptions(synth=measured, simulate=measured, seed=seed, n_events=200)
    report = build_report(report_target(project), prefer="rtl", options=options)
    out: dict[str, Any] = {}
    for q in report.quantities:
        out[q.name] = q.value
        if q.name == "lut":
            out["lut_source"] = f"{q.source.kind} ({q.source.tool})" if q.source else ""
    out["budget_pass"] = report.passed
    return out


def measured_cost(project_dir: str, seed: int) -> dict[str, Any]:
    """iverilog + yosys cost of one trial's project (a Ray task on the front); a tool failure
    is recorded in ``error`` rather than lost with the scan."""
    from datrig.project.meta import FirmwareProject

    try:
        return firmware_cost(FirmwareProject.load(project_dir), measured=True, seed=seed)
    except DatrigError as exc:
        return {"error": str(exc)}


def _provenance() -> dict[str, Any]:
    from datrig.provenance import package_versions

    try:
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except ImportError:  # pragma: no cover - ray is a dependency
        node = ""
    versions = package_versions(("datrig", "torch", "brevitas", "hls4ml", "da4ml"))
    return {
        "host": socket.gethostname(),
        "node": node,
        "python": platform.python_version(),
        **{f"version_{k}": v for k, v in versions.items() if k != "python"},
    }
