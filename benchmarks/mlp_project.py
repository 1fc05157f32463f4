"""One exported 12-32-16-1 MLP (6-bit weights, 8-bit activations) and its events, shared by
the emulator, C-simulation and RTL benchmarks: one g++ build per session."""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmarks.results import size


@dataclass
class MLPCase:
    onnx: Path  # the Brevitas model's QONNX export
    project: Path  # the verified hls4ml project
    inputs: np.ndarray  # (n, 12) float64, a tenth far beyond the input range


def brevitas_mlp():
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Int16Bias,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(0)
    kw = {"weight_quant": Int8WeightPerTensorFixedPoint, "weight_bit_width": 6}
    act = {"act_quant": Uint8ActPerTensorFixedPoint, "return_quant_tensor": True}
    model = torch.nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True),
        qnn.QuantLinear(12, 32, bias_quant=Int16Bias, **kw),
        qnn.QuantReLU(**act),
        qnn.QuantLinear(32, 16, bias_quant=Int16Bias, **kw),
        qnn.QuantReLU(**act),
        qnn.QuantLinear(16, 1, bias_quant=Int16Bias, **kw),
    )
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(128, 12) * 3)
    return model.eval()


@pytest.fixture(scope="session")
def mlp_case(  # sizes are read here, not at import: the conftest imports this module early
    tmp_path_factory: pytest.TempPathFactory,
) -> MLPCase:
    if shutil.which("g++") is None:
        pytest.skip("hls4ml's C-simulation needs g++")
    import torch

    from datrig.export.project import export_qonnx_model
    from datrig.export.qonnx import brevitas_to_qonnx
    from datrig.project.config import FirmwareConfig, VerificationSettings
    from datrig.runtime import configure_torch
    from tests.emulate.emu_models import stress_inputs

    configure_torch()
    root = tmp_path_factory.mktemp("mlp_bench")
    with contextlib.redirect_stdout(io.StringIO()):
        onnx = brevitas_to_qonnx(brevitas_mlp(), torch.randn(1, 12), root / "mlp.onnx")
    fw = FirmwareConfig(verification=VerificationSettings(n_events=size(2000, 200), input_range=12))
    export_qonnx_model(onnx, "mlp", root / "prj", fw, seed=0)
    x = stress_inputs(np.random.default_rng(0), size(100_000, 500), (12,))
    return MLPCase(onnx, root / "prj", x)
