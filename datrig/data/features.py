"""Network input variables: which columns (or cells), their transforms and the normalisation.

The network input is ``(transform(x) - center) / scale`` per feature; ``center``/``scale`` are
fitted on the sim train split (median and half the 16-84 % interval, robust to the long tails of
isolation and energies) and travel with the model: in the checkpoint and in the exported
firmware project, so every later stage (and a physicist with a new sample) applies the same map.

Cell inputs (the GNN) first go through a named *cell-feature builder* (:data:`CELL_BUILDERS`)
that turns the stored cells ``(energy, d_eta, d_phi, layer)`` into the features the network
reads: per kept cell (the highest-energy cells, a set), or, for *window* builders, the whole
fixed cell window of :data:`~datrig.data.schema.CELL_WINDOW` as one node; see
:class:`CellBuilder`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from datrig.data.schema import CELL_FEATURES, CELL_LAYERS, CELL_WINDOW, N_WINDOW_CELLS
from datrig.errors import DatrigError, SchemaError

# Energies (GeV) enter as logs; eta is symmetric in the toy detector.
TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "log": lambda x: np.log(np.maximum(x, 1e-3)),
    "log1p": lambda x: np.log1p(np.maximum(x, 0.0)),
    "abs": np.abs,
}
CELL_TRANSFORMS = ("log1p", "identity", "identity", "identity")  # energy, d_eta, d_phi, layer


# Scale-only fits map the 99.9 % quantile of |x| to this value: half the default input range
# (QuantConfig.input_max = 8), so only values beyond twice that quantile saturate.
PEAK_TARGET = 4.0
PEAK_QUANTILE = 0.999


@dataclass(frozen=True)
class CellBuilder:
    """Per-cell network features from the kept cells.

    ``build`` maps the energy-ordered kept cells ``(N, n_cells, 4)`` (energy, d_eta, d_phi,
    layer; :func:`select_cells`) to ``(N, n_cells, F)`` float64 features named ``features``,
    to which ``transforms`` then apply before the affine normalisation. ``fit`` is how that
    normalisation is fitted: ``"robust"`` (median, half the 16-84 % interval) or ``"peak"``
    (center 0, the 99.9 % quantile of ``|x|`` mapped to :data:`PEAK_TARGET`) for features that
    are zero for an empty cell and whose long tails carry the physics (a robust width would
    saturate them at the input quantizer).

    A ``window`` builder reads every stored cell in the fixed order of
    :data:`~datrig.data.schema.CELL_WINDOW` instead of the highest-energy cells, and makes one
    node per candidate, ``(N, 1, F)``: each cell is a feature of its own (its own
    normalisation), at a position the network knows.
    """

    features: tuple[str, ...]
    transforms: tuple[str, ...]
    build: Callable[[np.ndarray], np.ndarray]
    fit: Literal["robust", "peak"] = "robust"
    window: bool = False

    def nodes(self, cells: np.ndarray, n_cells: int) -> np.ndarray:
        """Un-normalised features ``(N, nodes, F)`` of the stored cells ``(N, n_stored, 4)``:
        of the ``n_cells`` highest-energy cells, or of the whole window (``n_cells`` must then
        be 1, the one node)."""
        if not self.window:
            return self.build(select_cells(cells, n_cells))
        if n_cells != 1:
            raise SchemaError(f"a window cell builder makes one node per candidate, not {n_cells}")
        return self.build(cells)


def raw_cells(cells: np.ndarray) -> np.ndarray:
    """The stored cell features unchanged: (energy, d_eta, d_phi, layer)."""
    return cells.astype(np.float64)


def upstream_cells(cells: np.ndarray) -> np.ndarray:
    """Energy-weighted cell features, computed upstream by the trigger's cluster builder.

    For the kept cells of a candidate (after :func:`select_cells`), with the energy fraction
    ``f = E_cell / sum(E over the kept cells)``: ``f, f*d_eta, f*d_phi, f*d_eta^2, f*d_phi^2``
    and ``f * one_hot(layer)`` (one column per :data:`~datrig.data.schema.CELL_LAYERS`).

    These are *inputs* of the firmware, not part of it: the cluster builder that selects the
    cells already sums their energies (the cluster energy) and knows each cell's position, so
    it hands the network one division and a few products per cell. The mean over the cells of
    these features is the energy-weighted centroid (/n), the second moments (widths) and the
    per-layer energy fractions, i.e. the shower shapes; the per-node layers of the Deep Sets
    learn non-linear versions of them. A cell without energy contributes exactly zero. A
    candidate whose kept cells sum to <= 0 GeV (noise only) gets all-zero features.
    """
    energy = cells[..., 0].astype(np.float64)
    d_eta = cells[..., 1].astype(np.float64)
    d_phi = cells[..., 2].astype(np.float64)
    layer = cells[..., 3]
    index = np.rint(layer)
    if np.any(index != layer) or np.any((index < 0) | (index >= len(CELL_LAYERS))):
        raise SchemaError(
            f"cell layer indices must be integers 0..{len(CELL_LAYERS) - 1} "
            f"({', '.join(CELL_LAYERS)}); got values {np.unique(layer)[:10].tolist()}"
        )
    total = energy.sum(axis=1, keepdims=True)
    f = np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)
    moments = [f, f * d_eta, f * d_phi, f * d_eta**2, f * d_phi**2]
    per_layer = [f * (index == k) for k in range(len(CELL_LAYERS))]
    return np.stack(moments + per_layer, axis=-1)


def upstream_energy_cells(cells: np.ndarray) -> np.ndarray:
    """:func:`upstream_cells` plus ``log(E_cluster / GeV)`` on every cell, where ``E_cluster``
    is the summed energy of the kept cells (floored at 1 MeV): the energy scale that the
    fractions divide out, which the cluster builder has anyway (it is the denominator of f).
    The shower-shape MLP reads the candidate's pT for the same reason."""
    total = cells[..., 0].astype(np.float64).sum(axis=1, keepdims=True)
    log_e = np.broadcast_to(np.log(np.maximum(total, 1e-3)), total.shape[:1] + cells.shape[1:2])
    return np.concatenate([upstream_cells(cells), log_e[..., None]], axis=-1)


