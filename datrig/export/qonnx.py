"""Brevitas -> QONNX, the cleanup hls4ml's QONNX frontend expects, and the QONNX reference run.

The QONNX executor (``qonnx.core.onnx_exec``) is the reference the C-simulation is compared
against: its ``Quant`` op rounds half to even (numpy ``round``), i.e. ap_fixed ``RND_CONV``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from datrig.errors import DatrigError, SchemaError, short

# ONNX ops hls4ml 1.3's QONNX frontend converts (after cleanup); anything else is named.
SUPPORTED_OPS = frozenset(
    [
        "Quant",
        "BipolarQuant",
        "MatMul",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "LeakyRelu",
        "Sigmoid",
        "Softmax",
        "Tanh",
        "HardSigmoid",
        "Elu",
        "Selu",
        "ThresholdedRelu",
        "Softplus",
        "Softsign",
        "Reshape",
        "Flatten",
        "Transpose",
        "Conv",
        "BatchNormalization",
        "MaxPool",
        "AveragePool",
        "GlobalMaxPool",
        "GlobalAveragePool",
        "Concat",
        "Identity",
        "Constant",
        "Clip",
        "Gemm",
        "Squeeze",
        "Unsqueeze",
        "Resize",
        "Pad",
        "Einsum",
        "Max",
        "Min",
    ]
)


def brevitas_to_qonnx(model: Any, example_input: Any, path: str | os.PathLike[str]) -> Path:
    """Export a Brevitas module with the QONNX exporter (not QCDQ) to ``path``."""
    import logging

    import torch
    from brevitas.export import export_qonnx

    # torch's exporter logs a warning per missing torchvision op on every export
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    model.eval()
    with torch.no_grad():
        export_qonnx(model, example_input, export_path=str(path))
    return Path(path)


def load_qonnx(path: str | os.PathLike[str]) -> Any:
    """Load an ONNX/QONNX file into a qonnx ``ModelWrapper``, with a clear error if unreadable."""
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.is_file():
        raise DatrigError(f"ONNX file {path} not found")
    if path.stat().st_size == 0:
        raise SchemaError(f"{path} is empty; expected an ONNX model")
    try:
        model = ModelWrapper(str(path))
    except Exception as exc:  # onnx raises assorted protobuf/decode errors
        raise SchemaError(f"{path} is not a readable ONNX model: {short(exc)}") from None
    check_graph(model, str(path))
    return model


def check_graph(model: Any, source: str) -> None:
    """What every later step takes for granted, checked once with one line each: a graph with
    nodes, one input and an output, finite constants, Quant bit widths of at least 1."""
    from onnx import numpy_helper

    graph = model.graph
    if not graph.node:
        raise SchemaError(f"{source}: the ONNX graph has no nodes; expected a QONNX network")
    constant_names = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constant_names]  # old exporters list
    if len(inputs) != 1 or not graph.output:  # every weight as a graph input too
        raise SchemaError(
            f"{source}: the graph has {len(inputs)} inputs and {len(graph.output)} outputs; "
            "datrig imports networks with one input tensor and at least one output"
        )
    for init in graph.initializer:
        try:
            values = numpy_helper.to_array(init)
        except Exception as exc:
            raise SchemaError(
                f"{source}: constant {init.name!r} is unreadable ({short(exc)})"
            ) from None
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values)))
            raise SchemaError(
                f"{source}: constant {init.name!r} holds {bad} NaN/inf value(s); the network's "
                "training diverged or the file is damaged: fix the weights and export again"
            )
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "Trunc") and len(node.input) >= 4:
            bits = constants.get(node.input[3])
            if bits is not None and np.any(numpy_helper.to_array(bits) < 1):
                raise SchemaError(
                    f"{source}: {node.op_type} node {node.name or '?'} has a bit width below 1; "
                    "every quantizer needs at least 1 bit"
                )


def clean_for_hls4ml(model: Any) -> Any:
    """cleanup -> channels-last -> cleanup -> Gemm->MatMul -> cleanup, as hls4ml's tests do."""
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(model)
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = cleanup_model(model)
    _add_zero_gemm_bias(model)
    model = model.transform(GemmToMatMul())
    return cleanup_model(model)


