"""The common interface of all penalties.

The trainer selects the events a penalty applies to (fakes only for isolation decorrelation,
background only for m_gg, every sim and data event for domain invariance) and passes them in a
:class:`PenaltyInputs`; the penalty returns an unscaled scalar which the trainer multiplies by
``lam`` and adds to the task loss. Data-domain labels never reach a penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from datrig.errors import DatrigError


@dataclass
class PenaltyInputs:
    """Tensors of one batch.

    ``outputs``/``protected``/``weights``: the penalised quantity (classifier score or log
    predicted energy), the protected variable and event weights, for the *selected* subset.
    ``latent``/``inputs``/``domain``: for every event of the batch (sim and data), used by
    penalties acting on representations (frt). ``condition``: the model's conditioning
    variable (e.g. pT) for the selected subset, None when the model declares none.
    """

    outputs: torch.Tensor
    protected: torch.Tensor
    weights: torch.Tensor
    latent: torch.Tensor
    inputs: torch.Tensor
    domain: torch.Tensor
    condition: torch.Tensor | None = None


class Penalty(nn.Module):
    """Base class: a scalar penalty, optionally with its own trainable helpers.

    A penalty carries its own strength defaults: ``default_lam`` per model name (measured
    trade-offs), ``generic_lam`` for models it has no measurement for (None: such a model
    must be given ``--lam``; datrig never trains a penalty silently at strength 0).
    """

    name: ClassVar[str] = "base"
    uses_domain_events: ClassVar[bool] = False  # needs unlabeled data-domain events
    needs_condition: ClassVar[bool] = False  # acts at fixed values of ModelSpec.condition
    default_lam: ClassVar[dict[str, float]] = {}
    generic_lam: ClassVar[float | None] = None

    @classmethod
    def lam_for(cls, model: str) -> float:
        """The default strength for ``model`` (see class docstring)."""
        lam = cls.default_lam.get(model, cls.generic_lam)
        if lam is None:
            raise DatrigError(
                f"penalty {cls.name!r} has no default strength for model {model!r}; pass --lam"
            )
        return float(lam)

    @classmethod
    def applies_to(cls, condition: str | None) -> bool:
        """Whether this penalty can train a model with this conditioning variable."""
        return condition is not None or not cls.needs_condition

    @classmethod
    def check_model(cls, model: str, condition: str | None) -> None:
        """Fail before any work when ``model`` lacks the conditioning variable we need."""
        if not cls.applies_to(condition):
            raise DatrigError(
                f"penalty {cls.name!r} needs a conditioning variable; model {model} declares none"
            )

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options
        self.active = True

    def setup(
        self,
        protected_train: np.ndarray,
        n_latent: int,
        n_inputs: int,
        condition_train: np.ndarray | None = None,
    ) -> None:
        """Fit what depends on the training data (bin edges, helper network sizes);
        ``condition_train``: the conditioning variable of the same events, if the model has one."""

    def on_epoch_start(self, epoch: int) -> None:
        """Epoch hook (warm-up schedules); ``epoch`` counts from 0."""

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        raise NotImplementedError

    def main_parameters(self) -> list[nn.Parameter]:
        """Helper parameters trained by the *model's* optimizer (e.g. the frt decoder)."""
        return []

    def helper_step(self, batch: PenaltyInputs) -> None:
        """Update helper networks that have their own optimizer (adversaries)."""

    def checkpoint_state(self) -> dict[str, Any]:
        return {"module": self.state_dict()}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["module"])
