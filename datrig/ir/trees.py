"""The IR of a fixed-point tree ensemble: what a BDT's firmware computes, as integers.

Every number is a mantissa on an explicit grid, so the emulator, conifer's C-simulation and
the VHDL all start from the same integers and no conversion (with its rounding mode) happens
anywhere downstream:

* features are ``input_type`` mantissas (the caller quantizes, with the type's own modes);
* a node sends an event left when ``x[feature] <= threshold`` (sklearn's convention; conifer
  writes the same ``<=``), thresholds on the input grid;
* the score is ``init + sum of the reached leaves``, leaves and init on the score grid; the
  score type is wide enough that no order of summation overflows (checked at build), so
  conifer's balanced reduce and a running sum agree;
* an optional :class:`ThresholdMapIR` (a designed decorrelation) subtracts a threshold looked
  up by the bins of two inputs: ``output = score - table[bin(condition)][bin(protected)]``.

The JSON form is data only (lists of ints and type records): loading it runs no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datrig.errors import SchemaError
from datrig.ir.fixed import FixedType

SCHEMA = "datrig-tree-ensemble/1"
MAX_NODES = 1 << 16  # per tree; far above any trigger BDT
MAX_TREES = 4096
MAX_MAP_BINS = 64
MAX_PADDED_NODES = 1 << 22  # trees x widest tree: what the emulator's node tables hold


@dataclass(frozen=True)
class TreeIR:
    """One tree as node arrays; a leaf has ``feature == -1`` and no children (-1)."""

    feature: tuple[int, ...]
    threshold: tuple[int, ...]  # input-grid mantissas (0 at leaves)
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[int, ...]  # score-grid mantissas (0 at inner nodes)

    @property
    def n_nodes(self) -> int:
        return len(self.feature)

    @property
    def depth(self) -> int:
        depth = [0] * self.n_nodes
        for node in range(self.n_nodes):  # children always come after their parent
            for child in (self.left[node], self.right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        return max(depth)

    def leaf_values(self) -> list[int]:
        return [v for f, v in zip(self.feature, self.value, strict=True) if f < 0]


@dataclass(frozen=True)
class ThresholdMapIR:
    """A designed-decorrelation block: a table of score thresholds over two input bins.

    ``bin(x) = number of edges e with x >= e`` (edges ascending, input-grid mantissas), so a
    variable with k edges has k + 1 bins; ``table`` is (condition bins) x (protected bins) of
    score-grid mantissas."""

    condition: int
    protected: int
    condition_edges: tuple[int, ...]
    protected_edges: tuple[int, ...]
    table: tuple[tuple[int, ...], ...]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.condition_edges) + 1, len(self.protected_edges) + 1


@dataclass(frozen=True)
class EnsembleIR:
    """A quantized tree ensemble with one output (a classifier's logit or a regression)."""

    name: str
    features: tuple[str, ...]
    input_type: FixedType
    score_type: FixedType
    output_type: FixedType  # score, or score minus the map's threshold
    init: int
    trees: tuple[TreeIR, ...]
    threshold_map: ThresholdMapIR | None = None

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def max_depth(self) -> int:
        return max(t.depth for t in self.trees)

    def score_bound(self) -> int:
        """Largest |mantissa| any order of summing init and the leaves can reach."""
        return abs(self.init) + sum(max(abs(v) for v in t.leaf_values()) for t in self.trees)

    def check(self, source: str) -> None:
        """Raise a SchemaError naming what is inconsistent (indices, ranges, overflow)."""
        n_feat = self.n_features
        if not 0 < len(self.trees) <= MAX_TREES:
            raise SchemaError(f"{source}: {len(self.trees)} trees (1 to {MAX_TREES} allowed)")
        widest = max(len(t.feature) for t in self.trees)
        if len(self.trees) * widest > MAX_PADDED_NODES:
            raise SchemaError(
                f"{source}: {len(self.trees)} trees padded to {widest} nodes exceed "
                f"{MAX_PADDED_NODES:,} table entries; the file is damaged or crafted"
            )
        lo_in, hi_in = self.input_type.min_mantissa, self.input_type.max_mantissa
        for k, tree in enumerate(self.trees):
            n = tree.n_nodes
            sizes = {len(tree.threshold), len(tree.left), len(tree.right), len(tree.value)}
            if not 0 < n <= MAX_NODES or sizes != {n}:
                raise SchemaError(f"{source}: tree {k} has inconsistent or too many nodes")
            for i in range(n):
                f, left, right = tree.feature[i], tree.left[i], tree.right[i]
                if f < 0:
                    if left != -1 or right != -1:
                        raise SchemaError(f"{source}: tree {k} leaf {i} has children")
                    continue
                if f >= n_feat or not (i < left < n and i < right < n):
                    raise SchemaError(f"{source}: tree {k} node {i} points outside the tree")
                if not lo_in <= tree.threshold[i] <= hi_in:
                    raise SchemaError(
                        f"{source}: tree {k} node {i} threshold is outside {self.input_type}"
                    )
        bound = self.score_bound()
        if bound > self.score_type.max_mantissa:
            raise SchemaError(
                f"{source}: the score can reach {bound * self.score_type.lsb:g}, beyond "
                f"{self.score_type.to_hls()}; widen its integer bits"
            )
        m = self.threshold_map
        if m is not None:
            if not (0 <= m.condition < n_feat and 0 <= m.protected < n_feat):
                raise SchemaError(f"{source}: the threshold map reads a missing feature")
            rows, cols = m.shape
            if rows > MAX_MAP_BINS or cols > MAX_MAP_BINS:
                raise SchemaError(f"{source}: the threshold map has more than {MAX_MAP_BINS} bins")
            if len(m.table) != rows or any(len(r) != cols for r in m.table):
                raise SchemaError(f"{source}: the threshold map is not {rows} x {cols}")
            for edges in (m.condition_edges, m.protected_edges):
                if list(edges) != sorted(set(edges)):
                    raise SchemaError(f"{source}: threshold-map edges must be strictly ascending")
            worst = bound + max(abs(v) for r in m.table for v in r)
            if worst > self.output_type.max_mantissa or self.output_type.lsb != self.score_type.lsb:
                raise SchemaError(
                    f"{source}: score minus threshold needs {self.output_type.to_hls()} to hold "
                    f"{worst * self.score_type.lsb:g} on the score grid"
                )
        elif self.output_type != self.score_type:
            raise SchemaError(f"{source}: without a threshold map the output is the score")

    # -- the file form ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        m = self.threshold_map
        return {
            "schema": SCHEMA,
            "name": self.name,
            "features": list(self.features),
            "input_type": self.input_type.to_json(),
            "score_type": self.score_type.to_json(),
            "output_type": self.output_type.to_json(),
            "split": "<=",
            "init": self.init,
            "trees": [
                {
                    "feature": list(t.feature),
                    "threshold": list(t.threshold),
                    "left": list(t.left),
                    "right": list(t.right),
                    "value": list(t.value),
                }
                for t in self.trees
            ],
            "threshold_map": None
            if m is None
            else {
                "condition": m.condition,
                "protected": m.protected,
                "condition_edges": list(m.condition_edges),
                "protected_edges": list(m.protected_edges),
                "table": [list(r) for r in m.table],
            },
        }

    @classmethod
    def from_json(cls, doc: Any, source: str) -> EnsembleIR:
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise SchemaError(f"{source} is not a datrig tree ensemble ({SCHEMA})")
        if doc.get("split") != "<=":
            raise SchemaError(f"{source}: unknown split convention {doc.get('split')!r}")
        try:
            trees = tuple(
                TreeIR(*(_ints(t[k]) for k in ("feature", "threshold", "left", "right", "value")))
                for t in doc["trees"]
            )
            raw = doc["threshold_map"]
            tmap = None
            if raw is not None:
                tmap = ThresholdMapIR(
                    int(raw["condition"]),
                    int(raw["protected"]),
                    _ints(raw["condition_edges"]),
                    _ints(raw["protected_edges"]),
                    tuple(_ints(r) for r in raw["table"]),
                )
            ir = cls(
                name=str(doc["name"]),
                features=tuple(str(f) for f in doc["features"]),
                input_type=FixedType.from_json(doc["input_type"]),
                score_type=FixedType.from_json(doc["score_type"]),
                output_type=FixedType.from_json(doc["output_type"]),
                init=int(doc["init"]),
                trees=trees,
                threshold_map=tmap,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"{source}: malformed tree ensemble ({exc!r})") from None
        ir.check(source)
        return ir


def _ints(values: Any) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError("expected a list of integers")
    return tuple(values)


def quantize(x: np.ndarray, t: FixedType) -> np.ndarray:
    """Float values to ``t`` mantissas (int64) with ``t``'s own rounding and overflow: the
    one place a BDT's inputs meet its grid. Only truncation/round-half-even and
    saturate/wrap are meaningful for features; others are refused."""
    from datrig.ir.fixed import Overflow, Rounding

    scaled = np.asarray(x, dtype=np.float64) * float(2**t.fractional)
    if not np.all(np.isfinite(scaled)):
        raise SchemaError(f"{int(np.sum(~np.isfinite(scaled)))} non-finite feature values")
    if t.rounding == Rounding.TRN:
        m = np.floor(scaled)
    elif t.rounding == Rounding.RND_CONV:
        m = np.rint(scaled)  # numpy rounds half to even
    elif t.rounding == Rounding.RND:
        m = np.floor(scaled + 0.5)
    else:
        raise SchemaError(f"feature rounding {t.rounding.value} is not supported; use TRN or RND")
    lo, hi = t.min_mantissa, t.max_mantissa
    if t.overflow == Overflow.SAT:
        return np.clip(m, lo, hi).astype(np.int64)
    if t.overflow == Overflow.WRAP:
        span = hi - lo + 1
        return ((np.clip(m, -(2**62), 2**62).astype(np.int64) - lo) % span + lo).astype(np.int64)
    raise SchemaError(f"feature overflow {t.overflow.value} is not supported; use SAT or WRAP")