def _window_cell_names() -> tuple[str, ...]:
    """``<layer>_<i_eta>[_<i_phi>]`` per window cell, in stored order."""
    names = []
    for layer, n_eta, n_phi in CELL_WINDOW:
        for i in range(n_eta):
            if n_eta * n_phi == 1:
                names.append(layer)
            elif n_phi == 1:
                names.append(f"{layer}_{i}")
            else:
                names.extend(f"{layer}_{i}_{j}" for j in range(n_phi))
    return tuple(names)


WINDOW_CELLS = _window_cell_names()
WINDOW_LAYER_INDEX = np.repeat(
    np.arange(len(CELL_WINDOW)), [n_eta * n_phi for _, n_eta, n_phi in CELL_WINDOW]
)
HADRONIC_INDEX = CELL_LAYERS.index("hadronic")
N_EM_CELLS = int(np.count_nonzero(WINDOW_LAYER_INDEX != HADRONIC_INDEX))  # 99, listed first


def check_window(cells: np.ndarray) -> None:
    """The stored cells are the full window of :data:`CELL_WINDOW` in its order (SchemaError
    otherwise): what a window builder's feature positions mean."""
    if cells.ndim != 3 or cells.shape[1] != N_WINDOW_CELLS or cells.shape[2] != len(CELL_FEATURES):
        raise SchemaError(
            f"a window cell builder needs the {N_WINDOW_CELLS} cells of the full window per "
            f"candidate (N, {N_WINDOW_CELLS}, {len(CELL_FEATURES)}), got {cells.shape}; files of "
            "datrig simulate (schema photons/2) hold them"
        )
    if cells.shape[0] and np.any(cells[..., 3] != WINDOW_LAYER_INDEX[None, :].astype(cells.dtype)):
        raise SchemaError(
            "the cells are not in the window order (" + ", ".join(
                f"{n_eta * n_phi} {layer}" for layer, n_eta, n_phi in CELL_WINDOW
            ) + "): their layer indices differ"
        )  # fmt: skip


def window_fractions(cells: np.ndarray) -> np.ndarray:
    """The full cell window as one node ``(N, 1, N_WINDOW_CELLS + 1)``: every cell's energy as a
    fraction of the window's EM energy ``E_em`` (presampler, strips, middle, back; the
    hadronic cells too, as Rhad does), then ``log(E_em / GeV)``.

    The trigger's cluster builder sums ``E_em`` anyway (it is the cluster energy); the fractions
    are one division per cell, upstream of the network, and make every cell's input the same
    scale at every energy, as the shower shapes are. Noise can make a fraction negative.
    A window whose EM energy is <= 0 (noise only) gets zero fractions.
    """
    check_window(cells)
    energy = cells[..., 0].astype(np.float64)
    e_em = energy[:, :N_EM_CELLS].sum(axis=1, keepdims=True)
    f = np.divide(energy, e_em, out=np.zeros_like(energy), where=e_em > 0)
    log_e = np.log(np.maximum(e_em, 1e-3))
    return np.concatenate([f, log_e], axis=1)[:, None, :]


UPSTREAM_FEATURES: tuple[str, ...] = (
    "f",
    "f_d_eta",
    "f_d_phi",
    "f_d_eta2",
    "f_d_phi2",
    *(f"f_{n}" for n in CELL_LAYERS),
)

WINDOW_FEATURES: tuple[str, ...] = (*(f"f_{n}" for n in WINDOW_CELLS), "log_e_em")

