"""Typed intermediate representation of a quantized network as the firmware computes it.

Built once by a converter (``datrig.export``: hls4ml models), consumed by the emulator
(``datrig.emulate``), the RTL tracer and reports (``datrig.firmware``). All numbers are
exact: weights are stored as integer mantissas with their fixed-point type, so
``value = mantissa * 2**-type.fractional``. The IR knows no tool: hls4ml's names live in
``datrig.export``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datrig.ir.fixed import FixedType


@dataclass
class LayerIR:
    """One firmware layer: its kind, inputs, output type, constant tensors and attributes.

    ``tensors`` hold integer mantissas (int64) and ``tensor_types`` their fixed-point types;
    ``types`` the other named types of the layer's arithmetic (``accum_t``, and for softmax
    ``inv_inp_t``, ``inp_norm_t``); ``attrs`` plain JSON-able attributes (permutation,
    activation implementation, table sizes).
    """

    name: str
    kind: str
    inputs: list[str]
    result_t: FixedType
    shape: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    tensor_types: dict[str, FixedType] = field(default_factory=dict)
    types: dict[str, FixedType] = field(default_factory=dict)


@dataclass
class NetworkIR:
    """A whole network in execution order; ``layers[0]`` is the input layer."""

    name: str
    layers: list[LayerIR]
    outputs: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> LayerIR:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)
