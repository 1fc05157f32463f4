"""datrig's bit-exact emulator of a fixed-point tree ensemble (:mod:`datrig.ir.trees`).

Integer arithmetic only: input mantissas are compared with threshold mantissas (``<=`` goes
left, as in conifer's C++ and VHDL), the reached leaves' mantissas are summed with the init
in int64 (the IR guarantees no partial sum leaves the score type, so the order is free), and
a threshold map subtracts its cell's mantissa. Events are processed in chunks with all trees
at once (the chunk shrinks as trees are added, so memory stays bounded), so 10^6 events take
about a second.
"""

from __future__ import annotations

import numpy as np

from datrig.errors import SchemaError
from datrig.ir.trees import EnsembleIR, ThresholdMapIR

CHUNK_ENTRIES = 1 << 22  # events x trees per step: ~32 MB per int64 work array


class _Stacked:
    """The trees as padded (n_trees, n_nodes) arrays; padding nodes are leaves of value 0."""

    def __init__(self, ir: EnsembleIR) -> None:
        n_trees, width = len(ir.trees), max(t.n_nodes for t in ir.trees)
        self.feature = np.full((n_trees, width), -1, dtype=np.int64)
        self.threshold = np.zeros((n_trees, width), dtype=np.int64)
        self.left = np.zeros((n_trees, width), dtype=np.int64)
        self.right = np.zeros((n_trees, width), dtype=np.int64)
        self.value = np.zeros((n_trees, width), dtype=np.int64)
        for k, t in enumerate(ir.trees):
            n = t.n_nodes
            self.feature[k, :n] = t.feature
            self.threshold[k, :n] = t.threshold
            self.left[k, :n] = t.left
            self.right[k, :n] = t.right
            self.value[k, :n] = t.value
        self.depth = ir.max_depth
        self.rows = np.arange(n_trees)[None, :]

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(events, trees) index of the leaf each event reaches in each tree."""
        node = np.zeros((x.shape[0], self.feature.shape[0]), dtype=np.int64)
        events = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            feat = self.feature[self.rows, node]
            inner = feat >= 0
            value = x[events, np.where(inner, feat, 0)]
            go_left = value <= self.threshold[self.rows, node]
            step = np.where(go_left, self.left[self.rows, node], self.right[self.rows, node])
            node = np.where(inner, step, node)
        return node


def map_bins(values: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """``bin(x) = number of edges e with x >= e`` (the firmware's comparator sum)."""
    return np.searchsorted(np.asarray(edges, dtype=np.int64), values, side="right")


def map_thresholds(tmap: ThresholdMapIR, x: np.ndarray) -> np.ndarray:
    table = np.asarray(tmap.table, dtype=np.int64)
    rows = map_bins(x[:, tmap.condition], tmap.condition_edges)
    cols = map_bins(x[:, tmap.protected], tmap.protected_edges)
    return table[rows, cols]


def check_inputs(ir: EnsembleIR, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != ir.n_features:
        raise SchemaError(
            f"the ensemble reads {ir.n_features} features per event, got shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.integer):
        raise SchemaError("the tree emulator takes input mantissas (integers); quantize first")
    x = x.astype(np.int64, copy=False)
    lo, hi = ir.input_type.min_mantissa, ir.input_type.max_mantissa
    bad = int(np.count_nonzero((x < lo) | (x > hi)))
    if bad:
        raise SchemaError(f"{bad} input mantissas are outside {ir.input_type.to_hls()}")
    return x


def emulate_mantissas(ir: EnsembleIR, x: np.ndarray, *, with_map: bool = True) -> np.ndarray:
    """Output mantissas (int64, one per event) of the ensemble on input mantissas ``x``;
    ``with_map=False`` gives the score before the threshold map."""
    x = check_inputs(ir, x)
    stacked = _Stacked(ir)
    out = np.empty(x.shape[0], dtype=np.int64)
    chunk = max(1, CHUNK_ENTRIES // len(ir.trees))  # memory bounded whatever the tree count
    for start in range(0, x.shape[0], chunk):
        leaves = stacked.leaves(x[start : start + chunk])
        out[start : start + chunk] = ir.init + stacked.value[stacked.rows, leaves].sum(axis=1)
    if with_map and ir.threshold_map is not None:
        out = out - map_thresholds(ir.threshold_map, x)
    return out


def emulate(ir: EnsembleIR, x: np.ndarray) -> np.ndarray:
    """Firmware output as float64 (n_events, 1), exact (the mantissa times the LSB)."""
    return (emulate_mantissas(ir, x).astype(np.float64) * ir.output_type.lsb)[:, None]
