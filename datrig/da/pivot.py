"""A pivot adversary (Louppe, Kagan & Cranmer 2017) for any training loop: a small float MLP
predicting the protected variable's bin from the network's output, trained in alternation
with the network, which is penalised by the adversary's loss (see :mod:`datrig.da.functional`
for the conventions: plain tensors, optional signed weights, explicit edges)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from datrig.da.functional import _edges, _vector, _weights
from datrig.errors import DatrigError


class PivotAdversary(nn.Sequential):
    """A small float MLP predicting the class of the protected variable (its bin among
    ``edges``, or a binary domain) from the network's output; training-only, never exported."""

    def __init__(self, n_classes: int, hidden: int = 32) -> None:
        if n_classes < 2:
            raise DatrigError(f"the adversary needs at least 2 classes, got {n_classes}")
        super().__init__(
            nn.Linear(1, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )
        self.n_classes = n_classes


def pivot_edges(protected: object, n_bins: int = 10) -> torch.Tensor:
    """Class edges for the adversary: 0.5 for a binary (0/1) variable, else equal-population
    quantile edges (duplicates dropped)."""
    p = protected if isinstance(protected, np.ndarray) else _vector("protected", protected)
    p = p.detach().numpy() if isinstance(p, torch.Tensor) else p
    values = np.unique(p)
    if len(values) <= 2 and set(values.tolist()) <= {0.0, 1.0}:
        return torch.tensor([0.5])
    qs = np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1])
    return torch.tensor(np.unique(qs), dtype=torch.float32)


def pivot_classes(protected: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    return torch.bucketize(protected.reshape(-1).float(), edges)


def adversary_loss(
    adversary: nn.Module, output: torch.Tensor, target: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    """Weighted cross-entropy of the adversary's class prediction (its own training loss)."""
    logits = adversary(output.reshape(-1, 1).float())
    return (F.cross_entropy(logits, target, reduction="none") * w).sum() / w.sum()


def _pivot_args(adversary, output, protected, edges, weights):
    if not isinstance(adversary, nn.Module):
        raise DatrigError("adversary must be a torch module (e.g. datrig.da.PivotAdversary)")
    s = _vector("output", output)
    p = _vector("protected", protected, len(s))
    e = _edges(edges, "edges (the adversary's class edges, see pivot_edges)")
    if getattr(adversary, "n_classes", len(e) + 1) != len(e) + 1:
        raise DatrigError(f"{len(e)} edges make {len(e) + 1} classes; the adversary has "
                          f"{adversary.n_classes}")  # fmt: skip
    return s, pivot_classes(p, e), _weights(weights, s.float()).float(), len(e) + 1


def adversary_step(
    adversary: nn.Module,
    optimizer: torch.optim.Optimizer,
    output: torch.Tensor,
    protected: object,
    edges: object,
    weights: object = None,
    steps: int = 1,
) -> float:
    """Train the adversary ``steps`` times on the detached ``output`` (alternating updates);
    returns its last loss."""
    s, target, w, _ = _pivot_args(adversary, output, protected, edges, weights)
    loss = torch.zeros(())
    for _ in range(steps):
        optimizer.zero_grad()
        loss = adversary_loss(adversary, s.detach(), target, w)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def pivot_terms(
    adversary: nn.Module, output: torch.Tensor, target: torch.Tensor, w: torch.Tensor, n: int
) -> torch.Tensor:
    """H(prior) - CE(adversary): the trainer's per-batch core of :func:`pivot_loss`."""
    prior = torch.bincount(target, weights=w, minlength=n) / w.sum()
    entropy = -(prior[prior > 0] * prior[prior > 0].log()).sum()
    return entropy - adversary_loss(adversary, output, target, w)


def pivot_loss(
    adversary: nn.Module,
    output: torch.Tensor,
    protected: object,
    edges: object,
    weights: object = None,
) -> torch.Tensor:
    """The model's penalty against the adversary: H(prior) - CE(adversary), an estimate of the
    information the output carries about the protected variable (>= 0 when the adversary is
    optimal); minimise it (times a strength) with the task loss."""
    s, target, w, n = _pivot_args(adversary, output, protected, edges, weights)
    return pivot_terms(adversary, s, target, w, n)
