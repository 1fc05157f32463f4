"""A learned designed decorrelation for any training loop: a score network minus a
compensation c(condition, protected), fitted as the background's working-point quantile by
the pinball loss (see :mod:`datrig.da.functional` for the conventions)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from datrig.da.functional import _vector, _weights, fit_working_point
from datrig.errors import DatrigError


def pinball(u: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean quantile (pinball) loss of residuals ``u``; minimised when ``tau`` of them are < 0."""
    return torch.maximum(tau * u, (tau - 1) * u).mean()


def weighted_pinball(u: torch.Tensor, tau: float, w: torch.Tensor) -> torch.Tensor:
    return (torch.maximum(tau * u, (tau - 1) * u) * w).sum() / w.sum()


def ddt_loss(
    score: object, compensation: torch.Tensor, background_pass: float, weights: object = None
) -> torch.Tensor:
    """Pinball loss that makes ``compensation`` the (1 - ``background_pass``) quantile of the
    (detached) ``score`` among the background events given, at each value of what the
    compensation reads: ``score - compensation >= 0`` then passes ``background_pass`` of the
    background everywhere, a designed decorrelation (Dolen et al. 2016) learned smoothly."""
    if not 0.0 < background_pass < 1.0:
        raise DatrigError(f"background_pass must be in (0, 1), got {background_pass}")
    s = _vector("score", score)
    c = _vector("compensation", compensation, len(s))
    u = s.detach() - c
    if weights is None:
        return pinball(u, 1.0 - background_pass)
    return weighted_pinball(u, 1.0 - background_pass, _weights(weights, u))


class LearnedDDT(nn.Module):
    """Wraps a user's score network with a compensation network c(condition, protected): the
    deployed output is ``score(x) - c(condition, protected)``, and the score never reads the
    protected variable. :meth:`loss` adds :func:`ddt_loss` on the background to the user's
    task loss on the score. ``background_pass`` is the background's pass fraction at the
    working point: fit it with :func:`fit_working_point` on the signal and count the
    background above it (or keep the trainer's running estimate, :meth:`update_pass`)."""

    def __init__(
        self,
        score_net: nn.Module,
        compensation_net: nn.Module | None = None,
        background_pass: float = 0.1,
        hidden: int = 16,
    ) -> None:
        super().__init__()
        if not 0.0 < background_pass < 1.0:
            raise DatrigError(f"background_pass must be in (0, 1), got {background_pass}")
        self.score_net = score_net
        self.compensation_net = compensation_net or nn.Sequential(
            nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )  # fmt: skip
        self.background_pass = background_pass

    def compensation(self, condition: torch.Tensor, protected: torch.Tensor) -> torch.Tensor:
        c = _vector("condition", condition).float()
        p = _vector("protected", protected, len(c)).float()
        return self.compensation_net(torch.stack([c, p], dim=1)).reshape(-1)

    def forward(
        self, x: torch.Tensor, condition: torch.Tensor, protected: torch.Tensor
    ) -> torch.Tensor:
        return self.score_net(x).reshape(-1) - self.compensation(condition, protected)

    def update_pass(self, output: torch.Tensor, label: torch.Tensor, efficiency: float) -> None:
        """Move ``background_pass`` to the background's pass fraction at the cut that keeps
        ``efficiency`` of the signal (label 1) events given."""
        out = _vector("output", output).detach()
        lab = _vector("label", label, len(out))
        cut = fit_working_point(out[lab == 1], efficiency)
        rate = float((out[lab == 0] >= cut).double().mean())
        self.background_pass = min(max(rate, 1e-4), 1 - 1e-4)

    def loss(
        self,
        x: torch.Tensor,
        condition: torch.Tensor,
        protected: torch.Tensor,
        label: torch.Tensor,
        task_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        weights: object = None,
    ) -> torch.Tensor:
        """``task_loss(score, label)`` plus the compensation's pinball loss on the background
        (label 0); the task never sees the compensation and the pinball never moves the score."""
        score = self.score_net(x).reshape(-1)
        lab = _vector("label", label, len(score))
        comp = self.compensation(condition, protected)
        background = lab == 0
        if int(background.sum()) < 2:
            raise DatrigError("the batch holds fewer than 2 background (label 0) events")
        w = None if weights is None else _vector("weights", weights, len(score))[background]
        return task_loss(score, lab) + ddt_loss(
            score[background], comp[background], self.background_pass, w
        )
