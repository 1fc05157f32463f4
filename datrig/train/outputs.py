"""Writers of the run artefacts: predictions_test.h5 and the training-curve plot."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from datrig.atomic import atomic_path
from datrig.runtime import hdf5_writing


def write_predictions(
    path: Path,
    inputs: np.ndarray,
    events: np.ndarray,
    output_float: np.ndarray,
    output_quant: np.ndarray,
    attrs: dict[str, str],
) -> None:
    """``predictions_test.h5`` per docs/artefacts.md section 2 (sim rows first, then data)."""
    with hdf5_writing(path), atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("inputs", data=inputs.astype(np.float32), compression="gzip")
        fh.create_dataset("events", data=events, compression="gzip")
        fh.create_dataset("output_float", data=output_float.astype(np.float32))
        fh.create_dataset("output_quant", data=output_quant.astype(np.float32))
        for key, value in attrs.items():
            fh.attrs[key] = value


def plot_curves(path: Path, curves: dict[str, list[float]], title: str) -> None:
    """Loss curves per epoch (task loss train/val, penalty) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_task, ax_pen) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(curves.get("train_task", [])) + 1)
    for key in ("train_task", "val_task"):
        if curves.get(key):
            ax_task.plot(epochs, curves[key], marker="o", label=key)
    ax_task.set_xlabel("epoch")
    ax_task.set_ylabel("task loss")
    ax_task.legend()
    if curves.get("train_penalty"):
        ax_pen.plot(epochs, curves["train_penalty"], marker="o", color="C2", label="penalty")
    ax_pen.set_xlabel("epoch")
    ax_pen.set_ylabel("penalty (unscaled)")
    ax_pen.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
