"""Turn datrig HDF5 files into the arrays the trainer needs, for one model spec.

Arrays are kept in the *artefact* layout (``inputs`` of docs/artefacts.md: (N, F) for MLPs,
(N, n_cells, F) for the GNN); :func:`to_model_layout` gives what the Brevitas network takes.
Data-domain events are returned with ``label = -1`` and ``target = nan`` so their truth can
never leak into a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from datrig.data.features import Normalisation, fit_cells, fit_normalisation, raw_features
from datrig.data.schema import CELL_FEATURES
from datrig.errors import DatrigError
from datrig.models.spec import ModelSpec


@dataclass
class EventArrays:
    """One block of events: network inputs and everything the losses and metrics need."""

    inputs: np.ndarray  # float32, artefact layout
    label: np.ndarray  # int8; -1 for data-domain events in training
    target: np.ndarray  # float32: label (classification) or e_true/e_raw (regression)
    protected: np.ndarray  # float32 protected variable ("domain" -> 0/1)
    domain: np.ndarray  # int8
    e_raw: np.ndarray  # float32 GeV (ones for diphoton)
    condition: np.ndarray  # float32 ModelSpec.condition (e.g. pT); zeros if the spec has none
    weight: np.ndarray  # float32 event weights, signed (ones for the toy and for data)

    def __len__(self) -> int:
        return len(self.label)

    @staticmethod
    def concat(blocks: list[EventArrays]) -> EventArrays:
        return EventArrays(
            *(np.concatenate([getattr(b, f) for b in blocks]) for f in EventArrays.__annotations__)
        )


def n_cells_for(spec: ModelSpec, n_cells_in_file: int) -> int:
    """Nodes per candidate: 1 for a window cell builder (the whole window is one node), else the
    largest power of two <= the file's cells, capped by the spec (exact 1/n averaging)."""
    from datrig.data.features import get_cell_builder

    if get_cell_builder(spec.cell_builder).window:
        return 1
    n = min(spec.extra.get("max_cells", 32), n_cells_in_file)
    if n < 1:
        raise DatrigError("the photons file has no cells; the GNN needs the cells dataset")
    return 1 << (n.bit_length() - 1)


def fit_for(spec: ModelSpec, sim_path: Path, n_max: int | None) -> Normalisation:
    """Normalisation fitted on the sim train split (first ``n_max`` rows); cell inputs go
    through the spec's cell-feature builder first."""
    if spec.inputs == "cells":
        cells = raw_features(sim_path, list(CELL_FEATURES), True, "train", n_max)
        return fit_cells(cells, n_cells_for(spec, cells.shape[1]), spec.cell_builder)
    raw = raw_features(sim_path, spec.feature_names, False, "train", n_max)
    return fit_normalisation(raw, spec.feature_names, spec.transforms)


def load_events(
    spec: ModelSpec,
    path: Path,
    split: str,
    norm: Normalisation,
    n_max: int | None = None,
    hide_truth: bool = False,
) -> EventArrays:
    """Normalised inputs and per-event truth of ``split`` of one file (first ``n_max`` rows)."""
    from datrig.data.reader import open_dataset, read_columns

    info = open_dataset(path)
    if info.kind != spec.kind:
        raise DatrigError(
            f"{path} holds {info.kind} events but model {spec.name} needs a {spec.kind} file"
        )
    inputs = norm.network_inputs(path, split, n_max)
    target_col, raw_col = regression_columns(spec)
    need = ["label", "domain"]
    if spec.protected != "domain":
        need.append(spec.protected)
    if spec.task == "regression":
        need += [c for c in (target_col, raw_col) if c in info.fields]
    if spec.condition is not None and spec.condition not in need:
        need.append(spec.condition)
    if "weight" in info.fields:
        need.append("weight")
    cols = read_columns(path, list(dict.fromkeys(need)), split, n_max)
    n = len(inputs)
    label = cols["label"].astype(np.int8)
    domain = cols["domain"].astype(np.int8)
    weight = cols["weight"].astype(np.float32) if "weight" in cols else np.ones(n, np.float32)
    if spec.task == "regression":
        e_raw = cols[raw_col].astype(np.float32)
        if np.any(e_raw <= 0):
            raise DatrigError(f"{path}: {raw_col} must be positive for the regression")
        target = (
            (cols[target_col] / e_raw).astype(np.float32)
            if target_col in cols
            else np.full(n, np.nan, np.float32)
        )
    else:
        e_raw = np.ones(n, np.float32)
        target = label.astype(np.float32)
    protected = (domain if spec.protected == "domain" else cols[spec.protected]).astype(np.float32)
    condition = (
        np.zeros(n, np.float32) if spec.condition is None else cols[spec.condition]
    ).astype(np.float32)
    if hide_truth:
        label = np.full(n, -1, np.int8)
        target = np.full(n, np.nan, np.float32)
        weight = np.ones(n, np.float32)  # data weights are never read
    return EventArrays(inputs, label, target, protected, domain, e_raw, condition, weight)


def regression_columns(spec: ModelSpec) -> tuple[str, str]:
    """(target, raw) columns of a regression: e_true/e_raw of the toy, a task's own names."""
    if spec.kind == "task":
        return spec.target, str(spec.extra["reference"])
    return "e_true", "e_raw"


def to_model_layout(inputs: np.ndarray | torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """Artefact layout -> network layout: the GNN takes (N, F, n_cells) (channels first)."""
    x = torch.as_tensor(inputs, dtype=torch.float32)
    return x.transpose(1, 2).contiguous() if spec.inputs == "cells" else x
