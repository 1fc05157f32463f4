"""``--bits auto``: learned bit widths under the EBOPs resource term (issue 13)."""

from __future__ import annotations

import json
import shutil

import pytest

from datrig.errors import DatrigError
from datrig.train.checkpoint import read_checkpoint
from datrig.train.loop import train

AUTO = {"quant": {"learned_bits": True}, "batch_size": 64, "epochs": 4, "n_train": 1500}


def _bits(run) -> dict:
    return json.loads((run / "config.json").read_text())["bits"]


def test_bits_auto_same_seed_same_bytes(tiny_config, tmp_path):
    cfg = tiny_config(da="none", resource_lam=1.0, **AUTO)
    train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    for name in ("checkpoint.pt", "config.json", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_resource_term_pulls_bit_widths_and_ebops_down(tiny_config, tmp_path):
    free = train(
        tiny_config(da="none", resource_lam=0.0, **AUTO), tmp_path / "free", progress=False
    )
    paid = train(
        tiny_config(da="none", resource_lam=3.0, **AUTO), tmp_path / "paid", progress=False
    )
    assert free["resource"]["ebops_at_start"] == paid["resource"]["ebops_at_start"]
    assert paid["resource"]["ebops"] < 0.8 * free["resource"]["ebops"], (free, paid)
    bits = _bits(tmp_path / "paid")
    assert bits == paid["resource"]["bits"]
    assert all(bits[f"fc{i}"]["weight"] < 8 for i in (1, 2)), bits
    assert all(bits[f"relu{i}"]["act"] < 8 for i in (1, 2)), bits
    assert paid["quant"]["sim"]["auc"] > 0.75  # still a classifier


def test_fixed_bits_report_their_cost_too(tiny_config, tmp_path):
    metrics = train(tiny_config(da="none"), tmp_path, progress=False)
    assert metrics["resource"]["ebops"] == pytest.approx(
        metrics["resource"]["ebops_at_start"], rel=0.02
    )
    assert _bits(tmp_path)["fc1"] == {"weight": 8}


def test_huge_resource_lam_stops_at_the_floor_with_a_working_network(tiny_config, tmp_path):
    """The per-tensor power-of-two scale follows each layer's largest weight, so the resource
    term alone cannot prune a layer away: it drives widths to the 2-bit floor."""
    from datrig.quant.layers import MIN_LEARNED_BITS

    metrics = train(
        tiny_config(da="none", resource_lam=1e4, **{**AUTO, "epochs": 3, "batch_size": 16}),
        tmp_path,
        progress=False,
    )
    bits = _bits(tmp_path)
    assert {bits[n]["weight"] for n in ("fc1", "fc2", "fc_out")} <= {MIN_LEARNED_BITS, 3}, bits
    assert metrics["resource"]["ebops"] < 0.2 * metrics["resource"]["ebops_at_start"]


def test_collapsed_network_is_refused_with_the_remedy(tiny_config, tmp_path):
    """A layer whose weights all quantize to zero, or one output for every event, is an error
    naming the remedy (checked before the last checkpoint marks a run complete)."""
    import torch

    from datrig.train.resource import check_not_collapsed

    cfg = tiny_config(da="none", **AUTO)
    train(cfg, tmp_path / "r", progress=False)
    payload = read_checkpoint(tmp_path / "r/checkpoint.pt")
    from datrig.models.registry import get_model_spec

    model = get_model_spec("photon_id").build(payload["model_config"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    x = torch.randn(200, payload["model_config"]["n_inputs"])
    with torch.no_grad():
        check_not_collapsed(model, model(x).numpy(), lam=0.0, resource_lam=1.0)  # it works
        model.fc2.weight.zero_()
        outputs = model(x).numpy()
    with pytest.raises(DatrigError, match=r"pruned every weight of fc2.*lower --resource-lam"):
        check_not_collapsed(model, outputs, lam=0.0, resource_lam=1.0)
    with pytest.raises(DatrigError, match=r"same output .* for all 200 validation events"):
        check_not_collapsed(model.fc1, outputs, lam=0.0, resource_lam=1.0)


def test_learned_bits_reach_the_emulator_ir(tiny_data, tmp_path):
    """The exported project's weight and activation types are the learned widths, and the
    emulator still equals the C-simulation bit for bit."""
    if shutil.which("g++") is None:
        pytest.skip("hls4ml's C-simulation needs g++")
    from datrig.cli import main

    run, prj = tmp_path / "run", tmp_path / "prj"
    assert main(["qat", "--model", "photon_id", "--da", "none", "--bits", "auto",
                 "--resource-lam", "3", "--data", str(tiny_data), "--out", str(run),
                 "--epochs", "2", "--n-train", "1500", "--batch-size", "64", "--seed", "2",
                 "--quiet"]) == 0  # fmt: skip
    assert main(["export", "--model", "photon_id", "--run", str(run), "--out", str(prj)]) == 0
    bits = _bits(run)
    ir = json.loads((prj / "emulator_ir.json").read_text())
    dense = [layer for layer in ir["layers"] if layer["kind"] == "dense"]
    relus = [layer for layer in ir["layers"] if layer["kind"] == "relu"]
    assert [d["tensor_types"]["weight"]["width"] for d in dense] == [
        bits[n]["weight"] for n in ("fc1", "fc2", "fc_out")
    ]
    assert [r["result_t"]["width"] for r in relus] == [bits[n]["act"] for n in ("relu1", "relu2")]
    meta = json.loads((prj / "datrig_project.json").read_text())
    check = meta["verification"]["emulator_vs_csim"]
    assert check["n_mismatch"] == 0 and check["n_events"] > 0
