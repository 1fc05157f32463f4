"""Tiny Brevitas models -> QONNX -> hls4ml ModelGraphs for the emulator tests and benchmark.

Power-of-two fixed-point quantizers, so hls4ml maps every quantizer to an ap_fixed type.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

HLS_DEFAULT = "fixed<16,6>"


def mlp(sizes: tuple[int, ...] = (12, 32, 16, 1), seed: int = 0, weight_bits: int = 6) -> Any:
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint

    torch.manual_seed(seed)
    layers: list[Any] = [
        qnn.QuantIdentity(
            act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True
        )
    ]
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(
            qnn.QuantLinear(
                n_in,
                n_out,
                bias=True,
                weight_quant=Int8WeightPerTensorFixedPoint,
                weight_bit_width=weight_bits,
            )
        )
        if k < len(sizes) - 2:
            layers.append(
                qnn.QuantReLU(
                    act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True
                )
            )
    return torch.nn.Sequential(*layers).eval()


def deepsets(n_nodes: int = 8, n_feat: int = 4, n_hidden: int = 16, seed: int = 1) -> Any:
    """Per-node pointwise Conv1d + ReLU, then mean over nodes as flatten + constant matrix."""
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint

    torch.manual_seed(seed)

    class DeepSets(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            act = {"act_quant": Int8ActPerTensorFixedPoint, "return_quant_tensor": True}
            wq = {"weight_quant": Int8WeightPerTensorFixedPoint, "weight_bit_width": 6}
            self.inp = qnn.QuantIdentity(bit_width=8, **act)
            self.phi = qnn.QuantConv1d(n_feat, n_hidden, kernel_size=1, bias=True, **wq)
            self.relu = qnn.QuantReLU(bit_width=8, **act)
            # a bias because qonnx's GemmToMatMul fails on a Gemm without C.
            self.pool = qnn.QuantLinear(n_nodes * n_hidden, n_hidden, bias=True, **wq)
            self.rho = qnn.QuantLinear(n_hidden, 1, bias=True, **wq)
            # Mean over nodes of channel-major flattened (C, L) features; 1/8 is exact.
            avg = torch.zeros(n_hidden, n_hidden * n_nodes)
            for c in range(n_hidden):
                avg[c, c * n_nodes : (c + 1) * n_nodes] = 1.0 / n_nodes
            with torch.no_grad():
                self.pool.weight.copy_(avg)
                self.pool.bias.fill_(1.0 / 64)  # non-zero, or the export drops it

        def forward(self, x: Any) -> Any:  # x: (N, n_feat, n_nodes)
            h = self.relu(self.phi(self.inp(x)))
            return self.rho(self.pool(torch.flatten(h, 1)))

    return DeepSets().eval()


def to_hls(
    model: Any,
    example_shape: tuple[int, ...],
    out_dir: Path,
    overrides: dict[str, dict[str, str]] | None = None,
    strategy: str = "Latency",
) -> Any:
    """Brevitas -> QONNX -> qonnx cleanup -> hls4ml ModelGraph (not compiled), all layers traced."""
    import hls4ml
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    export_qonnx(model, torch.randn(1, *example_shape), export_path=str(onnx_path))
    qmodel = cleanup_model(ModelWrapper(str(onnx_path)))
    qmodel = qmodel.transform(ConvertToChannelsLastAndClean())
    qmodel = cleanup_model(qmodel.transform(GemmToMatMul()))
    config = hls4ml.utils.config_from_onnx_model(
        qmodel, granularity="name", backend="Vivado", default_precision=HLS_DEFAULT
    )
    config["Model"]["Strategy"] = strategy
    for name, layer_cfg in config["LayerName"].items():
        layer_cfg["Trace"] = True
        layer_cfg.setdefault("Precision", {}).update((overrides or {}).get(name, {}))
    return hls4ml.converters.convert_from_onnx_model(
        qmodel,
        output_dir=str(out_dir / "prj"),
        backend="Vivado",
        io_type="io_parallel",
        hls_config=config,
    )


def stress_inputs(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random inputs incl. saturating magnitudes and exact rounding ties of the 8-bit input."""
    x = rng.normal(0.0, 1.5, (n, *shape))
    x[: n // 10] *= 20.0  # saturate the input quantizer and the accumulators
    ties = rng.integers(-300, 300, (n // 10, *shape)) / 128.0 + 1 / 256.0  # half-LSB ties
    x[n // 10 : n // 10 + len(ties)] = ties
    return x


# Per-layer precisions of the activation test network: narrow, explicitly rounded/saturated
# types so every table index bit matters and the tables' clamping and rounding are exercised.
ACTIVATION_PRECISIONS: dict[str, dict[str, str]] = {
    "fc1": {"result": "fixed<12,5,RND,SAT>"},
    "sigmoid": {"table": "fixed<18,8>", "result": "fixed<12,2,RND_CONV,SAT>"},
    "fc2": {"result": "fixed<12,4,RND,SAT>"},
    "tanh": {"table": "fixed<10,2,RND_CONV,SAT>", "result": "fixed<10,2,TRN,WRAP>"},
    "fc3": {"result": "fixed<12,5,RND,SAT>"},
    "leaky": {"result": "fixed<14,5,RND,SAT>", "param": "ufixed<8,-3,RND,SAT>"},
    "fc4": {"result": "fixed<10,4,RND,SAT>"},
    "sm_stable": {"result": "ufixed<10,1,RND,SAT>"},
    "fc5": {"result": "fixed<10,5,RND,SAT>"},
    "sm_latency": {"result": "ufixed<12,1,RND,SAT>"},
    "fc6": {"result": "fixed<9,4,TRN,SAT>"},
    "sm_legacy": {"result": "ufixed<16,2,RND,SAT>"},
}
SOFTMAX_IMPLEMENTATIONS = {"sm_stable": "stable", "sm_latency": "latency", "sm_legacy": "legacy"}
# Table/accumulator types the layer config cannot set (hls4ml ignores them there): set on the
# converted layers before the C++ is written. Saturating/rounding tables exercise the casts.
TABLE_TYPES: dict[str, dict[str, str]] = {
    "tanh": {"table_t": "fixed<10,2,RND_CONV,SAT>"},
    "sm_stable": {"accum_t": "fixed<14,5,TRN,WRAP>", "inv_table_t": "ufixed<10,3,RND,SAT>"},
    "sm_latency": {
        "exp_table_t": "ufixed<12,4,RND,SAT>",
        "inv_table_t": "fixed<12,6,RND_CONV,SAT>",
    },
    "sm_legacy": {"table_t": "fixed<14,6,RND,SAT>"},
}


def activation_net(seed: int = 7) -> Any:
    """Float PyTorch chain through every table activation: sigmoid, tanh, leaky ReLU and the
    three softmax implementations (hls4ml quantizes its weights to the default precision)."""
    import torch

    torch.manual_seed(seed)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(6, 8)
            self.sigmoid = torch.nn.Sigmoid()
            self.fc2 = torch.nn.Linear(8, 8)
            self.tanh = torch.nn.Tanh()
            self.fc3 = torch.nn.Linear(8, 6)
            self.leaky = torch.nn.LeakyReLU(0.1)
            self.fc4 = torch.nn.Linear(6, 5)
            self.sm_stable = torch.nn.Softmax(dim=-1)
            self.fc5 = torch.nn.Linear(5, 5)
            self.sm_latency = torch.nn.Softmax(dim=-1)
            self.fc6 = torch.nn.Linear(5, 5)
            self.sm_legacy = torch.nn.Softmax(dim=-1)
            with torch.no_grad():
                for fc in (self.fc1, self.fc2, self.fc3, self.fc4):
                    fc.weight.mul_(4.0)
                for fc in (self.fc5, self.fc6):  # softmax outputs are in [0, 1]: widen them
                    fc.weight.mul_(24.0)

        def forward(self, x: Any) -> Any:
            h = self.leaky(self.fc3(self.tanh(self.fc2(self.sigmoid(self.fc1(x))))))
            h = self.sm_latency(self.fc5(self.sm_stable(self.fc4(h))))
            return self.sm_legacy(self.fc6(h))

    return Net().eval()


def activation_to_hls(model: Any, out_dir: Path) -> Any:
    """hls4ml's PyTorch frontend with ACTIVATION_PRECISIONS, every layer traced."""
    import hls4ml

    config = hls4ml.utils.config_from_pytorch_model(
        model, (6,), granularity="name", backend="Vivado", default_precision=HLS_DEFAULT
    )
    for name, layer_cfg in config["LayerName"].items():
        layer_cfg["Trace"] = True
        layer_cfg.setdefault("Precision", {})
        if not isinstance(layer_cfg["Precision"], dict):
            layer_cfg["Precision"] = {"result": layer_cfg["Precision"]}
        layer_cfg["Precision"].update(ACTIVATION_PRECISIONS.get(name, {}))
        if name in SOFTMAX_IMPLEMENTATIONS:
            layer_cfg["Implementation"] = SOFTMAX_IMPLEMENTATIONS[name]
    hls_model = hls4ml.converters.convert_from_pytorch_model(
        model,
        output_dir=str(out_dir / "prj"),
        backend="Vivado",
        io_type="io_parallel",
        hls_config=config,
    )
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    backend = hls4ml.backends.get_backend("Vivado")
    for layer in hls_model.get_layers():
        for key, precision in TABLE_TYPES.get(layer.name, {}).items():
            generic = backend.convert_precision_string(precision)
            layer.get_attr(key).precision = APTypeConverter().convert(generic)
    return hls_model


def qonnx_file_to_hls(onnx_path: Path, out_dir: Path, default_precision: str) -> Any:
    """A third-party QONNX file -> hls4ml, with the cleanup of hls4ml's own QONNX tests."""
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    qmodel = cleanup_model(ModelWrapper(str(onnx_path)))
    qmodel = qmodel.transform(ConvertToChannelsLastAndClean())
    qmodel = cleanup_model(qmodel.transform(GemmToMatMul()))
    config = hls4ml.utils.config_from_onnx_model(
        qmodel, granularity="name", backend="Vivado", default_precision=default_precision
    )
    for layer_cfg in config["LayerName"].values():
        layer_cfg["Trace"] = True
    return hls4ml.converters.convert_from_onnx_model(
        qmodel,
        output_dir=str(out_dir / "prj"),
        backend="Vivado",
        io_type="io_parallel",
        hls_config=config,
    )
