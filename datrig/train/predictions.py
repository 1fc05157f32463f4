"""Read a QAT run's ``predictions_test.h5`` (docs/artefacts.md section 2) into a typed record.

The file is checked once here, at the edge, so the metric code can trust its arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from datrig.errors import SchemaError
from datrig.paths import PREDICTIONS_FILE, predictions_path, safe_name

REQUIRED_DATASETS = ("inputs", "events", "output_float", "output_quant")
REQUIRED_ATTRS = ("model", "da", "task", "output_kind", "protected")
REQUIRED_FIELDS = ("label", "domain")
OUTPUT_KINDS = ("logit", "energy_correction")


@dataclass
class RunPredictions:
    """Per-event test-split predictions of one run (sim rows first, then data)."""

    run_dir: Path
    model: str
    da: str
    task: str
    output_kind: str
    protected: str
    inputs: np.ndarray
    events: np.ndarray
    output_float: np.ndarray
    output_quant: np.ndarray
    task_config: dict | None = None  # the task file's JSON, for a run of a task

    @property
    def n_events(self) -> int:
        return int(self.output_float.shape[0])

    def field(self, name: str) -> np.ndarray:
        if name not in (self.events.dtype.names or ()):
            raise SchemaError(
                f"{self.run_dir / PREDICTIONS_FILE}: events table has no field {name!r} "
                f"(has {', '.join(self.events.dtype.names or ())}); rerun `datrig qat`"
            )
        return np.asarray(self.events[name])


def load_predictions(run_dir: str | Path) -> RunPredictions:
    """Load and validate ``run_dir/predictions_test.h5``."""
    run_dir = Path(run_dir)
    path = predictions_path(run_dir)
    if not path.is_file():
        raise SchemaError(
            f"{path} not found: {run_dir} is not a finished QAT run; run `datrig qat` first"
        )
    try:
        with h5py.File(path, "r") as fh:
            missing = [k for k in REQUIRED_DATASETS if k not in fh]
            missing += [f"attr {k}" for k in REQUIRED_ATTRS if k not in fh.attrs]
            if missing:
                raise SchemaError(
                    f"{path} is not a datrig predictions file (missing {', '.join(missing)}); "
                    "rerun `datrig qat` to regenerate it"
                )
            attrs = {k: _text(fh.attrs[k]) for k in REQUIRED_ATTRS}
            for key in ("model", "da"):  # names that become folder names: never paths
                attrs[key] = safe_name(attrs[key], f"{path}: attribute {key!r}")
            if "task_config" in fh.attrs:
                try:
                    attrs["task_config"] = json.loads(_text(fh.attrs["task_config"]))
                except (ValueError, RecursionError):
                    raise SchemaError(f"{path}: malformed task_config attribute") from None
            arrays = {k: fh[k][()] for k in REQUIRED_DATASETS}
    except OSError as exc:
        raise SchemaError(
            f"{path} is not a readable HDF5 file ({exc}); rerun `datrig qat`"
        ) from None
    preds = RunPredictions(run_dir=run_dir, **attrs, **arrays)  # type: ignore[arg-type]
    _check(preds, path)
    return preds


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check(p: RunPredictions, path: Path) -> None:
    if p.events.dtype.names is None:
        raise SchemaError(f"{path}: 'events' must be a compound table with named fields")
    for name in REQUIRED_FIELDS:
        p.field(name)
    n = p.events.shape[0]
    for name in ("inputs", "output_float", "output_quant"):
        arr = getattr(p, name)
        if arr.shape[0] != n:
            raise SchemaError(f"{path}: {name} has {arr.shape[0]} rows but events has {n}")
    for name in ("output_float", "output_quant"):
        arr = getattr(p, name).reshape(n, -1)
        if arr.shape[1] != 1:
            raise SchemaError(f"{path}: {name} must have one value per event, has {arr.shape[1]}")
        setattr(p, name, arr[:, 0].astype(np.float64))
        bad = int(np.count_nonzero(~np.isfinite(getattr(p, name))))
        if bad:
            raise SchemaError(f"{path}: {name} has {bad} NaN/infinite values; the run diverged")
    if p.output_kind not in OUTPUT_KINDS:
        raise SchemaError(
            f"{path}: unknown output_kind {p.output_kind!r} (expected {OUTPUT_KINDS})"
        )
    if n == 0:
        raise SchemaError(f"{path}: no events")
