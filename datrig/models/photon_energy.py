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
    # learned bit widths: the regression's MSE is ~1000x smaller than a classifier's loss, so
    # the resource term is too (3e-4): resolution (IQR/2) 0.0159 vs 0.0156 (sim) and 0.0167 vs
    # 0.0165 (data) of uniform 8 bits, at a third of the EBOPs: 5 cycles and 7.0k LUT instead
    # of 6 and 15.7k (at 1e-3: 4.3k LUT but 6 % worse resolution)
    default_bits="auto",
    default_resource_lam=3e-4,
)
