"""Exported QONNX graphs of every model use only power-of-two scales and zero point 0."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from datrig.models.registry import MODELS, network_models
from datrig.quant.config import QuantConfig
from datrig.quant.pot import is_power_of_two, non_pot_quant_nodes


def test_is_power_of_two():
    np.testing.assert_array_equal(
        is_power_of_two(np.array([1.0, 0.5, 2.0**-13, 3.0, 0.0, -0.5, 0.1])),
        [True, True, True, False, False, False, False],
    )


def _model_config(name: str) -> dict:
    spec = MODELS[name]
    cfg = {
        "n_inputs": 4 if spec.inputs == "cells" else len(spec.feature_names),
        "hidden": list(spec.hidden),
        "quant": QuantConfig(overrides={"fc_out": {"weight": 6}}).to_dict(),
        "output_init": spec.output_init,
    }
    if spec.inputs == "cells":
        cfg["n_cells"] = 32
    return cfg


@pytest.mark.parametrize("name", sorted(network_models()))
def test_exported_quant_nodes_are_power_of_two(name, tmp_path):
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    cfg = _model_config(name)
    model = MODELS[name].build(cfg).eval()
    shape = (1, cfg["n_inputs"], cfg["n_cells"]) if "n_cells" in cfg else (1, cfg["n_inputs"])
    path = tmp_path / f"{name}.onnx"
    export_qonnx(model, torch.randn(shape), export_path=str(path))
    proto = onnx.load(path)
    quant_nodes = [n for n in proto.graph.node if n.op_type == "Quant"]
    assert len(quant_nodes) >= 4
    assert non_pot_quant_nodes(proto) == []


def test_non_pot_scale_is_detected(tmp_path):
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloatMinMaxInit

    act = QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, min_val=-3.3, max_val=3.3)
    model = torch.nn.Sequential(act).eval()  # float scale 3.3/127
    path = tmp_path / "float_scale.onnx"
    export_qonnx(model, torch.randn(1, 3), export_path=str(path))
    assert len(non_pot_quant_nodes(onnx.load(path))) == 1
