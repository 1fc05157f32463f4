"""``datrig import`` of third-party QONNX models from ../shared/refmodels (skipped if absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError, VerificationError
from datrig.firmware.config import FirmwareConfig, VerificationSettings

REFMODELS = Path(__file__).resolve().parents[3] / "shared" / "refmodels"
FW = FirmwareConfig(verification=VerificationSettings(n_events=1000, input_range=4.0))
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")


def _ref(rel: str) -> Path:
    path = REFMODELS / rel
    if not path.is_file():
        pytest.skip(f"reference model {path} not present")
    return path


def test_fp8_floatquant_is_refused_by_name(tmp_path: Path) -> None:
    from datrig.cli import main

    onnx_path = _ref("qonnx_fp8_linear/qonnx_act_weight_fp8.onnx")
    out = tmp_path / "fp8"
    assert main(["import", str(onnx_path), "--name", "fp8", "--out", str(out)]) == 2
    from datrig.export.project import export_qonnx_model

    with pytest.raises(DatrigError, match="op 'FloatQuant'"):
        export_qonnx_model(onnx_path, "fp8", out, FW)
    assert not out.exists()


def _check_jet(by_name: dict, n_events: int) -> None:
    pre = by_name["qonnx_vs_csim_lut_input"]
    assert pre["n_events"] == n_events and pre["atol"] == 0.0
    assert pre["n_mismatch"] == 0, pre  # the last Dense output: exact
    assert "Dense_MatMul_3" in pre["tensor"]
    out = by_name["qonnx_vs_csim"]
    assert out["n_mismatch"] == 0, out
    assert 0 < out["atol"] < 0.1  # derived from the softmax tables, not picked by hand
    assert "exp table 1024" in out["tolerance_basis"]
    assert out["argmax_agreement"] >= 0.95
    assert out["input_grid"].startswith("fixed<18,8")  # QKeras graph: no input quantizer
    emu = by_name["emulator_vs_csim"]
    assert emu["n_mismatch"] == 0 and emu["atol"] == 0.0


@needs_gxx
def test_jettagging_qkeras_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """QKeras 16-64-32-32-5 MLP with softmax on standardised-feature-like inputs N(0, 1):
    last Dense exact vs QONNX, softmax within the table bound, emulator == C-sim bit for bit."""
    from datrig.cli import main

    onnx_path = _ref("jettagging_qkeras/qkeras_jettagging.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(1000, 16)))
    out = tmp_path / "jet"
    args = ["import", str(onnx_path), "--name", "jet", "--out", str(out)]
    assert main([*args, "--input", str(tmp_path / "x.npy")]) == 0
    printed = capsys.readouterr().out
    assert "argmax agreement" in printed and "tolerance from stable softmax" in printed
    meta = json.loads((out / "datrig_project.json").read_text())
    _check_jet(meta["verification"], 1000)


@pytest.mark.slow
@needs_gxx
def test_jettagging_qkeras_default_random_inputs(tmp_path: Path) -> None:
    """The 1000-event default: seeded uniform inputs over +-input_range."""
    from datrig.export.project import export_qonnx_model

    onnx_path = _ref("jettagging_qkeras/qkeras_jettagging.onnx")
    result = export_qonnx_model(onnx_path, "jet", tmp_path / "jet", FW, seed=1)
    _check_jet({c.name: c.to_json() for c in result.comparisons}, 1000)


def _tfc_inputs() -> np.ndarray:
    x = np.load(_ref("tfc_mnist/finn_build_dataflow_input.npy")) / 255.0  # (4, 1, 28, 28)
    return x.transpose(0, 2, 3, 1)  # project layout: channels-last (N, 28, 28, 1)


def test_tfc_binary_network_is_refused_by_layer(tmp_path: Path) -> None:
    from datrig.export.project import export_qonnx_model

    onnx_path = _ref("tfc_mnist/TFC_1W1A.onnx")
    with pytest.raises(DatrigError, match=r"layer bnbt_bn_Sub_0 .BatchNormalizationQuantizedTanh"):
        export_qonnx_model(onnx_path, "tfc", tmp_path / "tfc", FW, inputs=_tfc_inputs())
    assert not (tmp_path / "tfc").exists()


@pytest.mark.slow
@needs_gxx
@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        ("TFC_1W2A", DatrigError, r"layer Dense_MatMul_0 uses a binary/ternary"),
        (
            "TFC_2W2A",
            VerificationError,
            r"qonnx_vs_csim: 4 of 4 .*layers bn_Sub_0, bn_Add_0 apply non-power",
        ),
    ],
)
def test_tfc_networks_fail_with_a_named_layer(
    model: str, error: type[Exception], match: str, tmp_path: Path
) -> None:
    """hls4ml converts these; 1-bit weights are not emulated, and the 2W2A net's BatchNorm /
    non-power-of-two scales (ApplyAlpha) make the C-sim differ from QONNX: never handed over."""
    from datrig.export.project import export_qonnx_model

    onnx_path = _ref(f"tfc_mnist/{model}.onnx")
    with pytest.raises(error, match=match):
        export_qonnx_model(onnx_path, "tfc", tmp_path / "tfc", FW, inputs=_tfc_inputs())
    assert not (tmp_path / "tfc").exists()
