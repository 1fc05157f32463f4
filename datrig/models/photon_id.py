"""photon_id: the shower-shape MLP that tells prompt photons from jet fakes, decorrelated from
isolation so that the fake background can be measured in isolation sidebands (ABCD)."""

from __future__ import annotations

from datrig.data.features import Feature
from datrig.data.schema import SHOWER_SHAPES
from datrig.models.mlp import build_mlp
from datrig.models.spec import ModelSpec

PHOTON_ID = ModelSpec(
    name="photon_id",
    kind="photons",
    inputs=(*(Feature(s) for s in SHOWER_SHAPES), Feature("pt", "log"), Feature("eta", "abs")),
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    condition="pt",
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    family="photon_id",
    build=build_mlp,
    hidden=(32, 16),
    default_batch_size=2048,
    # the penalty that makes the ABCD calibration close at fixed pT (R = 1 +- 0.1 per pT
    # tercile in sim and data, `datrig calibrate`); disco keeps more rejection (17.4 vs 6.9 at
    # 80 % efficiency) but its R is 2.2-3.4, so its fake estimate needs a sim correction
    shipped_da="flat",
    # learned bit widths: at resource_lam 0.03 (flat, lam 3) rejection@80% is 6.80 as with
    # uniform 8 bits, at half the EBOPs: 5 cycles and 7.2k LUT instead of 8 and 13.2k
    default_bits="auto",
    default_resource_lam=0.03,
)
