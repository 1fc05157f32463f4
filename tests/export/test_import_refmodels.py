"""``datrig import`` of third-party-style QONNX models: QKeras jet tagger, FINN TFC nets, fp8.

Each test runs on the graph built in :mod:`tests.qonnx_models` (always) and, when this machine
has ``../shared/refmodels``, also on the real third-party file (an optional resource, like an
optional tool: its manifest forbids copying the files into the repository). Every import is
also used from a fresh process, as a user would after ``datrig import``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError, VerificationError
from datrig.project.config import FirmwareConfig, VerificationSettings
from tests.qonnx_models import finn_style_mlp, fp8_linear, qkeras_style_jet_tagger, real_refmodel

FW = FirmwareConfig(verification=VerificationSettings(n_events=1000, input_range=4.0))
REAL = {
    "jet": real_refmodel("jettagging_qkeras/qkeras_jettagging.onnx"),
    "fp8": real_refmodel("qonnx_fp8_linear/qonnx_act_weight_fp8.onnx"),
    "tfc1w1a": real_refmodel("tfc_mnist/TFC_1W1A.onnx"),
    "tfc1w2a": real_refmodel("tfc_mnist/TFC_1W2A.onnx"),
    "tfc2w2a": real_refmodel("tfc_mnist/TFC_2W2A.onnx"),
}
BUILT = {
    "jet": qkeras_style_jet_tagger,
    "fp8": fp8_linear,
    "tfc1w1a": finn_style_mlp,
    "tfc1w2a": lambda path: finn_style_mlp(path, binary_acts=False),
    "tfc2w2a": lambda path: finn_style_mlp(path, binary_weights=False, binary_acts=False),
}


def sources(name: str) -> list[str]:
    """``generated`` always; ``real`` too when the third-party file is on this machine."""
    return ["generated"] + (["real"] if REAL[name] is not None else [])


def model_file(name: str, source: str, tmp_path: Path) -> Path:
    if source == "real":
        return REAL[name]
    return BUILT[name](tmp_path / f"{name}.onnx")


@pytest.mark.parametrize("source", sources("fp8"))
def test_fp8_floatquant_is_refused_by_name(source: str, tmp_path: Path) -> None:
    from datrig.cli import main
    from datrig.export.project import export_qonnx_model

    onnx_path = model_file("fp8", source, tmp_path)
    out = tmp_path / "fp8"
    assert main(["import", str(onnx_path), "--name", "fp8", "--out", str(out)]) == 2
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


def _in_fresh_process(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datrig.cli", *argv], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("source", sources("jet"))
def test_jettagging_qkeras_import(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QKeras-style 16-64-32-32-5 MLP with softmax on N(0, 1) inputs: last Dense exact vs
    QONNX, softmax within the table bound, emulator == C-sim bit for bit; the imported project
    then works from a new process (no temporary path baked into its library), also moved."""
    from datrig.cli import main

    onnx_path = model_file("jet", source, tmp_path)
    x = np.random.default_rng(0).normal(size=(1000, 16))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "jet"
    args = ["import", str(onnx_path), "--name", "jet", "--out", str(out)]
    assert main([*args, "--input", str(tmp_path / "x.npy")]) == 0
    printed = capsys.readouterr().out
    assert "argmax agreement" in printed and "tolerance from stable softmax" in printed
    meta = json.loads((out / "datrig_project.json").read_text())
    _check_jet(meta["verification"], 1000)

    moved = tmp_path / "elsewhere" / "jet_copy"
    moved.parent.mkdir()
    out.rename(moved)
    for command in ("csim", "emulate"):
        y = tmp_path / f"{command}.npy"
        proc = _in_fresh_process(
            command, "--project", str(moved), "--input", str(tmp_path / "x.npy"), "--out", str(y)
        )
        assert proc.returncode == 0, proc.stderr
    n_diff = int(
        np.count_nonzero(np.load(tmp_path / "csim.npy") != np.load(tmp_path / "emulate.npy"))
    )
    assert n_diff == 0, f"{n_diff} outputs differ between C-sim and emulator"
    proc = _in_fresh_process("verify", "--project", str(moved), "--events", "3000")
    assert proc.returncode == 0 and "0 of 3000 events differ" in proc.stdout, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("source", sources("jet"))
def test_jettagging_qkeras_default_random_inputs(source: str, tmp_path: Path) -> None:
    """The 1000-event default: seeded uniform inputs over +-input_range."""
    from datrig.export.project import export_qonnx_model

    onnx_path = model_file("jet", source, tmp_path)
    result = export_qonnx_model(onnx_path, "jet", tmp_path / "jet", FW, seed=1)
    _check_jet({c.name: c.to_json() for c in result.comparisons}, 1000)


def _tfc_inputs(source: str) -> np.ndarray:
    if source == "real":
        x = np.load(real_refmodel("tfc_mnist/finn_build_dataflow_input.npy")) / 255.0
        return x.transpose(0, 2, 3, 1)  # project layout: channels-last (N, 28, 28, 1)
    return np.random.default_rng(0).uniform(0, 1, (4, 784))


@pytest.mark.parametrize("source", sources("tfc1w1a"))
def test_tfc_binary_network_is_refused_by_layer(source: str, tmp_path: Path) -> None:
    from datrig.export.project import export_qonnx_model

    onnx_path = model_file("tfc1w1a", source, tmp_path)
    with pytest.raises(DatrigError, match=r"layer bnbt_\w+ .BatchNormalizationQuantizedTanh"):
        export_qonnx_model(onnx_path, "tfc", tmp_path / "tfc", FW, inputs=_tfc_inputs(source))
    assert not (tmp_path / "tfc").exists()


@pytest.mark.parametrize("source", sources("tfc2w2a"))
def test_non_power_of_two_scales_are_named_with_what_to_do(source: str, tmp_path: Path) -> None:
    """hls4ml converts a 2-bit net with non-power-of-two scales and BatchNorm, but only
    approximately: the C-sim differs from QONNX, and the message says why and what to do
    instead of blaming an emulator bug (issue 9.12). Nothing is handed over."""
    from datrig.export.project import export_qonnx_model

    onnx_path = model_file("tfc2w2a", source, tmp_path)
    with pytest.raises(VerificationError) as exc:
        export_qonnx_model(onnx_path, "tfc", tmp_path / "tfc", FW, inputs=_tfc_inputs(source))
    message = str(exc.value)
    assert "qonnx_vs_csim" in message and "bug" not in message
    if source == "generated":  # scales 0.37, 0.61
        assert "not quantized with power-of-two scales (Quant_" in message
        assert "Retrain with power-of-two (fixed-point) quantizers" in message
    else:  # FINN's net: power-of-two quantizers, but BatchNorm applied as constants
        assert "apply BatchNorm/scales as fixed-point constants" in message
    assert not (tmp_path / "tfc").exists()


@pytest.mark.parametrize("source", sources("tfc1w2a"))
def test_binary_weights_are_refused_by_layer(source: str, tmp_path: Path) -> None:
    from datrig.export.project import export_qonnx_model

    onnx_path = model_file("tfc1w2a", source, tmp_path)
    with pytest.raises(DatrigError, match=r"layer Dense_MatMul_0 uses a binary/ternary"):
        export_qonnx_model(onnx_path, "tfc", tmp_path / "tfc", FW, inputs=_tfc_inputs(source))
    assert not (tmp_path / "tfc").exists()
