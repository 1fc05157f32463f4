"""A large float MLP regressor of E_true/E_raw: one of the measured resolution ceilings.

Not a firmware candidate (it is ~20x the trigger model, unquantized); it answers "how good can
a regression of these inputs be", so the firmware model's resolution can be quoted as a
fraction of what the information allows. Same loss as the trigger model (Huber with a small
delta: the conditional median), a cosine learning-rate schedule, one torch thread, seeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HUBER_DELTA = 0.05  # correction units, as datrig.train.objective (median regression)


@dataclass(frozen=True)
class MlpSettings:
    hidden: tuple[int, ...] = (128, 64, 32)
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    clip: float = 20.0  # normalised inputs are clipped to +-clip (tails of isolation, shapes)


class RobustScaler:
    """(x - median) / half the 16-84 % width per column, fitted on the training rows."""

    def __init__(self, x: np.ndarray) -> None:
        lo, self.centre, hi = np.quantile(x, [0.16, 0.5, 0.84], axis=0)
        width = (hi - lo) / 2.0
        self.width = np.where(width > 0, width, 1.0)

    def __call__(self, x: np.ndarray, clip: float) -> np.ndarray:
        return np.clip((x - self.centre) / self.width, -clip, clip).astype(np.float32)


def fit_predict_mlp(
    x_train: np.ndarray,
    target: np.ndarray,
    x_eval: list[np.ndarray],
    seed: int,
    settings: MlpSettings | None = None,
) -> list[np.ndarray]:
    """Train on (x_train, target) and return the predictions for each array of ``x_eval``."""
    import torch

    from datrig.runtime import configure_torch

    settings = settings or MlpSettings()
    configure_torch()
    scaler = RobustScaler(x_train)
    x = torch.from_numpy(scaler(x_train, settings.clip))
    y = torch.from_numpy(target.astype(np.float32))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    width = x.shape[1]
    for h in settings.hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        net[-1].bias.fill_(float(np.median(target)))
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    for epoch in range(settings.epochs):
        for group in optimizer.param_groups:
            group["lr"] = settings.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / settings.epochs))
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            loss = torch.nn.functional.huber_loss(net(x[idx]).squeeze(1), y[idx], delta=HUBER_DELTA)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        return [
            net(torch.from_numpy(scaler(xe, settings.clip))).squeeze(1).numpy().astype(np.float64)
            for xe in x_eval
        ]
