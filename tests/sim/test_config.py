from __future__ import annotations

import pytest

from datrig.errors import DatrigError
from datrig.sim.config import GeneratorConfig, config_from_dict, load_config


def test_defaults_roundtrip_through_dict():
    cfg = GeneratorConfig()
    assert config_from_dict(cfg.to_dict()) == cfg


def test_partial_override_keeps_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  material_scale: 1.3\nchunk_rows: 500\n")
    cfg = load_config(path)
    assert cfg.data.material_scale == 1.3 and cfg.chunk_rows == 500
    assert cfg.data.mu_mean == GeneratorConfig().data.mu_mean
    assert cfg.sim == GeneratorConfig().sim


@pytest.mark.parametrize(
    "values, needle",
    [
        ({"sim": {"middle_width": 1.0}}, "sim.middle_width"),
        ({"detectr": {}}, "detectr"),
        ({"photons": {"pt_min": "twenty"}}, "photons.pt_min must be a number"),
        ({"photons": {"pt_min": 300.0}}, "pt_min"),
        ({"data": {"material_scale": -1}}, "data.material_scale"),
        ({"photons": {"crack": [1.0]}}, "photons.crack"),
        ({"sim": 3}, "sim must be a mapping"),
        ({"diphoton": {"ttgg_fraction": 1.5}}, "diphoton.ttgg_fraction"),
        ({"diphoton": {"continuum": {"extra_jet_ratio": 1.0}}}, "diphoton.continuum.extra_jet"),
        ({"diphoton": {"ttgg": {"ptgg_over_m": 0.0}}}, "diphoton.ttgg.ptgg_over_m"),
        ({"diphoton": {"activity": {"b_tag_efficiency": 2}}}, "diphoton.activity.b_tag"),
        ({"diphoton": {"signal": {"jets": 3}}}, "diphoton.signal.jets"),
    ],
)
def test_bad_configs_name_the_key(values, needle):
    with pytest.raises(DatrigError) as exc:
        config_from_dict(values)
    assert needle in str(exc.value).replace("'", "")


def test_unreadable_and_malformed(tmp_path):
    with pytest.raises(DatrigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatrigError, match="not valid"):
        load_config(bad)
