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
)
