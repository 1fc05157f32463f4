"""photon_energy_bdt: the photon energy correction E_true/E_raw as a boosted regression tree
ensemble in firmware (conifer), the way ATLAS calibrates photon energies with a BDT; the same
inputs as photon_energy's network, no penalty (``--da none``: a tree ensemble takes no
network penalty, and its threshold map is for IDs)."""

from __future__ import annotations

import dataclasses

from datrig.models.photon_energy import PHOTON_ENERGY
from datrig.models.trees import TreeSettings, no_network

PHOTON_ENERGY_BDT = dataclasses.replace(
    PHOTON_ENERGY,
    name="photon_energy_bdt",
    build=no_network,
    hidden=(),
    shipped_da="none",
    default_bits=8,
    default_resource_lam=0.0,
    # 63 trees: 6 adder levels (with the init), 3 clocks of them: 5 clocks = 25 ns at 200 MHz;
    # a correction of ~1 +- 0.1 needs leaves finer than a classifier's: 2^-10
    trees=TreeSettings(n_trees=63, max_depth=5, learning_rate=0.2, score_fractional=10),
)
