"""Input variables, their transforms and the normalisation applied *before* the network.

The network input is ``(transform(x) - center) / scale`` per feature; ``center``/``scale`` are
fitted on the sim train split (median and half the 16-84 % interval, robust to the long tails of
isolation and energies) and stored in the checkpoint so every later stage applies the same map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from datrig.errors import DatrigError

# Energies (GeV) enter as logs; eta is symmetric in the toy detector.
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "log": lambda x: np.log(np.maximum(x, 1e-3)),
    "log1p": lambda x: np.log1p(np.maximum(x, 0.0)),
    "abs": np.abs,
}


@dataclass(frozen=True)
class Feature:
    """One input column and the transform applied to it before normalisation."""

    column: str
    transform: str = "identity"


@dataclass
class Normalisation:
    """Per-feature affine map fitted on the sim train split; JSON-serialisable."""

    features: list[str]
    transforms: list[str]
    center: list[float]
    scale: list[float]
    n_cells: int | None = None  # GNN only: cells kept per candidate (highest energy first)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Normalisation:
        return cls(**data)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Transform + normalise ``raw[..., i]`` (last axis = features) to float32."""
        out = np.empty(raw.shape, dtype=np.float32)
        for i, name in enumerate(self.transforms):
            out[..., i] = (TRANSFORMS[name](raw[..., i].astype(np.float64)) - self.center[i]) / (
                self.scale[i]
            )
        return out


def fit_normalisation(
    raw: np.ndarray, features: list[str], transforms: list[str], n_cells: int | None = None
) -> Normalisation:
    """Robust center/scale of each transformed feature over all leading axes of ``raw``."""
    flat = raw.reshape(-1, raw.shape[-1]).astype(np.float64)
    center, scale = [], []
    for i, name in enumerate(transforms):
        x = TRANSFORMS[name](flat[:, i])
        lo, med, hi = np.quantile(x, [0.16, 0.5, 0.84])
        width = (hi - lo) / 2
        if not np.isfinite(width) or width <= 0:
            width = float(np.std(x)) or 1.0
        center.append(float(med))
        scale.append(float(width))
    return Normalisation(list(features), list(transforms), center, scale, n_cells)


def check_finite(raw: np.ndarray, names: list[str], source: str) -> None:
    """Raise a clear error naming the columns that contain NaN or inf."""
    bad_mask = ~np.isfinite(raw.reshape(-1, raw.shape[-1])).all(axis=0)
    if bad_mask.any():
        bad = [n for n, b in zip(names, bad_mask, strict=True) if b]
        raise DatrigError(
            f"{source}: non-finite values (NaN/inf) in input columns {bad}; "
            "clean or regenerate the file (datrig inspect shows the offending rows)"
        )
