"""C-simulation vs the QONNX executor: the reference check of a converted project.

Exact (bit for bit) on the network output, unless the output layer is a lookup-table
activation: then the tensor feeding it is compared exactly and the output within the bound
:mod:`datrig.export.lut_check` derives from the tables. Graphs whose input is not quantized
(e.g. QKeras exports) see inputs snapped to the firmware input type, recorded in the result.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from datrig.emulate.fixed import from_float, to_float
from datrig.errors import DatrigError
from datrig.export import qonnx as qx
from datrig.export.lut_check import argmax_agreement, final_lut_layer, lut_bound
from datrig.ir.network import LayerIR, NetworkIR
from datrig.project.config import format_precision
from datrig.project.csim import CsimLibrary
from datrig.project.verify import Comparison, compare_outputs

ONNX_LUT_OPS = {"softmax": "Softmax", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def compare_with_qonnx(
    library: CsimLibrary,
    ir: NetworkIR,
    reference: Any,
    x: np.ndarray,
    min_argmax_agreement: float = 0.95,
) -> list[Comparison]:
    """QONNX-vs-C-sim comparisons on project-layout inputs ``x``.

    A softmax classifier whose argmax agrees on fewer than ``min_argmax_agreement`` of the
    events counts every event as a mismatch of the output comparison (VerificationError later).
    """
    grid = None
    if not qx.feeds_quantizer(reference):
        input_t = ir.layers[0].result_t
        x = to_float(from_float(x, input_t), input_t)
        grid = format_precision(input_t)
    y_csim = library.predict(x)
    x_ref = qx.to_reference_layout(x, qx.input_shape(reference))
    lut = final_lut_layer(ir)
    out_name = reference.graph.output[0].name
    if lut is None:
        y_ref = qx.execute_qonnx(reference, x_ref)
        return [
            dataclasses.replace(compare_outputs("qonnx_vs_csim", y_ref, y_csim), input_grid=grid)
        ]

    pre_name = lut.inputs[0]
    pre_onnx = _onnx_lut_input(reference, lut)
    tensors = qx.execute_qonnx_tensors(reference, x_ref, [pre_onnx, out_name])
    pre_csim = _csim_trace(library, x, pre_name)
    pre_ref = _to_project_layout(tensors[pre_onnx], pre_csim.shape)
    exact = dataclasses.replace(
        compare_outputs("qonnx_vs_csim_lut_input", pre_ref, pre_csim),
        tensor=f"{pre_name} (input of {lut.name})",
        input_grid=grid,
    )
    bound = lut_bound(lut, ir.layer(pre_name).result_t)
    y_ref = tensors[out_name].reshape(len(x), -1)
    output = dataclasses.replace(
        compare_outputs("qonnx_vs_csim", y_ref, y_csim, atol=bound.atol),
        input_grid=grid,
        tolerance_basis=bound.basis,
        argmax_agreement=(
            argmax_agreement(y_ref, y_csim)
            if lut.kind == "softmax" and y_ref.shape[1] > 1
            else None
        ),
    )
    agree = output.argmax_agreement
    if agree is not None and agree < min_argmax_agreement and output.ok:
        n_bad = round((1 - agree) * len(x))
        output = dataclasses.replace(output, n_mismatch=n_bad, first_event=None)
        output = dataclasses.replace(
            output,
            tolerance_basis=f"{output.tolerance_basis}; argmax agreement below the required "
            f"{100 * min_argmax_agreement:g}% (verification.min_argmax_agreement)",
        )
    return [exact, output]


def _onnx_lut_input(reference: Any, lut: LayerIR) -> str:
    """The QONNX tensor feeding the graph's output activation (the op hls4ml made a LUT)."""
    op = ONNX_LUT_OPS[lut.kind]
    producer = reference.find_producer(reference.graph.output[0].name)
    if producer is None or producer.op_type != op:
        found = producer.op_type if producer is not None else "nothing"
        raise DatrigError(
            f"the firmware ends in a {lut.kind} table ({lut.name}) but the QONNX output is "
            f"produced by {found}; cannot line up the two for verification"
        )
    return str(producer.input[0])


def _csim_trace(library: CsimLibrary, x: np.ndarray, layer_name: str) -> np.ndarray:
    """One layer's C-sim output, from the library's compiled-in tracing."""
    trace = library.trace(x)
    if layer_name not in trace:
        raise DatrigError(f"C-sim trace has no layer {layer_name!r} (traced: {', '.join(trace)})")
    return trace[layer_name].reshape(len(x), -1)


def _to_project_layout(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """QONNX tensor (N, ...) -> (N, n) in hls4ml's channels-last order."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 3:
        v = v.transpose(0, 2, 1)
    flat = v.reshape(len(v), -1)
    if flat.shape != tuple(shape):
        raise DatrigError(f"QONNX tensor of shape {values.shape} does not match C-sim {shape}")
    return flat