def _add_zero_gemm_bias(model: Any) -> None:
    """qonnx's GemmToMatMul needs Gemm's optional bias C; bias-free layers get explicit zeros."""
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) == 2:
            w_shape = model.get_tensor_shape(node.input[1])
            trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            n_out = w_shape[0] if trans_b else w_shape[-1]
            name = f"{node.name or 'Gemm'}_zero_bias"
            model.set_initializer(name, np.zeros(n_out, dtype=np.float32))
            node.input.append(name)


def check_supported(model: Any, source: str = "model") -> None:
    """Fail naming the first op hls4ml cannot convert (e.g. FloatQuant from an fp8 export)."""
    for node in model.graph.node:
        if node.op_type not in SUPPORTED_OPS:
            raise DatrigError(
                f"{source}: layer {node.name or '?'} uses op {node.op_type!r}, which hls4ml's "
                f"QONNX frontend does not support; supported: {', '.join(sorted(SUPPORTED_OPS))}"
            )


def input_shape(model: Any) -> tuple[int, ...]:
    """Per-event input shape (batch dimension dropped)."""
    shape = model.get_tensor_shape(model.graph.input[0].name)
    return tuple(int(d) for d in shape[1:])


def execute_qonnx(model: Any, inputs: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Run the QONNX executor on ``inputs`` (N, *input_shape) -> float32 (N, n_outputs)."""
    out_name = model.graph.output[0].name
    y = execute_qonnx_tensors(model, inputs, [out_name], chunk)[out_name]
    return y.reshape(len(y), -1)


def execute_qonnx_tensors(
    model: Any, inputs: np.ndarray, names: list[str], chunk: int = 4096
) -> dict[str, np.ndarray]:
    """Any tensors of the QONNX execution (``return_full_exec_context``), float32 (N, ...).

    The model is re-batched (``ChangeBatchSize``) so chunks of events run in one call.
    """
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    in_name = model.graph.input[0].name
    batched: dict[int, Any] = {}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(inputs), chunk):
        block = inputs[start : start + chunk]
        n = len(block)
        if n not in batched:
            batched[n] = model.transform(ChangeBatchSize(n)).transform(InferShapes())
        context = execute_onnx(batched[n], {in_name: block}, return_full_exec_context=True)
        for name in names:
            if name not in context:
                raise DatrigError(f"QONNX execution has no tensor {name!r}")
            value = np.asarray(context[name], dtype=np.float32)
            parts[name].append(value.reshape(n, *value.shape[1:]))
    return {
        name: np.concatenate(blocks) if blocks else np.zeros((0,), np.float32)
        for name, blocks in parts.items()
    }


def feeds_quantizer(model: Any) -> bool:
    """True if the graph input goes straight into Quant nodes (the input is on their grid)."""
    in_name = model.graph.input[0].name
    consumers = model.find_consumers(in_name) or []
    return bool(consumers) and all(
        n.op_type in ("Quant", "BipolarQuant") and n.input[0] == in_name for n in consumers
    )


@contextlib.contextmanager
def temporary_onnx_path() -> Iterator[Path]:
    """A scratch ``model.onnx`` path in its own temporary folder, removed with everything in it.

    A folder and not a bare temp file: torch's exporter may write external tensor data
    (``model.onnx.data``) next to the model, which a single-file cleanup would leak.
    """
    with tempfile.TemporaryDirectory(prefix="datrig-export-") as folder:
        yield Path(folder) / "model.onnx"


def to_reference_layout(x: np.ndarray, reference_shape: tuple[int, ...]) -> np.ndarray:
    """Project-layout inputs -> the exporter's layout (channels-first for the Deep Sets)."""
    if tuple(x.shape[1:]) == tuple(reference_shape):
        return x
    if x.ndim == 3 and tuple(x.shape[:0:-1]) == tuple(reference_shape):
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    return x.reshape(len(x), *reference_shape)
