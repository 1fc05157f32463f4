"""A warm-up schedule for penalties: no pull for the first epochs, then a linear ramp.

A strong decorrelation penalty from the first step can hold the network near a constant score
(the trivially independent solution) before it has learnt to classify; switching it on later
lets the task shape the score first. During the warm-up the penalty's *value* is still returned
(so the training curves show it), but detached: it exerts no gradient. Afterwards the gradient
is scaled by ``strength``, rising linearly from ``1/ramp_epochs`` to 1 over ``ramp_epochs``.
Driven by :meth:`datrig.da.base.Penalty.on_epoch_start`, so a resumed run follows the same
schedule.
"""

from __future__ import annotations

import torch


class WarmupSchedule:
    def __init__(self, warmup_epochs: int = 0, ramp_epochs: int = 0) -> None:
        if warmup_epochs < 0 or ramp_epochs < 0:
            raise ValueError("warmup_epochs and ramp_epochs must be >= 0")
        self.warmup_epochs, self.ramp_epochs = int(warmup_epochs), int(ramp_epochs)
        self.strength = 1.0  # a penalty used without epochs (tests, tools) pulls fully

    def set_epoch(self, epoch: int) -> None:
        if epoch < self.warmup_epochs:
            self.strength = 0.0
        elif self.ramp_epochs > 0:
            self.strength = min(1.0, (epoch - self.warmup_epochs + 1) / self.ramp_epochs)
        else:
            self.strength = 1.0

    def apply(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` unchanged, its gradient scaled by the current strength."""
        if self.strength >= 1.0:
            return value
        return self.strength * value + (1.0 - self.strength) * value.detach()
