"""The resolved configuration of a QAT run (written to ``config.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from datrig.errors import DatrigError


@dataclass
class TrainConfig:
    """Everything that determines a run; same config + same data => same bytes."""

    model: str
    da: str = "none"
    lam: float = 0.0
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 3e-3
    seed: int = 1
    n_train: int | None = 150_000  # rows of each domain's train split used (None = all)
    n_val: int = 20_000
    n_test: int | None = None  # rows of each domain's test split evaluated (None = all)
    data_dir: str = "data/default"
    quant: dict[str, Any] = field(default_factory=dict)
    penalty_options: dict[str, Any] = field(default_factory=dict)
    metric_max_events: int = 10_000  # dCor on at most this many events (O(n^2))

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise DatrigError(f"--{name.replace('_', '-')} must be >= 1")
        if self.n_train is not None and self.n_train < 10:
            raise DatrigError("--n-train must be >= 10 events")
        if self.lam < 0:
            raise DatrigError("--lam must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)

    def same_run(self, other: TrainConfig) -> list[str]:
        """Settings that differ (ignoring ``epochs``, which a resume may extend)."""
        a, b = self.to_dict(), other.to_dict()
        return sorted(k for k in a if k != "epochs" and a[k] != b[k])
