"""photon_energy: a correction factor E_true/E_raw from layer energies and shower shapes, made
robust to data/simulation mismodelling (its energy spectrum must not tell the domains apart)."""

from __future__ import annotations

from datrig.data.features import Feature
from datrig.models.mlp import build_mlp
from datrig.models.spec import ModelSpec

PHOTON_ENERGY = ModelSpec(
    name="photon_energy",
    kind="photons",
    inputs=(
        Feature("e_raw", "log"),
        Feature("e_ps", "log1p"),
        Feature("e_l1", "log1p"),
        Feature("e_l2", "log1p"),
        Feature("e_l3", "log1p"),
        Feature("e_had", "log1p"),
        Feature("eta", "abs"),
        Feature("Reta"),
        Feature("Rphi"),
        Feature("weta2"),
        Feature("f1"),
        Feature("f3"),
    ),
    task="regression",
    target="e_true",
    protected="domain",
    penalty_subset="all",
    penalised="energy",
    output_kind="energy_correction",
    family="energy",
    build=build_mlp,
    hidden=(32, 16),
    default_batch_size=2048,
    output_init=1.0,
    default_lr=2e-3,
    default_n_train=80_000,
)
