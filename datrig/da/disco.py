"""DisCo: weighted distance correlation as a differentiable penalty (Kasieczka & Shih 2020).

``distance_correlation_sq(x, y, w)`` (:mod:`datrig.da.functional`; the public
:func:`datrig.da.disco_loss` checks its arguments) is the squared distance correlation dCor^2
(V-statistic) with event weights normalised to mean 1, as in the DisCo paper; with integer
weights it equals dCor^2 of the sample with each event repeated ``w`` times.
``dcor.distance_correlation`` returns dCor (the square root).

Memory/time trade-off: the penalty builds several B x B distance matrices, O(B^2) in the batch
size B (float32: 2048 -> ~16 MB per matrix, 8192 -> 256 MB). Larger batches estimate dCor with
less bias and noise (the V-statistic is biased upward by O(1/B)), which matters for small
subsets such as the fakes of a batch; the penalty uses at most ``max_events`` (default
1024) events of each shuffled batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from datrig.da.base import Penalty, PenaltyInputs
from datrig.da.functional import distance_correlation_sq


def distance_correlation(
    x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted dCor (the quantity ``dcor.distance_correlation`` returns)."""
    return distance_correlation_sq(x, y, weights).clamp_min(0).sqrt()


class DiscoPenalty(Penalty):
    """dCor^2(output, protected) over the selected events (the DisCo loss term)."""

    name = "disco"
    plot_color = "tab:blue"
    # lam scan on the default data (toycalo-3, quantized, sim test): photon_id 3 -> dCor/2.4 at
    # -12 % rejection@80 %, 10 -> /4.3 at -36 %, 30 -> /4.8 at -49 %; GNN 3 collapsed the score
    default_lam: ClassVar[dict[str, float]] = {
        "photon_id": 3.0,
        "photon_energy": 1.0,
        "diphoton": 20.0,
        "photon_id_gnn": 0.5,
    }
    generic_lam = 1.0

    def __init__(self, max_events: int = 1024, **options: Any) -> None:
        super().__init__(**options)
        self.max_events = max_events  # caps the O(B^2) cost; batches arrive shuffled

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        if batch.outputs.numel() < 2 or not float(batch.weights.sum()) > 0:
            return batch.outputs.new_zeros(())  # a batch without a usable background
        k = self.max_events
        return distance_correlation_sq(batch.outputs[:k], batch.protected[:k], batch.weights[:k])
