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
    # the whole train split of the default sample, 30 epochs, cosine: a (32, 16) float MLP goes
    # from IQR/2 0.0154 (80k events, 20 epochs, constant rate) to 0.0140 (sim; a 128-64-32 one
    # on all 21 inputs: 0.0136); the network is now short of bits, not of statistics (README)
    default_batch_size=1024,
    default_epochs=30,
    default_lr_schedule="cosine",
    output_init=1.0,
    default_lr=3e-3,
    default_n_train=300_000,
    # learned bit widths: the regression's loss is ~1000x smaller than a classifier's, so the
    # resource term is too. 3e-4: 5 cycles, 6.9k LUT, IQR/2 0.0148 (sim); 2.5e-4 and 2e-4 (IQR/2
    # 0.0146, 0.0143) need a 6th pipeline stage (30 ns > 25), 1.5e-4 also 8.8k LUT (README)
    default_bits="auto",
    default_resource_lam=3e-4,
)
