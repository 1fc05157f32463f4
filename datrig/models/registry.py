"""The registry of named models: one line per model, each defined in its own module."""

from __future__ import annotations

from datrig.errors import DatrigError
from datrig.models.diphoton import DIPHOTON
from datrig.models.photon_energy import PHOTON_ENERGY
from datrig.models.photon_id import PHOTON_ID
from datrig.models.photon_id_gnn import PHOTON_ID_GNN
from datrig.models.spec import ModelSpec

MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (PHOTON_ID, PHOTON_ENERGY, DIPHOTON, PHOTON_ID_GNN)
}


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise DatrigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
