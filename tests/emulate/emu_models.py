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
