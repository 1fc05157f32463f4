"""photon_id_gnn: photon ID from calorimeter cells with a Deep Sets network (per-cell layers,
mean pooling, head), for the trigger where shower shapes are not yet computed.

Design (firmware budget 50k LUT, 8 clocks at 200 MHz, II 1; firmware_configs/photon_id_gnn.yml):

* inputs: the 16 highest-energy cells through the ``upstream_energy`` cell builder
  (:mod:`datrig.data.features`): energy fraction f, f*d_eta, f*d_phi, f*d_eta^2, f*d_phi^2,
  f per layer and log(E_cluster), computed upstream by the trigger's cluster builder. Their mean
  over the cells is the energy-weighted centroid, widths and layer fractions (the shower shapes);
* per node: one 8-wide layer (it is unrolled 16 times, so it dominates the LUTs);
* after the pooling: a 32 -> 16 head (computed once per candidate), then fc_out; 8-bit weights
  and activations throughout. 4-bit per-node weights would have allowed 16 nodes in the same
  LUTs but trained to about half the rejection, with +30 % validation-loss spikes.

Training: the whole sim train split for 80 epochs at 2048-event batches; the rejection was
still rising at 20 epochs, and the run keeps its last epoch, so a smooth curve matters.
"""

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
    hidden=(8,),
    default_batch_size=2048,
    default_epochs=80,
    default_n_train=300_000,
    default_lr=2e-3,
    cell_builder="upstream_energy",
    extra={"max_cells": 16, "head": (32, 16)},
)
