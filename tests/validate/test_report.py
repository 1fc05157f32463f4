"""The report on tiny synthetic runs: layout of metrics.json, report.md, plots, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.train.predictions import load_predictions
from datrig.validate.report import RunColumns, build_report
from tests.validate.validate_toys import diphoton_runs, energy_runs, photon_id_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _grid(x: np.ndarray, frac_bits: int = 4) -> np.ndarray:
    """A firmware-like column: the output rounded half-to-even on a 2^-frac_bits grid."""
    return np.round(x * 2**frac_bits) / 2**frac_bits


def test_photon_id_report_with_firmware_column(tmp_path):
    runs = [load_predictions(r) for r in photon_id_runs(tmp_path / "runs")]
    columns = [RunColumns(p, _grid(p.output_quant)) for p in runs]
    metrics = build_report(columns, tmp_path / "rep", seed=1)
    on_disk = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    pid = on_disk["photon_id"]
    assert set(pid) == {"none", "disco", "baseline", "plane"}
    for method in ("none", "disco"):
        entry = pid[method]
        assert set(entry) == {"float", "quant", "firmware", "diff", "firmware_vs_quant"}
        for key, value in entry["diff"].items():
            if entry["firmware"][key] is not None and entry["float"][key] is not None:
                assert value == pytest.approx(entry["firmware"][key] - entry["float"][key])
        assert entry["firmware_vs_quant"]["n_events_differ"] > 0
        assert 0.5 < entry["float"]["auc_sim"] < 1.0
    # the toy's 'disco' run ignores isolation, 'none' leans on it: the metric must see that
    for key in ("rank_dcor_bkg_sim", "dcor_sigmoid_bkg_sim"):
        assert pid["disco"]["float"][key] < pid["none"]["float"][key], key
    assert len(pid["none"]["float"]["abcd_r_ptbins_sim"]) == 3
    cut = pid["baseline"]["cut_based"]
    assert abs(cut["eff_sig80_sim"] - 0.8) < 0.06
    assert "gain80_vs_cuts_sim" in pid["none"]["float"]
    assert 0.0 <= pid["none"]["float"]["rank_dcor_ptbinned_sim"] <= 1.0
    assert "independence_bound_pt" in pid["baseline"]
    bound = pid["baseline"]["independence_bound"]
    # 1000 sim fakes = 50 per isolation bin and fold: too few to estimate, so null, not a guess
    assert bound["rejection80_sim"] is None and len(bound["slice_edges"]) == 11
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "| none |" in report and "Float vs firmware, disco" in report
    assert "| baseline: independence_bound |" in report
    for name in ("roc", "score_sim_vs_data", "bkg_eff_vs_iso", "fom_rejection_vs_abcd"):
        png = tmp_path / "rep" / "photon_id" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        assert f"(photon_id/{name}.png)" in report


def test_energy_report_has_baselines_and_domain_shift(tmp_path):
    runs = [RunColumns(load_predictions(r)) for r in energy_runs(tmp_path / "runs")]
    metrics = build_report(runs, tmp_path / "rep", seed=2)["photon_energy"]
    assert set(metrics["baseline"]) == {
        "raw_energy", "standard_regression", "standard_regression_crossfit", "ceiling_gbdt",
        "ceiling_mlp", "ceiling",
    }  # fmt: skip
    assert metrics["baseline"]["ceiling"]["trained_on"] == "cross-fit on the test events"
    binned = metrics["none"]["float"]["binned_vs_abs_eta_sim"]
    assert len(binned["resolution"]) == len(binned["edges"]) - 1 == len(binned["n"])
    assert sum(binned["n"]) == 1500  # every sim event lands in one |eta| bin
    none = metrics["none"]["float"]
    assert none["response_sim"] == pytest.approx(1.0, abs=0.01)
    assert none["resolution_sim"] < metrics["baseline"]["raw_energy"]["resolution_rel_sim"]
    assert none["response_shift"] == pytest.approx(none["response_data"] - none["response_sim"])
    assert metrics["frt"]["float"]["resolution_sim"] > none["resolution_sim"]  # noisier by design
    for name in ("resolution_vs_e", "resolution_vs_eta", "response_sim_vs_data"):
        assert (tmp_path / "rep" / "photon_energy" / f"{name}.png").is_file()


def test_diphoton_report_sees_mass_sculpting(tmp_path):
    runs = [RunColumns(load_predictions(r)) for r in diphoton_runs(tmp_path / "runs")]
    metrics = build_report(runs, tmp_path / "rep", seed=1)["diphoton"]
    none, disco = metrics["none"]["float"], metrics["disco"]["float"]
    assert disco["inv_jsd50_sim"] > 2 * none["inv_jsd50_sim"]  # 'none' uses m_gg, 'disco' not
    assert none["z50_sim"] > 0 and none["rejection50_sim"] > 1
    assert none["s50_window_sim"] > 0 and none["n_bkg_pass50_sim"] > 0
    assert (tmp_path / "rep" / "diphoton" / "fom_rejection_vs_inv_jsd.png").is_file()
    assert (tmp_path / "rep" / "diphoton" / "mgg_shapes.png").is_file()


def test_same_seed_same_bytes(tmp_path):
    runs = [RunColumns(load_predictions(r)) for r in photon_id_runs(tmp_path / "runs", n=1500)]
    build_report(runs, tmp_path / "a", seed=5)
    build_report(runs, tmp_path / "b", seed=5)
    for name in ("metrics.json", "report.md", "photon_id/roc.png", "photon_id/bkg_eff_vs_iso.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_runs_with_different_test_sets_are_refused(tmp_path):
    a = load_predictions(photon_id_runs(tmp_path / "a", n=600)[0])
    b = load_predictions(photon_id_runs(tmp_path / "b", n=700)[1])
    with pytest.raises(DatrigError, match="must share a test set"):
        build_report([RunColumns(a), RunColumns(b)], tmp_path / "rep", seed=1)
