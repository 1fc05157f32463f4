"""photon_id_gnn: photon ID from calorimeter cells with a Deep Sets network (per-cell layers,
mean pooling, head), for the trigger where shower shapes are not yet computed."""

from __future__ import annotations

from datrig.models.deepsets import build_deepsets
from datrig.models.spec import ModelSpec

PHOTON_ID_GNN = ModelSpec(
    name="photon_id_gnn",
    kind="photons",
    inputs="cells",
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    condition="pt",
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    family="photon_id",
    build=build_deepsets,
    hidden=(16, 16),
    default_batch_size=1024,
    default_epochs=8,
    default_n_train=60_000,
    extra={"max_cells": 32},
)
