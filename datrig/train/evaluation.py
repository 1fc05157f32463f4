"""The trained run evaluated on its test events and written: predictions, metrics, run.json.

``run.json`` (the provenance record) is written last: it marks the staged run complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import write_json
from datrig.data.features import Normalisation
from datrig.errors import DatrigError
from datrig.paths import predictions_path
from datrig.provenance import sidecar
from datrig.quant.cost import bit_widths
from datrig.train import dataset as ds
from datrig.train.config import TrainConfig
from datrig.train.lifecycle import RUN
from datrig.train.metrics import abcd_gap, run_metrics
from datrig.train.objective import predict
from datrig.train.outputs import write_predictions
from datrig.train.step import Step


def evaluate_and_write(
    step: Step,
    norm: Normalisation,
    inputs: dict[str, Path],
    input_hashes: dict[str, str],
    work_dir: Path,
) -> dict[str, Any]:
    """Float and quantized outputs on the test split of every input file, their metrics, the
    predictions file and the run's provenance record."""
    from datrig.data.reader import read_rows

    cfg: TrainConfig = step.cfg
    spec = step.spec
    provenance = sidecar(stage="qat", seed=cfg.seed, inputs=inputs, model=spec.name, da=cfg.da)
    changed = [k for k, h in input_hashes.items() if provenance["inputs"][k]["sha256"] != h]
    if changed:
        raise DatrigError(
            f"input file(s) {', '.join(str(provenance['inputs'][k]['path']) for k in changed)} "
            "changed during training (re-simulated?); rerun datrig qat on stable data"
        )
    blocks, events = [], []
    for path in inputs.values():
        block = ds.load_events(spec, path, "test", norm, cfg.n_test)
        blocks.append(block.inputs)
        events.append(read_rows(path, "test")[: cfg.n_test])
    x = np.concatenate(blocks)
    rows = np.concatenate(events)
    out_quant = predict(step.model, x, spec, float_twin=False)
    out_float = predict(step.model, x, spec, float_twin=True)
    protected = (spec.protected, *spec.extra_protected)
    protected = tuple(p for p in protected if p != "domain")
    unit_weights = step.data.unit_weights
    metrics = run_metrics(
        spec.task,
        protected,
        {"float": out_float, "quant": out_quant},
        rows,
        cfg.metric_max_events,
        spec.condition,
        weights=None if unit_weights else rows["weight"].astype(np.float64),
        iso_gap=abcd_gap(cfg.task),
        regression=ds.regression_columns(spec),
    )
    metrics["model"], metrics["da"], metrics["lam"] = spec.name, cfg.da, cfg.lam
    metrics["train_rows"] = step.data.train_rows
    metrics["resource"] = {
        "ebops": float(step.ebops().detach()),
        "ebops_at_start": step.ebops_ref,
        "bits": bit_widths(step.model),
    }
    attrs = {
        "model": spec.name,
        "da": cfg.da,
        "task": spec.task,
        "output_kind": spec.output_kind,
        "protected": spec.protected,
        **({"task_config": json.dumps(cfg.task, sort_keys=True)} if cfg.task else {}),
    }
    write_predictions(predictions_path(work_dir), x, rows, out_float, out_quant, attrs)
    write_json(work_dir / "metrics.json", metrics)
    write_json(work_dir / RUN.marker, provenance)  # last: marks the run complete
    return metrics
