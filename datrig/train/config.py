"""The resolved configuration of a QAT run (written to ``config.json``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from datrig.errors import DatrigError

LR_SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Multiplier of the base learning rates in ``epoch`` (0-based) of ``epochs``."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return 1.0


@dataclass
class TrainConfig:
    """Everything that determines a run; same config + same data => same bytes.

    Every value is checked here: zero or negative sizes, non-finite or negative strengths and
    learning rates are errors, never "use the default".
    """

    model: str
    da: str = "none"
    lam: float = 0.0
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 3e-3
    # "cosine": the learning rate falls as 0.5 (1 + cos(pi epoch / epochs)) from lr, so the last
    # epochs settle instead of hopping around the minimum (the photon-ID DDT needs the score's
    # tails converged: its cut keeps only ~10 % of the fakes)
    lr_schedule: str = "constant"
    seed: int = 1
    n_train: int | None = 150_000  # rows of each domain's train split used (None = all)
    n_val: int = 20_000
    n_test: int | None = None  # rows of each domain's test split evaluated (None = all)
    data_dir: str = "data/default"
    quant: dict[str, Any] = field(default_factory=dict)
    hidden: list[int] | None = None  # hidden widths (None: the model's own)
    resource_lam: float = 0.0  # strength of the EBOPs (firmware cost) term, relative to start
    penalty_options: dict[str, Any] = field(default_factory=dict)
    metric_max_events: int = 10_000  # dCor on at most this many events (O(n^2))
    # the task file's definition (datrig.data.task), for a run of a task; None: a named model
    task: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "n_val", "metric_max_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise DatrigError(
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value}"
                )
        if self.n_train is not None and self.n_train < 10:
            raise DatrigError(f"--n-train must be >= 10 events, got {self.n_train}")
        if self.n_test is not None and self.n_test < 1:
            raise DatrigError(f"--n-test must be >= 1 event, got {self.n_test}")
        if not math.isfinite(self.lam) or self.lam < 0:
            raise DatrigError(f"--lam must be a finite number >= 0, got {self.lam}")
        if not math.isfinite(self.resource_lam) or self.resource_lam < 0:
            raise DatrigError(
                f"--resource-lam must be a finite number >= 0, got {self.resource_lam}"
            )
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise DatrigError(f"--lr must be a finite number > 0, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise DatrigError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.seed < 0:
            raise DatrigError(f"--seed must be >= 0, got {self.seed}")
        if self.hidden is not None and (not self.hidden or min(self.hidden) < 1):
            raise DatrigError(f"hidden widths must be positive integers, got {self.hidden}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def differences(self, other: TrainConfig) -> list[str]:
        """``name: old -> new`` for every setting that differs."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: {a[k]!r} -> {b[k]!r}" for k in a if a[k] != b[k]]
