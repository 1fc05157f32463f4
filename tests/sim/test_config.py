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


def test_t3_nan_in_a_generator_config_is_one_line(tmp_path, capsys):
    """`mu_mean: .nan` passed every range check and failed deep in numpy ("lam value too
    large") with a traceback."""
    from datrig.cli import main

    path = tmp_path / "gen.yaml"
    path.write_text("data:\n  mu_mean: .nan\n")
    assert main(["simulate", "--out", str(tmp_path / "o"), "--n", "50", "--config", str(path),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["datrig simulate: error: config key data.mu_mean must be a finite number, "
                   "got nan"], err  # fmt: skip
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "values, needle",
    [
        ({"detector": {"noise_middle": -1}}, "detector.noise_middle must be >= 0, got -1"),
        ({"detector": {"width_core_middle": 0}}, "detector.width_core_middle must be > 0, got 0"),
        ({"detector": {"tail_fraction": 1.5}}, "detector.tail_fraction must be in [0, 1]"),
        ({"chunk_rows": 1.5}, "chunk_rows must be an integer, got 1.5"),
        ({"photons": {"crack": [1.37, float("inf")]}}, "photons.crack must be a finite number"),
    ],
)
def test_w6_detector_values_and_chunk_rows_are_validated(values, needle):
    """noise -1, a zero core width and chunk_rows 1.5 were accepted (Reta then ranged from
    -19.7 to 51.2)."""
    with pytest.raises(DatrigError) as exc:
        config_from_dict(values)
    assert needle in str(exc.value)
