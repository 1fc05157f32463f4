"""Network input variables: which columns (or cells), their transforms and the normalisation.

The network input is ``(transform(x) - center) / scale`` per feature; ``center``/``scale`` are
fitted on the sim train split (median and half the 16-84 % interval, robust to the long tails of
isolation and energies) and travel with the model: in the checkpoint and in the exported
firmware project, so every later stage (and a physicist with a new sample) applies the same map.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datrig.data.schema import CELL_FEATURES
from datrig.errors import DatrigError, SchemaError

# Energies (GeV) enter as logs; eta is symmetric in the toy detector.
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "log": lambda x: np.log(np.maximum(x, 1e-3)),
    "log1p": lambda x: np.log1p(np.maximum(x, 0.0)),
    "abs": np.abs,
}
CELL_TRANSFORMS = ("log1p", "identity", "identity", "identity")  # energy, d_eta, d_phi, layer


@dataclass(frozen=True)
class Feature:
    """One input column and the transform applied to it before normalisation."""

    column: str
    transform: str = "identity"


@dataclass
class Normalisation:
    """Per-feature affine map fitted on the sim train split; JSON-serialisable.

    ``n_cells`` is set for cell inputs (the GNN): the highest-energy cells kept per candidate.
    """

    features: list[str]
    transforms: list[str]
    center: list[float]
    scale: list[float]
    n_cells: int | None = None

    def __post_init__(self) -> None:
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise SchemaError(f"unknown feature transform(s) {unknown}; known: {list(TRANSFORMS)}")
        n = len(self.features)
        if not len(self.transforms) == len(self.center) == len(self.scale) == n:
            raise SchemaError("normalisation: features, transforms, center, scale differ in length")

    @property
    def uses_cells(self) -> bool:
        return self.n_cells is not None

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

    def network_inputs(
        self, path: str | os.PathLike[str], split: str | None = None, n_max: int | None = None
    ) -> np.ndarray:
        """Normalised inputs (artefact layout, float32) of ``split`` of a datrig schema file."""
        raw = raw_features(path, self.features, self.uses_cells, split, n_max)
        if self.uses_cells:
            if raw.shape[1] < self.n_cells:
                raise SchemaError(
                    f"{path}: {raw.shape[1]} cells per candidate, the model needs {self.n_cells}"
                )
            raw = select_cells(raw, self.n_cells)
        return self.apply(raw)


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


def select_cells(cells: np.ndarray, n_keep: int) -> np.ndarray:
    """The ``n_keep`` highest-energy cells of each candidate (N, n_keep, 4), energy-ordered.

    Deep Sets is permutation invariant, so the order only makes the selection deterministic
    (stable sort: ties keep file order).
    """
    order = np.argsort(-cells[..., 0], axis=1, kind="stable")[:, :n_keep]
    return np.take_along_axis(cells, order[..., None], axis=1)


def raw_features(
    path: str | os.PathLike[str],
    columns: list[str],
    cells: bool,
    split: str | None,
    n_max: int | None,
) -> np.ndarray:
    """Untransformed inputs of the first ``n_max`` rows of ``split``: (N, F) columns or the
    (N, n_cells, 4) cells array."""
    from datrig.data.reader import read_cells, read_columns

    if cells:
        if list(columns) != list(CELL_FEATURES):
            raise SchemaError(f"cell inputs are {list(CELL_FEATURES)}, got {list(columns)}")
        raw = read_cells(path, split, n_max)
    else:
        cols = read_columns(path, columns, split, n_max)
        raw = np.stack([cols[n].astype(np.float32) for n in columns], axis=1)
    check_finite(raw, list(columns), str(Path(path)))
    return raw
