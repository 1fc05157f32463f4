"""hls4ml ModelGraph -> NetworkIR: types, exact weight mantissas, refusal of unknown layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.export.to_ir import network_ir_from_hls4ml
from datrig.project.config import format_precision
from tests.emulate.emu_models import mlp, to_hls


@pytest.fixture(scope="module")
def hls_mlp(tmp_path_factory: pytest.TempPathFactory):
    return to_hls(mlp((6, 5, 2)), (6,), tmp_path_factory.mktemp("to_ir"))


def test_layers_types_and_exact_weights(hls_mlp) -> None:
    ir = network_ir_from_hls4ml(hls_mlp)
    assert [layer.kind for layer in ir.layers] == ["input", "linear", "dense", "relu", "dense"]
    assert ir.outputs == [ir.layers[-1].name]
    assert ir.layers[1].inputs == [ir.layers[0].name]
    for ir_layer, hls_layer in zip(ir.layers[2:], list(hls_mlp.get_layers())[2:], strict=False):
        if ir_layer.kind != "dense":
            continue
        hls_w = hls_layer.weights["weight"]
        wt = ir_layer.tensor_types["weight"]
        assert format_precision(wt).startswith(str(hls_w.type.precision).rsplit(",", 1)[0])
        # Brevitas weights lie on the weight_t grid: mantissas reproduce them exactly.
        np.testing.assert_array_equal(
            np.ldexp(ir_layer.tensors["weight"].astype(float), -wt.fractional), hls_w.data
        )
        acc = ir_layer.types["accum_t"]
        assert acc.width == hls_layer.get_attr("accum_t").precision.width


def test_sigmoid_is_converted_with_its_table(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Sequential(mlp((4, 3)), torch.nn.Sigmoid()).eval()
    ir = network_ir_from_hls4ml(to_hls(model, (4,), tmp_path))
    sigmoid = ir.layers[-1]
    assert sigmoid.kind == "sigmoid"
    table = sigmoid.tensors["table"]
    assert table.shape == (1024,) and np.all(np.diff(table) >= 0)  # monotone, as sigmoid is
    assert table[512] == 1 << (sigmoid.tensor_types["table"].fractional - 1)  # sigmoid(0) = 0.5


def test_unsupported_layer_is_named(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Sequential(mlp((4, 3)), torch.nn.ELU()).eval()
    hls_model = to_hls(model, (4,), tmp_path)
    with pytest.raises(DatrigError, match=r"elu.*not (emulated|supported)"):
        network_ir_from_hls4ml(hls_model)
