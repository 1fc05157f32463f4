"""photon_id: the shower-shape MLP that tells prompt photons from jet fakes, decorrelated from
isolation so that the fake background can be measured in isolation sidebands (ABCD).

The network reads the shower shapes, pT and |eta| in its score branch and, in a compensation
branch, pT and the calorimeter isolation (an L1 e/gamma algorithm computes isolation anyway):
the deployed output is ``s - c(pT, iso)``, a learned designed decorrelation
(:mod:`datrig.models.compensated`, :mod:`datrig.da.ddt`). Every other penalty trains the score
branch alone, blind to isolation.
"""

from __future__ import annotations

from datrig.data.features import Feature
from datrig.data.schema import SHOWER_SHAPES
from datrig.models.compensated import build_id_mlp
from datrig.models.spec import ModelSpec

PHOTON_ID = ModelSpec(
    name="photon_id",
    kind="photons",
    inputs=(
        *(Feature(s) for s in SHOWER_SHAPES),
        Feature("pt", "log"),
        Feature("eta", "abs"),
        Feature("iso_calo"),
    ),
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    condition="pt",
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    family="photon_id",
    build=build_id_mlp,
    hidden=(32, 16),
    # 8 + 4 compensation units: with 16 + 8 the output layer's fan-in (24) costs one more
    # pipeline stage (6 clocks) and ~3k LUT, and R80 9.34 instead of 9.54 (seed 41, judged on
    # 1M candidates per domain; docs/decorrelation.md)
    compensation_hidden=(8, 4),
    default_batch_size=2048,
    default_epochs=60,
    default_lr_schedule="cosine",
    default_n_train=180_000,  # the train split of a 300k-candidate sample
    # the learned DDT: R = 1 at fixed pT in sim by construction (datrig.da.ddt); its
    # photon-region domain term is off by default (measured no gain in data R, see there)
    shipped_da="ddt",
    # learned bit widths under a firmware-cost term of 0.1: at 0.03 this two-branch network
    # landed anywhere from 4 to 13 bits per layer between runs (7.2k-14.4k LUT, 5-6 clocks);
    # 0.1 gave 5.9k LUT at 5 clocks and R80 9.5, fixed 6 bits 10.8k LUT at 6 clocks
    default_bits="auto",
    default_resource_lam=0.1,
    # truncating hidden activations: one adder level less per ReLU in the firmware, what keeps
    # the two-branch network at 5 clocks (25 ns) at 200 MHz
    default_act_rounding="floor",
)
