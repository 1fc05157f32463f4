"""End to end: Brevitas -> QONNX -> hls4ml project -> C-sim == QONNX == emulator, bit for bit.

Four g++ compilations in total (module-scoped fixtures): an MLP classifier defined here, the
registry's MLP (regression head) and Deep Sets networks from datrig.models, one of them with a
single node and a head (photon_id_gnn's layout: the cell window as one node).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError, SchemaError, ToolMissingError
from datrig.project.config import FirmwareConfig, VerificationSettings

torch = pytest.importorskip("torch")

FW = FirmwareConfig(verification=VerificationSettings(n_events=1500, input_range=12.0))


def _classifier() -> torch.nn.Module:
    import brevitas.nn as qnn
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Int16Bias,
        Uint8ActPerTensorFixedPoint,
    )

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = qnn.QuantIdentity(
                act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True
            )
            kw = {"weight_quant": Int8WeightPerTensorFixedPoint, "weight_bit_width": 6}
            self.fc1 = qnn.QuantLinear(12, 16, bias_quant=Int16Bias, **kw)
            self.relu = qnn.QuantReLU(
                act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True
            )
            self.fc2 = qnn.QuantLinear(16, 1, bias_quant=Int16Bias, **kw)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.relu(self.fc1(self.inp(x))))

    return Net()


def _calibrate(model: torch.nn.Module, shape: tuple[int, ...], scale: float) -> None:
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(128, *shape) * scale)
    model.eval()


def _export(model: torch.nn.Module, shape: tuple[int, ...], tmp: Path, name: str):
    from datrig.export.project import export_qonnx_model
    from datrig.export.qonnx import brevitas_to_qonnx

    onnx_path = brevitas_to_qonnx(model, torch.randn(1, *shape), tmp / f"{name}.onnx")
    return export_qonnx_model(onnx_path, name, tmp / name, FW, seed=3)


@pytest.fixture(scope="module")
def mlp_project(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    model = _classifier()
    _calibrate(model, (12,), 3.0)
    return _export(model, (12,), tmp_path_factory.mktemp("mlp"), "mlp_cls")


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory: pytest.TempPathFactory):
    from datrig.models.mlp import QuantMLP
    from datrig.quant.config import QuantConfig

    model = QuantMLP(8, (16, 8), QuantConfig(weight_bits=6), output_init=1.0)
    _calibrate(model, (8,), 2.0)
    return _export(model, (8,), tmp_path_factory.mktemp("reg"), "mlp_reg")


@pytest.fixture(scope="module")
def deepsets_project(tmp_path_factory: pytest.TempPathFactory):
    from datrig.models.deepsets import QuantDeepSets
    from datrig.quant.config import QuantConfig

    model = QuantDeepSets(4, 8, (8, 4), QuantConfig())
    _calibrate(model, (4, 8), 2.0)
    return _export(model, (4, 8), tmp_path_factory.mktemp("ds"), "deepsets")


@pytest.fixture(scope="module")
def window_project(tmp_path_factory: pytest.TempPathFactory):
    """One node (the pooling is the identity) with learned bit widths and a head after it."""
    from datrig.models.deepsets import QuantDeepSets
    from datrig.quant.config import QuantConfig

    model = QuantDeepSets(24, 1, (8,), QuantConfig(learned_bits=True), head_widths=(4,))
    _calibrate(model, (24, 1), 2.0)
    return _export(model, (24, 1), tmp_path_factory.mktemp("win"), "window")


@pytest.mark.parametrize(
    "which", ["mlp_project", "regression_project", "deepsets_project", "window_project"]
)
def test_project_is_verified_bit_exact(which: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(which)
    by_name = {c.name: c for c in result.comparisons}
    for name in ("qonnx_vs_csim", "emulator_vs_csim"):
        assert by_name[name].n_events == 1500
        assert by_name[name].n_mismatch == 0, by_name[name].message()
        assert by_name[name].atol == 0.0
    meta = json.loads((result.project_dir / "datrig_project.json").read_text())
    assert meta["verification"]["emulator_vs_csim"]["n_mismatch"] == 0
    assert meta["source"]["kind"] == "onnx" and len(meta["source"]["sha256"]) == 64
    assert meta["firmware_config"]["part"] == "xcvu13p-flga2577-2-e"
    assert result.meta.csim.traced_layers  # the library can name a diverging layer
    for f in ("emulator_ir.json", "emulator_ir.npz", "model_qonnx.onnx", "firmware/myproject.cpp"):
        assert (result.project_dir / f).is_file(), f
    assert not list(result.project_dir.parent.glob(".datrig-tmp-*"))


def test_input_type_comes_from_first_quantizer(mlp_project) -> None:
    types = json.loads((mlp_project.project_dir / "datrig_project.json").read_text())["types"]
    input_t = types["global_in"]["result_t"]  # Brevitas names the graph input global_in
    assert "RND_CONV" in input_t and "SAT" in input_t, input_t


def test_deepsets_project_is_channels_last(deepsets_project, window_project) -> None:
    meta = deepsets_project.meta
    assert meta.input_shape == (8, 4)  # (n_cells, n_features), as predictions_test.h5
    assert meta.reference_input_shape == (4, 8)
    assert window_project.meta.input_shape == (1, 24)


def _load(result):
    from datrig.project.meta import FirmwareProject

    return FirmwareProject.load(result.project_dir)


def test_reloaded_library_matches_and_verify_passes(mlp_project) -> None:
    from datrig.project.verify import seeded_inputs

    project = _load(mlp_project)
    x = np.random.default_rng(5).uniform(-12, 12, size=(300, 12))
    y = project.csim(x)
    assert y.shape == (300, 1)
    result = project.verify(seeded_inputs((12,), 3000, 12.0, seed=9))
    assert result.ok and result.n_events == 3000


def test_verify_reports_tampered_emulator(mlp_project, tmp_path: Path) -> None:
    """A corrupted IR weight must be caught, with the count and the first diverging layer
    (traced by the project's own library: no reconversion, no g++)."""
    import shutil

    from datrig.errors import VerificationError
    from datrig.ir.io import load_ir, save_ir
    from datrig.project.meta import FirmwareProject
    from datrig.project.verify import seeded_inputs

    copy = tmp_path / "copy"
    shutil.copytree(mlp_project.project_dir, copy)
    ir = load_ir(copy)
    dense = next(layer for layer in ir.layers if "weight" in layer.tensors)
    dense.tensors["weight"] = dense.tensors["weight"].copy()
    dense.tensors["weight"].flat[0] += 1
    save_ir(ir, copy)
    with pytest.raises(
        VerificationError, match=rf"events differ.*first diverging layer: {dense.name}"
    ):
        FirmwareProject.load(copy).verify(seeded_inputs((12,), 500, 12.0, seed=2))


def test_wrong_input_shape_is_a_clear_error(mlp_project) -> None:
    project = _load(mlp_project)
    with pytest.raises(SchemaError, match="each event needs 12 values"):
        project.csim(np.zeros((3, 7)))
    with pytest.raises(SchemaError, match="NaN"):
        project.csim(np.full((2, 12), np.nan))


def test_missing_gxx_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datrig.export.project import export_qonnx_model
    from datrig.export.qonnx import brevitas_to_qonnx

    model = _classifier()
    _calibrate(model, (12,), 3.0)
    onnx_path = brevitas_to_qonnx(model, torch.randn(1, 12), tmp_path / "m.onnx")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ToolMissingError, match="g\\+\\+ not found"):
        export_qonnx_model(onnx_path, "m", tmp_path / "prj", FW)
    assert not (tmp_path / "prj").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".datrig-tmp-")]


def test_unreadable_onnx(tmp_path: Path) -> None:
    from datrig.export.qonnx import load_qonnx

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SchemaError, match="not a readable ONNX model"):
        load_qonnx(bad)
    with pytest.raises(DatrigError, match="not found"):
        load_qonnx(tmp_path / "missing.onnx")


def test_scratch_export_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's exporter writes ``model.onnx.data`` beside the model; the scratch folder goes."""
    import tempfile

    from datrig.export.qonnx import brevitas_to_qonnx, temporary_onnx_path

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model = _classifier()
    _calibrate(model, (12,), 3.0)
    with temporary_onnx_path() as onnx_path:
        brevitas_to_qonnx(model, torch.randn(1, 12), onnx_path)
        assert onnx_path.is_file()
    left = [p for p in os.listdir(tmp_path) if not p.startswith("torchinductor")]  # torch's cache
    assert left == [], f"export scratch files left behind: {left}"