CELL_BUILDERS: dict[str, CellBuilder] = {
    "raw": CellBuilder(CELL_FEATURES, CELL_TRANSFORMS, raw_cells, "robust"),
    "upstream": CellBuilder(
        UPSTREAM_FEATURES, ("identity",) * len(UPSTREAM_FEATURES), upstream_cells, "peak"
    ),
    "upstream_energy": CellBuilder(
        (*UPSTREAM_FEATURES, "log_e_cluster"),
        ("identity",) * (len(UPSTREAM_FEATURES) + 1),
        upstream_energy_cells,
        "peak",
    ),
    "window": CellBuilder(
        WINDOW_FEATURES,
        ("identity",) * len(WINDOW_FEATURES),
        window_fractions,
        "peak",
        window=True,
    ),
}


def get_cell_builder(name: str) -> CellBuilder:
    """The registered cell-feature builder ``name`` (SchemaError naming the known ones)."""
    try:
        return CELL_BUILDERS[name]
    except KeyError:
        raise SchemaError(
            f"unknown cell-feature builder {name!r}; known: {sorted(CELL_BUILDERS)}"
        ) from None


@dataclass(frozen=True)
class Feature:
    """One input column and the transform applied to it before normalisation."""

    column: str
    transform: str = "identity"


@dataclass
class Normalisation:
    """Per-feature affine map fitted on the sim train split; JSON-serialisable.

    ``n_cells`` is set for cell inputs (the GNN): the nodes per candidate, i.e. the
    highest-energy cells kept, which ``cell_builder`` (a name in :data:`CELL_BUILDERS`) turns
    into the per-cell ``features``, or 1 for a window builder (the whole window, one node).
    Older checkpoints and projects have no ``cell_builder`` and read ``"raw"``.
    """

    features: list[str]
    transforms: list[str]
    center: list[float]
    scale: list[float]
    n_cells: int | None = None
    cell_builder: str = "raw"

    def __post_init__(self) -> None:
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise SchemaError(f"unknown feature transform(s) {unknown}; known: {list(TRANSFORMS)}")
        n = len(self.features)
        if not len(self.transforms) == len(self.center) == len(self.scale) == n:
            raise SchemaError("normalisation: features, transforms, center, scale differ in length")
        builder = get_cell_builder(self.cell_builder)
        if self.uses_cells and list(self.features) != list(builder.features):
            raise SchemaError(
                f"normalisation: cell builder {self.cell_builder!r} makes features "
                f"{list(builder.features)}, the normalisation lists {list(self.features)}"
            )

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
        """Normalised inputs (artefact layout, float32) of ``split`` of a datrig schema file:
        columns, or the kept cells through the cell-feature builder."""
        if not self.uses_cells:
            return self.apply(raw_features(path, self.features, False, split, n_max))
        cells = raw_features(path, list(CELL_FEATURES), True, split, n_max)
        builder = get_cell_builder(self.cell_builder)
        if not builder.window and cells.shape[1] < self.n_cells:
            raise SchemaError(
                f"{path}: {cells.shape[1]} cells per candidate, the model needs {self.n_cells}"
            )
        try:
            return self.apply(builder.nodes(cells, self.n_cells))
        except SchemaError as exc:
            raise SchemaError(f"{path}: {exc}") from None


def fit_normalisation(
    raw: np.ndarray,
    features: list[str],
    transforms: list[str],
    n_cells: int | None = None,
    fit: Literal["robust", "peak"] = "robust",
    cell_builder: str = "raw",
) -> Normalisation:
    """Center/scale of each transformed feature over all leading axes of ``raw``: robust
    (median, half the 16-84 % interval) or ``"peak"`` (see :class:`CellBuilder`)."""
    flat = raw.reshape(-1, raw.shape[-1]).astype(np.float64)
    center, scale = [], []
    for i, name in enumerate(transforms):
        x = TRANSFORMS[name](flat[:, i])
        if fit == "peak":
            med, width = 0.0, float(np.quantile(np.abs(x), PEAK_QUANTILE)) / PEAK_TARGET
        else:
            lo, med, hi = np.quantile(x, [0.16, 0.5, 0.84])
            width = (hi - lo) / 2
        if not np.isfinite(width) or width <= 0:
            width = float(np.std(x)) or 1.0
        center.append(float(med))
        scale.append(float(width))
    return Normalisation(
        list(features), list(transforms), center, scale, n_cells, cell_builder=cell_builder
    )


def fit_cells(cells: np.ndarray, n_cells: int, builder: str = "raw") -> Normalisation:
    """Normalisation of the cell inputs: the builder's nodes of the stored ``(N, n_stored, 4)``
    cells (the ``n_cells`` highest-energy cells, or the one window node), fitted per feature."""
    spec = get_cell_builder(builder)
    feats = spec.nodes(cells, n_cells)
    return fit_normalisation(
        feats, list(spec.features), list(spec.transforms), n_cells, spec.fit, builder
    )


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
