"""The on-disk schema of datrig's HDF5 files (docs/artefacts.md section 1), in one place.

Field tables map name -> (numpy dtype, unit). Units are stored in the file's ``units``
attribute and checked on open, so a file with energies in MeV is rejected, not misread.
"""

from __future__ import annotations

import numpy as np

# photons/2: the cells array holds every cell the shower shapes are computed from (108, in the
# fixed order of CELL_WINDOW, positions from the window centre); photons/1 kept 60 of them.
PHOTONS_SCHEMA = "photons/2"
DIPHOTON_SCHEMA = "diphoton/1"
RESONANCE_SCHEMA = "resonance/1"
# A task dataset: a user's candidates with the task's columns (datrig.data.taskdata)
TASK_SCHEMA = "task/1"
TASK_TABLE = "candidates"
TASK_REQUIRED = ("label", "weight", "domain", "entry")

# ATLAS shower-shape variables, computed from cell energies (datrig.sim.shapes).
SHOWER_SHAPES: tuple[str, ...] = (
    "Rhad",
    "Reta",
    "Rphi",
    "weta2",
    "ws3",
    "wstot",
    "Eratio",
    "DeltaE",
    "fside",
    "f1",
    "f3",
)

_F4 = "<f4"
_I1 = "i1"

PHOTON_FIELDS: dict[str, tuple[str, str]] = {
    "Rhad": (_F4, "1"),
    "Reta": (_F4, "1"),
    "Rphi": (_F4, "1"),
    "weta2": (_F4, "eta"),
    "ws3": (_F4, "strips"),
    "wstot": (_F4, "strips"),
    "Eratio": (_F4, "1"),
    "DeltaE": (_F4, "GeV"),
    "fside": (_F4, "1"),
    "f1": (_F4, "1"),
    "f3": (_F4, "1"),
    "pt": (_F4, "GeV"),
    "eta": (_F4, "1"),
    "phi": (_F4, "rad"),
    "e_true": (_F4, "GeV"),
    "e_raw": (_F4, "GeV"),
    "e_ps": (_F4, "GeV"),
    "e_l1": (_F4, "GeV"),
    "e_l2": (_F4, "GeV"),
    "e_l3": (_F4, "GeV"),
    "e_had": (_F4, "GeV"),
    "iso_track": (_F4, "GeV"),
    "iso_calo": (_F4, "GeV"),
    "mu": (_F4, "1"),
    "converted": (_I1, "1"),
    "label": (_I1, "1"),
    "domain": (_I1, "1"),
}

DIPHOTON_FIELDS: dict[str, tuple[str, str]] = {
    "m_gg": (_F4, "GeV"),
    "pt1": (_F4, "GeV"),
    "eta1": (_F4, "1"),
    "phi1": (_F4, "rad"),
    "pt2": (_F4, "GeV"),
    "eta2": (_F4, "1"),
    "phi2": (_F4, "rad"),
    "pt_gg": (_F4, "GeV"),
    "pt1_over_mgg": (_F4, "1"),
    "pt2_over_mgg": (_F4, "1"),
    "pt_gg_over_mgg": (_F4, "1"),
    "n_jets": (_F4, "1"),
    "n_bjets": (_F4, "1"),
    "ht": (_F4, "GeV"),
    "n_leptons": (_F4, "1"),
    "met": (_F4, "GeV"),
    "label": (_I1, "1"),
    "domain": (_I1, "1"),
}

# Resonance photons (the in-situ energy-scale sample): every photon field, one row per photon,
# rows 2k and 2k + 1 being the two photons of event k; ``m_true`` is the event's true mass
# (truth, like e_true: closure studies only). No cells: the energy regression reads columns.
RESONANCE_FIELDS: dict[str, tuple[str, str]] = {**PHOTON_FIELDS, "m_true": (_F4, "GeV")}

# Schemas this datrig no longer reads: schema id -> why, and what to do (one line).
RETIRED_SCHEMAS: dict[str, str] = {
    "photons/1": (
        "its cells array keeps 60 of the 108 cells the shower shapes are computed from "
        "(16 of 40 strips, 5x5 of the 7x7 middle cells); re-simulate with `datrig simulate`"
    ),
}

# Cell features of the ``cells`` dataset (N, n_cells, 4).
CELL_FEATURES: tuple[str, ...] = ("energy", "d_eta", "d_phi", "layer")
CELL_UNITS: dict[str, str] = {"energy": "GeV", "d_eta": "1", "d_phi": "rad", "layer": "1"}
# What the ``layer`` cell feature indexes (0 .. 4).
CELL_LAYERS: tuple[str, ...] = ("presampler", "strips", "middle", "back", "hadronic")
# The window datrig simulate stores, in stored order: (layer, n_eta, n_phi) per layer, cells
# eta-major within a layer (datrig.sim.geometry simulates exactly these cells).
CELL_WINDOW: tuple[tuple[str, int, int], ...] = (
    ("presampler", 1, 1),
    ("strips", 40, 1),
    ("middle", 7, 7),
    ("back", 3, 3),
    ("hadronic", 3, 3),
)
N_WINDOW_CELLS = sum(n_eta * n_phi for _, n_eta, n_phi in CELL_WINDOW)  # 108

DOMAINS: dict[str, int] = {"sim": 0, "data": 1}


def kinds() -> dict[str, tuple[str, str, dict[str, tuple[str, str]]]]:
    """kind -> (schema id, table dataset name, field table)."""
    return {
        "photons": (PHOTONS_SCHEMA, "candidates", PHOTON_FIELDS),
        "diphoton": (DIPHOTON_SCHEMA, "events", DIPHOTON_FIELDS),
        "resonance": (RESONANCE_SCHEMA, "candidates", RESONANCE_FIELDS),
    }


def dtype_of(fields: dict[str, tuple[str, str]]) -> np.dtype:
    """Structured numpy dtype of a field table (field order as listed)."""
    return np.dtype([(name, dt) for name, (dt, _unit) in fields.items()])


def units_of(fields: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {name: unit for name, (_dt, unit) in fields.items()}
