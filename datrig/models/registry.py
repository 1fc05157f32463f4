"""Registry of the named models: what data they read, what they predict, what they protect.

A :class:`ModelSpec` is the single description the trainer, the exporter and the validation
use; ``build(cfg)`` makes the Brevitas network from a JSON-able model config (stored in the
checkpoint as ``model_config``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from datrig.errors import DatrigError
from datrig.models.deepsets import QuantDeepSets
from datrig.models.features import Feature
from datrig.models.mlp import QuantMLP
from datrig.quant.config import QuantConfig

SHOWER_SHAPES = (
    "Rhad", "Reta", "Rphi", "weta2", "ws3", "wstot", "Eratio", "DeltaE", "fside", "f1", "f3",
)  # fmt: skip

CELL_FEATURES = ("energy", "d_eta", "d_phi", "layer")
CELL_TRANSFORMS = ("log1p", "identity", "identity", "identity")


@dataclass(frozen=True)
class ModelSpec:
    """What a named model is trained on and for.

    ``protected`` is the variable the penalty decorrelates the output from (``"domain"`` means
    sim-vs-data invariance using unlabeled data-domain events); ``penalty_subset`` picks the
    events it applies to: ``"fakes"``/``"background"`` (label 0, sim only) or ``"all"``.
    ``penalised`` is what the penalty sees: the classifier ``score`` (sigmoid of the logit) or
    the predicted ``energy`` (``e_raw * output`` in GeV, whose spectrum must not depend on the
    domain because the true spectrum does not).
    """

    name: str
    kind: Literal["photons", "diphoton"]
    inputs: tuple[Feature, ...] | Literal["cells"]
    task: Literal["classification", "regression"]
    target: str
    protected: str
    penalty_subset: Literal["fakes", "background", "all"]
    penalised: Literal["score", "energy"]
    output_kind: Literal["logit", "energy_correction"]
    build: Callable[[dict[str, Any]], nn.Module]
    hidden: tuple[int, ...]
    default_lam: dict[str, float]
    extra_protected: tuple[str, ...] = ()
    default_epochs: int = 20
    default_batch_size: int = 1024
    default_n_train: int = 150_000
    default_lr: float = 3e-3
    output_init: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return list(CELL_FEATURES) if self.inputs == "cells" else [f.column for f in self.inputs]

    @property
    def transforms(self) -> list[str]:
        return (
            list(CELL_TRANSFORMS) if self.inputs == "cells" else [f.transform for f in self.inputs]
        )


def _build_mlp(cfg: dict[str, Any]) -> nn.Module:
    return QuantMLP(
        cfg["n_inputs"],
        tuple(cfg["hidden"]),
        QuantConfig.from_dict(cfg["quant"]),
        output_init=cfg.get("output_init", 0.0),
    )


def _build_deepsets(cfg: dict[str, Any]) -> nn.Module:
    return QuantDeepSets(
        cfg["n_inputs"], cfg["n_cells"], tuple(cfg["hidden"]), QuantConfig.from_dict(cfg["quant"])
    )


PHOTON_ID = ModelSpec(
    name="photon_id",
    kind="photons",
    inputs=(*(Feature(s) for s in SHOWER_SHAPES), Feature("pt", "log"), Feature("eta", "abs")),
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    build=_build_mlp,
    hidden=(32, 16),
    # lam scan on the default data (toycalo-3, quantized, sim test): disco 3 -> dCor/2.4 at
    # -12 % rejection@80 %, 10 -> /4.3 at -36 %, 30 -> /4.8 at -49 %; adversarial 5 -> /2.3 at -21 %
    default_lam={"none": 0.0, "disco": 3.0, "adversarial": 5.0, "frt": 1.0},
    default_batch_size=2048,
)

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
    build=_build_mlp,
    hidden=(32, 16),
    default_lam={"none": 0.0, "disco": 1.0, "adversarial": 0.5, "frt": 1.0},
    default_batch_size=2048,
    output_init=1.0,
    default_lr=2e-3,
    default_n_train=80_000,
)

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
    build=_build_mlp,
    hidden=(32, 16),
    default_lam={"none": 0.0, "disco": 20.0, "adversarial": 5.0, "frt": 1.0},
    default_batch_size=2048,
)

PHOTON_ID_GNN = ModelSpec(
    name="photon_id_gnn",
    kind="photons",
    inputs="cells",
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    build=_build_deepsets,
    hidden=(16, 16),
    default_lam={"none": 0.0, "disco": 0.5, "adversarial": 1.0, "frt": 1.0},
    default_batch_size=1024,
    default_epochs=8,
    default_n_train=60_000,
    extra={"max_cells": 32},
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (PHOTON_ID, PHOTON_ENERGY, DIPHOTON, PHOTON_ID_GNN)
}


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise DatrigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
