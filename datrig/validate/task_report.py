"""``datrig validate`` of task runs: every run's figures on its float, quantized and firmware
outputs, side by side, with the task's names and weights.

The toy's report (:mod:`datrig.validate.report`) adds baselines that need the toy's own
variables (a cut-based ID on its shower shapes, independence bounds, peers); a task's report
gives what any ID or regression is judged by: weighted AUC and rejections at the 80 % and 50 %
working points, the ABCD factor of the background per condition tercile (regions defined on
simulation) and rank dCor with the protected variable, or the response and resolution of a
regression; per domain where the domain has truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.jsonio import json_safe
from datrig.provenance import sidecar
from datrig.train.dataset import regression_columns
from datrig.train.metrics import abcd_gap, run_metrics
from datrig.train.predictions import PREDICTIONS_FILE

FIGURES = (
    "auc",
    "rejection_at_80",
    "rejection_at_50",
    "abcd_r_ptbins",
    "median_response",
    "iqr_half",
)


def task_metrics(preds: Any, outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """``run_metrics`` of a task run's ``outputs`` with the task's own names, weights, ABCD
    gap and regression columns: what validate reports and what a scan ranks."""
    from datrig.models.registry import resolve_spec

    spec = resolve_spec(preds.model, preds.task_config)
    events = preds.events
    weights = events["weight"].astype(np.float64) if "weight" in events.dtype.names else None
    protected = tuple(p for p in (spec.protected,) if p != "domain")
    return run_metrics(
        spec.task,
        protected,
        outputs,
        events,
        10_000,
        spec.condition,
        weights=weights,
        iso_gap=abcd_gap(preds.task_config),
        regression=regression_columns(spec),
    )


def build_task_report(runs: Sequence[Any], out_dir: Path, *, seed: int) -> dict[str, Any]:
    """metrics.json, roc.png (classification), validate.json and report.md in ``out_dir``."""
    metrics: dict[str, Any] = {}
    lines = [
        "# datrig validation report (task runs)",
        "",
        "Figures weighted by the task's event weights; regions and condition terciles "
        "from simulation; the data domain has figures only where it has truth.",
        "",
    ]
    for run in runs:
        preds = run.preds
        outputs = {"float": preds.output_float, "quant": preds.output_quant}
        if run.firmware is not None:
            outputs["firmware"] = run.firmware
        result = task_metrics(preds, outputs)
        key = f"{preds.model}/{preds.da}"
        metrics[key] = result
        lines += [
            f"## {key}",
            "",
            "| output | domain | " + " | ".join(FIGURES) + " |",
            "|---|---|" + "---|" * len(FIGURES),
        ]
        for flavour in outputs:
            for domain, figs in result.get(flavour, {}).items():
                cells = [_cell(figs.get(name)) for name in FIGURES]
                lines.append(f"| {flavour} | {domain} | " + " | ".join(cells) + " |")
        lines.append("")
    metrics = json_safe(metrics)
    write_json(out_dir / "metrics.json", metrics)
    inputs = {f"run{k}": run.preds.run_dir / PREDICTIONS_FILE for k, run in enumerate(runs)}
    write_json(out_dir / "validate.json", sidecar(stage="validate", seed=seed, inputs=inputs))
    if runs and runs[0].preds.task == "classification":
        _roc(runs, out_dir / "roc.png")
        lines += ["![roc.png](roc.png)", ""]
    with atomic_path(out_dir / "report.md") as tmp:  # last: its presence means complete
        tmp.write_text("\n".join(lines))
    return metrics


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " / ".join("-" if v is None or not np.isfinite(v) else f"{v:.3g}" for v in value)
    return f"{value:.4g}" if np.isfinite(value) else "-"


def _roc(runs: Sequence[Any], path: Path) -> None:
    from datrig.metrics.classifier import roc
    from datrig.validate.plots import new_figure, save_png

    fig, axes = new_figure(1, 1, width=5.0)
    ax = axes[0, 0]
    for run in runs:
        ev = run.preds.events
        sim = (ev["domain"] == 0) & (ev["label"] >= 0)
        w = ev["weight"][sim].astype(np.float64) if "weight" in ev.dtype.names else None
        out = run.firmware if run.firmware is not None else run.preds.output_quant
        tpr, fpr, auc = roc(out[sim], ev["label"][sim], w)
        ax.plot(tpr, 1 / np.maximum(fpr, 1e-6), label=f"{run.preds.da} (AUC {auc:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency (simulation, weighted)")
    ax.set_ylabel("background rejection")
    ax.legend(fontsize=8)
    save_png(fig, path)
