"""Checks that an exported QONNX graph uses only power-of-two scales and zero points of 0."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def is_power_of_two(values: np.ndarray) -> np.ndarray:
    """Elementwise: positive and an exact power of two (mantissa 0.5 from ``frexp``)."""
    values = np.asarray(values, dtype=np.float64)
    mantissa, _ = np.frexp(values)
    return (values > 0) & (mantissa == 0.5)


def non_pot_quant_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of ``Quant`` nodes whose scale is not a power of two or whose zero point is not 0."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    consts = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in model.graph.node
        if n.op_type == "Constant"
        and n.attribute
        and n.attribute[0].type == onnx.AttributeProto.TENSOR
    }
    inits.update(consts)
    bad = []
    for node in model.graph.node:
        if node.op_type != "Quant":
            continue
        scale, zero_point = inits.get(node.input[1]), inits.get(node.input[2])
        if scale is None or zero_point is None:
            bad.append(f"{node.name} (scale/zero point not constant)")
        elif not is_power_of_two(scale).all() or np.any(zero_point != 0):
            bad.append(
                f"{node.name} (scale {scale.ravel()[:4]}, zero point {zero_point.ravel()[:4]})"
            )
    return bad
