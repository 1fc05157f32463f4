"""The registry of named models: one line per model, each defined in its own module."""

from __future__ import annotations

from datrig.errors import DatrigError
from datrig.models.diphoton import DIPHOTON
from datrig.models.photon_energy import PHOTON_ENERGY
from datrig.models.photon_energy_bdt import PHOTON_ENERGY_BDT
from datrig.models.photon_id import PHOTON_ID
from datrig.models.photon_id_bdt import PHOTON_ID_BDT
from datrig.models.photon_id_gnn import PHOTON_ID_GNN
from datrig.models.spec import ModelSpec

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        PHOTON_ID,
        PHOTON_ENERGY,
        DIPHOTON,
        PHOTON_ID_GNN,
        PHOTON_ID_BDT,
        PHOTON_ENERGY_BDT,
    )
}


def network_models() -> list[str]:
    """The shipped models that are networks (QAT, QONNX, hls4ml); the rest are tree ensembles."""
    return [name for name, spec in MODELS.items() if spec.trees is None]


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise DatrigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def resolve_spec(model: str, task: dict | None = None) -> ModelSpec:
    """The spec of a run, a checkpoint or a project: the task it records (a task's network,
    read the same way in any process), else the named model of :data:`MODELS`."""
    if task is None:
        return get_model_spec(model)
    from pathlib import Path

    from datrig.data.task import TaskConfig
    from datrig.models.task_spec import spec_for_task

    return spec_for_task(TaskConfig.from_json(task, Path("."), f"the task of {model}"))
