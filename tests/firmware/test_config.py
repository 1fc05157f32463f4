"""FirmwareConfig parsing: shipped configs load, typos and bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from datrig.emulate.ir import Overflow, Rounding
from datrig.errors import SchemaError
from datrig.firmware.config import load_firmware_config, parse_firmware_config

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


def test_round_trip_through_json() -> None:
    cfg = parse_firmware_config({"reuse_factor": 4, "rounding": "AP_RND", "overflow": "WRAP"})
    again = parse_firmware_config(cfg.to_json())
    assert again == cfg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        load_firmware_config(tmp_path / "nope.yml")
