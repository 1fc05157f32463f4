"""Export cost and the reloaded C-sim library vs the emulator, for one small MLP, in one run.

* ``test_export_conversion``: QONNX cleanup + hls4ml conversion with datrig's derived types
  (no g++: the compile is a separate, compiler-bound step).
* ``test_csim_library_events_per_s`` / ``test_emulator_events_per_s``: predict throughput of
  the verified project's stored library (:class:`CsimLibrary`, ctypes, one call per event) and
  of the emulator on the same events; the ratio is stored in ``extra_info``.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

N_EVENTS = 20000
RATES: dict[str, float] = {}

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")


def _mlp():
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


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from datrig.export.qonnx import brevitas_to_qonnx
    from datrig.runtime import configure_torch

    configure_torch()
    path = tmp_path_factory.mktemp("export") / "mlp.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        return brevitas_to_qonnx(_mlp(), torch.randn(1, 12), path)


@pytest.fixture(scope="module")
def project(onnx_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from datrig.export.project import export_qonnx_model
    from datrig.project.config import FirmwareConfig, VerificationSettings

    fw = FirmwareConfig(verification=VerificationSettings(n_events=2000, input_range=12.0))
    out = tmp_path_factory.mktemp("prj") / "mlp"
    export_qonnx_model(onnx_path, "mlp", out, fw, seed=0)
    x = np.random.default_rng(0).uniform(-12, 12, size=(N_EVENTS, 12))
    return out, x


def test_export_conversion(benchmark, onnx_path: Path, tmp_path: Path) -> None:
    from datrig.export import qonnx as qx
    from datrig.export.hls import convert
    from datrig.export.project import _clean_reference
    from datrig.project.config import FirmwareConfig

    def run() -> None:
        reference = _clean_reference(qx.load_qonnx(onnx_path), str(onnx_path))
        convert(qx.clean_for_hls4ml(reference), FirmwareConfig(), tmp_path / "hls")

    benchmark.pedantic(run, rounds=3, iterations=1)


def test_csim_library_events_per_s(benchmark, project) -> None:
    from datrig.project.csim import CsimLibrary

    out, x = project
    library = CsimLibrary.from_project(out)
    benchmark.pedantic(library.predict, args=(x,), rounds=3, iterations=1)
    RATES["csim"] = N_EVENTS / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = RATES["csim"]


def test_emulator_events_per_s(benchmark, project) -> None:
    from datrig.emulate.io import load_ir
    from datrig.emulate.runner import emulate
    from datrig.project.csim import CsimLibrary

    out, x = project
    ir = load_ir(out)
    y = benchmark.pedantic(lambda: emulate(ir, x).output, rounds=5, iterations=1)
    np.testing.assert_array_equal(y, CsimLibrary.from_project(out).predict(x))
    RATES["emulator"] = N_EVENTS / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = RATES["emulator"]
    if "csim" in RATES:
        benchmark.extra_info["speedup_vs_csim"] = RATES["emulator"] / RATES["csim"]
        print(f"\nemulator / C-sim library: {RATES['emulator'] / RATES['csim']:.1f}x")
