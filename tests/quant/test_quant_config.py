from __future__ import annotations

import pytest

from datrig.errors import DatrigError
from datrig.quant.config import LayerBits, QuantConfig


def test_layer_overrides_and_roundtrip():
    cfg = QuantConfig(overrides={"fc2": {"weight": 4}})
    assert cfg.layer("fc1") == LayerBits(8, 12, 8)
    assert cfg.layer("fc2") == LayerBits(4, 12, 8)
    assert QuantConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.with_bits(6).layer("fc1") == LayerBits(6, 12, 6)


@pytest.mark.parametrize(
    "kwargs", [{"weight_bits": 1}, {"act_bits": 40}, {"overrides": {"fc1": {"wieght": 4}}}]
)
def test_bad_config_is_a_clear_error(kwargs):
    with pytest.raises(DatrigError):
        QuantConfig(**kwargs)


def test_unknown_key_is_a_clear_error():
    with pytest.raises(DatrigError, match="unknown quantization settings"):
        QuantConfig.from_dict({"input_bitz": 8})
