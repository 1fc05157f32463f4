"""FirmwareConfig parsing: shipped configs load, typos and bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from datrig.errors import SchemaError
from datrig.ir.fixed import Overflow, Rounding
from datrig.project.config import load_firmware_config, parse_firmware_config

CONFIGS = Path(__file__).resolve().parents[2] / "firmware_configs"


@pytest.mark.parametrize(
    "name", ["photon_id", "photon_energy", "diphoton", "photon_id_gnn", "default"]
)
def test_shipped_configs_load(name: str) -> None:
    cfg = load_firmware_config(CONFIGS / f"{name}.yml")
    assert cfg.part == "xcvu13p-flga2577-2-e"
    assert cfg.rounding is Rounding.RND_CONV and cfg.overflow is Overflow.SAT
    assert cfg.budget.latency_ns > 0 and cfg.verification.n_events > 0


def test_unknown_key_names_key_and_valid_ones() -> None:
    with pytest.raises(SchemaError, match=r"unknown key 'reuse'.*reuse_factor"):
        parse_firmware_config({"reuse": 2})


def test_unknown_budget_key() -> None:
    with pytest.raises(SchemaError, match=r"unknown key 'luts'.*lut"):
        parse_firmware_config({"budget": {"luts": 3}})


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"backend": "Quartus"}, "backend"),
        ({"strategy": "Fast"}, "strategy"),
        ({"reuse_factor": 0}, "reuse_factor"),
        ({"rounding": "ROUND"}, "rounding"),
        ({"default_precision": "float"}, "default_precision"),
        ({"layer_precision": {"Dense_0": {"accum": "fixed<8"}}}, "layer_precision"),
    ],
)
def test_bad_values(raw: dict, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        parse_firmware_config(raw)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"default_precision": "fixed<0,0>"}, "width 0; datrig supports 1..62"),
        ({"default_precision": "fixed<2000,40>"}, "width 2000"),
        ({"default_precision": "fixed<16,100>"}, "100 integer bits"),
        ({"layer_precision": {"fc1": {"accum": "fixed<0,0,RND,SAT>"}}}, "layer_precision.fc1"),
        ({"default_precision": "fixed<8,3,ROUND>"}, "rounding 'ROUND'"),
        ({"budget": {"latency_ns": -25}}, "budget.latency_ns must be a positive"),
        ({"budget": {"lut": -1}}, "budget.lut must be a non-negative"),
        ({"budget": {"lut": 8.6e3}}, "budget.lut must be a non-negative integer"),
        ({"budget": {"ii": 0}}, "budget.ii must be a positive"),
        ({"verification": {"input_range": -8}}, "input_range must be a positive"),
        ({"verification": {"input_range": float("nan")}}, "input_range must be a positive"),
        ({"verification": {"n_events": 0}}, "n_events must be a positive"),
        ({"part": "xc9z9000-ffg"}, "unknown FPGA part 'xc9z9000-ffg'; datrig knows"),
        ({"clock_period_ns": 0}, "clock_period_ns must be a positive"),
        ({"adder_depth_slack": 0.5}, "adder_depth_slack 0.5 is invalid; use an integer >= 0"),
    ],
)
def test_invalid_values_are_refused_at_load(raw: dict, match: str) -> None:
    """Checked when the YAML is read, never later from inside the C library (issue 9.7)."""
    with pytest.raises(SchemaError, match=match):
        parse_firmware_config(raw)


def test_precisions_become_fixed_types_once() -> None:
    from datrig.ir.fixed import FixedType

    cfg = parse_firmware_config(
        {
            "rounding": "TRN",
            "overflow": "WRAP",
            "default_precision": "fixed<16,6>",  # modes from the config's rounding/overflow
            "layer_precision": {"fc1": {"accum": "ufixed<20,8,RND_CONV,SAT>"}},
        }
    )
    assert cfg.default_precision == FixedType(16, 6, True, Rounding.TRN, Overflow.WRAP)
    assert cfg.layer_precision == {
        "fc1": {"accum_t": FixedType(20, 8, False, Rounding.RND_CONV, Overflow.SAT)}
    }


def test_device_of_each_known_part() -> None:
    assert parse_firmware_config({"part": "xcvu9p-flga2104-2L-e"}).device.lut == 1_182_240
    versal = parse_firmware_config({"part": "xcvc1902-vsva2197-2MP-e-S"}).device
    assert versal.family == "Versal AI Core" and versal.dsp == 1968


def test_round_trip_through_json() -> None:
    cfg = parse_firmware_config({"reuse_factor": 4, "rounding": "AP_RND", "overflow": "WRAP"})
    again = parse_firmware_config(cfg.to_json())
    assert again == cfg
    assert cfg.to_json()["default_precision"] == "fixed<18,8,RND_CONV,SAT>"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        load_firmware_config(tmp_path / "nope.yml")


def test_w5_an_empty_config_and_a_negative_adder_depth_slack_are_refused(tmp_path: Path) -> None:
    """An empty YAML silently got default budgets; -1 levels of slack read as 'fewer than the
    shallowest tree'. The fewest adders are asked for by name."""
    from datrig.project.config import UNCONSTRAINED_SLACK

    empty = tmp_path / "empty.yml"
    empty.write_text("# budgets to be decided\n")
    with pytest.raises(SchemaError, match="is empty: it would silently get default budgets"):
        load_firmware_config(empty)
    with pytest.raises(SchemaError, match="adder_depth_slack -1 is invalid; use an integer >= 0"):
        parse_firmware_config({"adder_depth_slack": -1})
    cfg = parse_firmware_config({"adder_depth_slack": "unconstrained"})
    assert cfg.adder_depth_slack == UNCONSTRAINED_SLACK == -1  # da4ml's hard_dc for "fewest"
    assert parse_firmware_config(cfg.to_json()) == cfg  # as stored in datrig_project.json
