"""The common interface of all penalties.

The trainer selects the events a penalty applies to (fakes only for isolation decorrelation,
background only for m_gg, every sim and data event for domain invariance) and passes them in a
:class:`PenaltyInputs`; the penalty returns an unscaled scalar which the trainer multiplies by
``lam`` and adds to the task loss. Data-domain labels never reach a penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from datrig.data.features import Normalisation
from datrig.errors import DatrigError


@dataclass
class FullBatch:
    """Every event of a batch, sim and unlabelled data (``label`` -1), for penalties that pick
    their own events (e.g. a signal region of the current working point)."""

    output: torch.Tensor  # the deployed output (logit)
    task: torch.Tensor  # what the task loss trains (the score branch of a compensated model)
    compensation: torch.Tensor | None  # the compensation branch, None for plain models
    score_latent: torch.Tensor  # the score branch's latent representation
    label: torch.Tensor
    domain: torch.Tensor
    protected: torch.Tensor
    condition: torch.Tensor | None
    weight: torch.Tensor | None = None  # event weights (signed); None: all 1


@dataclass
class TrainingEvents:
    """Per-event truth of a whole split (numpy), for :meth:`Penalty.setup` and
    :meth:`Penalty.after_training`; ``inputs`` (network layout) only where a penalty evaluates
    the model itself. Data-domain events carry label -1."""

    label: np.ndarray
    domain: np.ndarray
    protected: np.ndarray
    condition: np.ndarray | None
    inputs: torch.Tensor | None = None
    weight: np.ndarray | None = None  # event weights (signed); None: all 1


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
    full: FullBatch | None = None
    model: nn.Module | None = None  # the network in training, for penalties that evaluate it
    # on events of their own (:meth:`Penalty.attach`)


@dataclass(frozen=True)
class PenaltySetup:
    """What a penalty may fit before training: the protected variable (and the condition, if
    the model has one) of the training events it acts on, the widths of the network it
    trains, and every training event (sim and unlabelled data)."""

    protected: np.ndarray
    n_latent: int
    n_inputs: int
    condition: np.ndarray | None = None
    events: TrainingEvents | None = None


@dataclass
class RunData:
    """Where a run's events come from, for penalties that read a sample of their own (the
    resonance pairs of :mod:`datrig.da.peak`): the dataset folder, the run's input
    normalisation, the training rows per domain (None: all) and the run's seed."""

    data_dir: Path
    normalisation: Normalisation
    n_train: int | None
    seed: int


class Penalty(nn.Module):
    """Base class: a scalar penalty, optionally with its own trainable helpers.

    A penalty carries its own strength defaults: ``default_lam`` per model name (measured
    trade-offs), ``generic_lam`` for models it has no measurement for (None: such a model
    must be given ``--lam``; datrig never trains a penalty silently at strength 0).
    """

    name: ClassVar[str] = "base"
    uses_domain_events: ClassVar[bool] = False  # needs unlabeled data-domain events
    needs_condition: ClassVar[bool] = False  # acts at fixed values of ModelSpec.condition
    needs_compensation: ClassVar[bool] = False  # fits a compensated model's compensation branch
    penalises: ClassVar[bool] = True  # False only for the no-penalty baseline
    # toy samples it reads beside the model's own (datrig.sim.default; peak: "resonance")
    toy_samples: ClassVar[tuple[str, ...]] = ()
    plot_color: ClassVar[str | None] = None  # its colour in every report plot (matplotlib)
    # the model outputs it can train ("logit", "energy_correction"); None: any
    output_kinds: ClassVar[tuple[str, ...] | None] = None
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
    def has_strength(cls, options: dict[str, float] | None = None) -> bool:
        """Whether λ changes what this penalty (with these options) trains: False for the
        baseline and for a compensation fitted in closed form after training, so a scan does
        not train the same model once per λ."""
        return cls.penalises

    @classmethod
    def applies_to(
        cls, condition: str | None, compensated: bool = False, output_kind: str | None = None
    ) -> bool:
        """Whether this penalty can train a model with this conditioning variable (and, if it
        fits one, a compensation branch; and, if it needs one, this output kind)."""
        kind_ok = output_kind is None or cls.output_kinds is None or output_kind in cls.output_kinds
        return (
            (condition is not None or not cls.needs_condition)
            and (compensated or not cls.needs_compensation)
            and kind_ok
        )

    @classmethod
    def applies_to_model(cls, spec: Any) -> bool:
        """:meth:`applies_to` a model's spec (its condition, compensation and output kind)."""
        return cls.applies_to(spec.condition, bool(spec.compensation_hidden), spec.output_kind)

    @classmethod
    def needs_data_domain(cls, spec: Any, options: dict[str, float] | None = None) -> bool:
        """Whether training reads the unlabelled data-domain events: the penalty with these
        ``options`` uses them, or it protects the domain label itself (never for the
        no-penalty baseline). Events nobody reads would only dilute every batch."""
        return cls.penalises and (cls.reads_domain_events(options) or spec.protected == "domain")

    @classmethod
    def reads_domain_events(cls, options: dict[str, float] | None = None) -> bool:
        """Whether the penalty's loss reads data-domain events with ``options``."""
        return cls.uses_domain_events

    @classmethod
    def check_model(cls, model: str, condition: str | None, compensated: bool = False) -> None:
        """Fail before any work when ``model`` lacks the conditioning variable or the
        compensation branch we need."""
        if condition is None and cls.needs_condition:
            raise DatrigError(
                f"penalty {cls.name!r} needs a conditioning variable; model {model} declares none"
            )
        if cls.needs_compensation and not compensated:
            raise DatrigError(
                f"penalty {cls.name!r} fits a compensation branch (score minus a function of pT "
                f"and isolation); model {model} has none"
            )

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options
        self.active = True

    def setup(self, ctx: PenaltySetup) -> None:
        """Fit what depends on the training data (bin edges, helper network sizes)."""

    def attach(self, run: RunData) -> None:
        """Read what the penalty needs beyond the trainer's batches (its own sample), once,
        after :meth:`setup`."""

    def on_epoch_start(self, epoch: int) -> None:
        """Epoch hook (warm-up schedules); ``epoch`` counts from 0."""

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        raise NotImplementedError

    def after_training(self, model: nn.Module, validation: TrainingEvents, seed: int) -> None:
        """Last step before the run is evaluated (e.g. refit what is best fitted on events the
        network was not trained on); ``validation``: the sim events of :meth:`refit_splits`
        (the validation split unless the penalty asks for more), with inputs; ``seed``: the
        run's, for any shuffling."""

    def refit_splits(self) -> tuple[str, ...]:
        """The sim splits :meth:`after_training` is given (train rows capped as in training)."""
        return ("val",)

    def main_parameters(self) -> list[nn.Parameter]:
        """Helper parameters trained by the *model's* optimizer (e.g. the frt decoder)."""
        return []

    def helper_step(self, batch: PenaltyInputs) -> None:
        """Update helper networks that have their own optimizer (adversaries)."""

    def checkpoint_state(self) -> dict[str, Any]:
        return {"module": self.state_dict()}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["module"])
