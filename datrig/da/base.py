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
    penalties acting on representations (frt).
    """

    outputs: torch.Tensor
    protected: torch.Tensor
    weights: torch.Tensor
    latent: torch.Tensor
    inputs: torch.Tensor
    domain: torch.Tensor


class Penalty(nn.Module):
    """Base class: a scalar penalty, optionally with its own trainable helpers.

    A penalty carries its own strength defaults: ``default_lam`` per model name (measured
    trade-offs), ``generic_lam`` for models it has no measurement for (None: such a model
    must be given ``--lam``; datrig never trains a penalty silently at strength 0).
    """

    name: ClassVar[str] = "base"
    uses_domain_events: ClassVar[bool] = False  # needs unlabeled data-domain events
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

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options
        self.active = True

    def setup(self, protected_train: np.ndarray, n_latent: int, n_inputs: int) -> None:
        """Fit what depends on the training data (bin edges, helper network sizes)."""

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
