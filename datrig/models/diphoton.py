"""diphoton: the ttH(gamma gamma) signal/background MVA that must not sculpt m_gg (raw photon
pT's carry m_gg information; the penalty keeps the background's m_gg shape after the cut)."""

from __future__ import annotations

from datrig.data.features import Feature
from datrig.models.mlp import build_mlp
from datrig.models.spec import ModelSpec

DIPHOTON = ModelSpec(
    name="diphoton",
    kind="diphoton",
    inputs=(
        Feature("pt1", "log"),
        Feature("pt2", "log"),
        Feature("pt_gg", "log1p"),
        Feature("eta1"),
        Feature("eta2"),
        Feature("n_jets"),
        Feature("n_bjets"),
        Feature("ht", "log1p"),
        Feature("n_leptons"),
        Feature("met", "log1p"),
    ),
    task="classification",
    target="label",
    protected="m_gg",
    penalty_subset="background",
    penalised="score",
    output_kind="logit",
    family="diphoton",
    build=build_mlp,
    hidden=(32, 16),
    default_batch_size=2048,
    # learned bit widths (resource_lam 0.03, disco lam 20): rejection@50% 9.40 vs 9.55 and
    # m_gg JSD 0.0009 as with uniform 8 bits, at a third of the EBOPs: 5 cycles and 5.2k LUT
    # instead of 6 and 12.2k
    default_bits="auto",
)
