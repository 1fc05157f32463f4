"""What a named model is: the data it reads, what it predicts, what its penalty protects.

A :class:`ModelSpec` is the single description the trainer, the exporter, the validation and
the scans use; ``build(cfg)`` makes the Brevitas network from a JSON-able model config (stored
in the checkpoint as ``model_config``). Each shipped model is one module defining its spec,
listed once in :mod:`datrig.models.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from datrig.data.features import Feature, get_cell_builder
from datrig.errors import DatrigError
from datrig.models.trees import TreeSettings


@dataclass(frozen=True)
class ModelSpec:
    """What a named model is trained on and for.

    ``protected`` is the variable the penalty decorrelates the output from (``"domain"`` means
    sim-vs-data invariance using unlabeled data-domain events); ``penalty_subset`` picks the
    events it applies to: ``"fakes"``/``"background"`` (label 0, sim only) or ``"all"``.
    ``penalised`` is what the penalty sees: the classifier ``score`` (sigmoid of the logit) or
    the predicted ``energy`` (``e_raw * output`` in GeV, whose spectrum must not depend on the
    domain because the true spectrum does not). ``condition`` is the variable the
    decorrelation must hold at fixed values of (e.g. ``"pt"``: the ABCD estimate is done per
    pT bin), read by the conditional penalties; None when the model needs none.
    ``cell_builder`` names the per-cell feature builder of a cell-input model
    (:data:`datrig.data.features.CELL_BUILDERS`), ignored for column inputs.
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
    family: Literal["photon_id", "energy", "diphoton"]  # which figures of merit validate it
    build: Callable[[dict[str, Any]], nn.Module]
    hidden: tuple[int, ...]
    extra_protected: tuple[str, ...] = ()
    shipped_da: str = "disco"  # the penalty `make hls` deploys for this model
    condition: str | None = None
    default_epochs: int = 20
    # when set, the default training length is this many updates over the simulated training
    # candidates instead of ``default_epochs``: a smaller sample gets more epochs, so it is
    # optimised as far as a larger one (``datrig.train.runs.default_epochs``)
    default_updates: int | None = None
    default_batch_size: int = 1024
    default_n_train: int = 150_000
    default_lr: float = 3e-3
    default_lr_schedule: str = "constant"
    output_init: float = 0.0
    # default bit widths: an int for uniform bits, or "auto" for widths learned under the
    # EBOPs resource term of strength default_resource_lam (`datrig qat --bits auto`)
    default_bits: int | Literal["auto"] = 8
    default_resource_lam: float = 0.03
    default_act_rounding: str = "round"  # hidden ReLU quantizers (QuantConfig.act_rounding)
    cell_builder: str = "raw"
    # widths of a compensation branch (datrig.models.compensated): the output becomes
    # s(inputs without `protected`) - c(condition, protected); () for a plain network
    compensation_hidden: tuple[int, ...] = ()
    # a tree ensemble instead of a network (datrig.models.trees): trained by
    # datrig.train.trees, exported with conifer; ``build`` is then never called
    trees: TreeSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.inputs == "cells":
            get_cell_builder(self.cell_builder)  # an unknown name fails at import, not in use
        if self.compensation_hidden:
            names = [] if self.inputs == "cells" else [f.column for f in self.inputs]
            missing = [v for v in (self.condition, self.protected) if v not in names]
            if missing:
                raise DatrigError(
                    f"model {self.name}: a compensation branch reads the condition and the "
                    f"protected variable as inputs; {missing} are not among them"
                )

    def compensation_config(self, compensated: bool) -> dict[str, list[int]] | None:
        """The branch layout stored in a checkpoint's ``model_config`` (input indices): with
        the compensation units (``compensated``), else the score branch alone, blind to the
        protected input. None for a model without a compensation design."""
        if not self.compensation_hidden:
            return None
        names = self.feature_names
        return {
            "hidden": list(self.compensation_hidden) if compensated else [],
            "inputs": [names.index(self.condition), names.index(self.protected)],
            "score_inputs": [i for i, n in enumerate(names) if n != self.protected],
        }

    @property
    def feature_names(self) -> list[str]:
        """Network input features: columns, or the cell builder's per-cell features."""
        if self.inputs == "cells":
            return list(get_cell_builder(self.cell_builder).features)
        return [f.column for f in self.inputs]

    @property
    def transforms(self) -> list[str]:
        if self.inputs == "cells":
            return list(get_cell_builder(self.cell_builder).transforms)
        return [f.transform for f in self.inputs]
