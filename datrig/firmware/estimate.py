"""Analytic resource/latency estimate of a distributed-arithmetic implementation of a NetworkIR.

Used only when the RTL tools are missing or a layer cannot be traced. Formulas (documented in
the report): each constant product ``x * w`` becomes one shifted term per non-zero digit of
``w`` in canonical signed digits (CSD); a column with ``t`` terms needs ``t - 1`` adders, one
LUT per accumulator bit each (Xilinx carry chains); the adder tree is ``ceil(log2 t)`` levels
deep and the pipeline cuts every ``latency_cutoff`` levels (+1 input register); registers hold
every layer output once. No DSPs, no BRAM (no multipliers, no tables). Ignores common
sub-expression sharing, so LUTs are an upper-end estimate.
"""

from __future__ import annotations

import math

import numpy as np

from datrig.emulate.kinds import kind_of
from datrig.firmware.report_types import DA_RTL, ESTIMATE_ANALYTIC, Measurements, Source
from datrig.ir.network import NetworkIR


def csd_digits(values: np.ndarray) -> np.ndarray:
    """Number of non-zero canonical-signed-digit digits of each integer (elementwise)."""
    x = np.abs(np.asarray(values, dtype=np.int64))
    count = np.zeros(x.shape, dtype=np.int64)
    while np.any(x):
        odd = (x & 1) == 1
        # digit +1 if x % 4 == 1, -1 if x % 4 == 3 (then carry): both count as one digit
        count += odd
        x = np.where(odd & ((x & 3) == 3), x + 1, np.where(odd, x - 1, x)) >> 1
    return count


def estimate(ir: NetworkIR, *, latency_cutoff: float) -> Measurements:
    source = Source("datrig analytic model (CSD adder count)", "1", DA_RTL, ESTIMATE_ANALYTIC)
    lut = 0
    depth = 0
    first = ir.layers[0]
    ff = int(np.prod(first.shape)) * first.result_t.width
    for layer in ir.layers[1:]:
        ff += int(np.prod(layer.shape)) * layer.result_t.width
        if not kind_of(layer).matmul:
            continue
        w = np.asarray(layer.tensors["weight"], dtype=np.int64)
        rows = int(np.prod(layer.shape[:-1])) if len(layer.shape) > 1 else 1
        terms = csd_digits(w).sum(axis=0) + (np.asarray(layer.tensors["bias"]) != 0)
        adders = np.maximum(terms - 1, 0)
        width = layer.types.get("accum_t", layer.result_t).width
        lut += rows * int(adders.sum()) * width
        depth += math.ceil(math.log2(max(int(terms.max()), 1))) if terms.size else 0
    cycles = math.ceil(depth / max(latency_cutoff, 1.0)) + 1
    out = Measurements()
    out.set("latency_cycles", cycles, source)
    out.set("ii", 1, source)
    out.set("lut", lut, source)
    out.set("ff", ff, source)
    out.set("dsp", 0, source)
    out.set("bram", 0, source)
    out.notes.append(
        "analytic estimate: adders from non-zero CSD digits of the weights, one LUT per "
        "accumulator bit, adder-tree depth / levels per stage (+1 input register)"
    )
    return out
