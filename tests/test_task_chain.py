"""A physicist's own samples through the whole chain, from one task file (issue 28).

The toy is written as ROOT ntuples with other column names (scripts/toy_to_ntuple.py):
signed MC weights with exact-cancelling label-flipped pairs in simulation, and a data file
with no label, no truth and no weight. Every step runs as the command a user types, in a new
process: qat --task, export --run, emulate and verify on the ROOT data file, calibrate on the
unlabelled data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import uproot

ROOT = Path(__file__).resolve().parents[1]
TASK = """\
name: my_photon_id
kind: classification
sources:
  sim:  {files: [mc.root], tree: photons}
  data: {files: [data.root], tree: photons}
inputs:
  - {column: ph_pt, transform: log}
  - {column: ph_eta, transform: abs}
  - ph_rhad
  - ph_reta
  - ph_rphi
  - ph_weta2
  - ph_wstot
  - ph_eratio
  - ph_f1
label: ph_isPrompt == 1
weight: mcWeight
protected: ph_topoetcone20
condition: ph_pt
model: {epochs: 3, batch_size: 512}
calibration: {gap: 2.0, control_efficiency: 0.9}
"""


def datrig(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "datrig.cli", *argv], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def ntuples(tmp_path_factory) -> Path:
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("task_chain")
    simulate(root / "toy", 20000, 100, n_resonance=100, seed=21, progress=False)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "toy_to_ntuple.py"), "--data", str(root / "toy"),
         "--out", str(root), "--format", "root"],
        check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    (root / "task.yml").write_text(TASK)
    return root


def test_the_ntuples_are_a_users_own(ntuples):
    mc = uproot.open(ntuples / "mc.root")["photons"]
    data = uproot.open(ntuples / "data.root")["photons"]
    assert {"ph_isPrompt", "mcWeight"} <= set(mc.keys())
    assert not {"ph_isPrompt", "mcWeight", "ph_truth_e"} & set(data.keys())
    w = mc["mcWeight"].array(library="np")
    assert (w < 0).sum() > 1000  # the cancelling pairs' negative halves


def test_a_task_runs_from_training_to_a_calibration_of_unlabelled_data(ntuples):
    d = ntuples
    datrig("qat", "--task", "task.yml", "--da", "none", "--out", "runs/none", "--quiet", cwd=d)
    metrics = json.loads((d / "runs/none/metrics.json").read_text())
    assert metrics["quant"]["sim"]["rejection_at_80"] > 3  # weighted: the pairs cancel
    assert "data" not in metrics["quant"] or "auc" not in metrics["quant"]["data"]  # no truth
    datrig("export", "--run", "runs/none", "--out", "prj", cwd=d)
    datrig("emulate", "--project", "prj", "--input", "data.root", "--out", "scores.root", cwd=d)
    friend = uproot.open(d / "scores.root")["datrig"]
    assert friend.num_entries == uproot.open(d / "data.root")["photons"].num_entries
    np.testing.assert_array_equal(friend["entry"].array(library="np"), np.arange(20000))
    datrig("emulate", "--project", "prj", "--input", "data.root", "--out", "scores.npy", cwd=d)
    np.testing.assert_array_equal(
        np.load(d / "scores.npy")[:, 0], friend["datrig_out"].array(library="np")
    )
    proc = datrig("verify", "--project", "prj", "--input", "data.root", cwd=d)
    assert "0 of 20000 events differ bit for bit" in proc.stdout
    datrig("validate", "--model", "my_photon_id", "--runs", "runs/none", "--out", "val",
           "--peers", cwd=d)  # fmt: skip
    report = (d / "val/report.md").read_text()
    assert "| firmware | sim |" in report and (d / "val/roc.png").is_file()
    datrig("calibrate", "--run", "runs/none", "--data", "data.root", "--out", "cal", cwd=d)
    text = (d / "cal/report.md").read_text()
    assert "Closure: not available (no truth in data)" in text
    doc = json.loads((d / "cal/calibration.json").read_text())
    measured = [b for b in doc["none"]["bins"] if "not_measured" not in b]
    assert measured, doc["none"]["bins"]
    for b in measured:
        assert b["closure"] == "not available (no truth in data)"
        assert b["scale_factor"]["truth"] == "not available (no truth in data)"
        assert np.isfinite(b["efficiency"]["data_measured"]["value"])
    assert "NaN" not in (d / "cal/calibration.json").read_text()
    with h5py.File(d / "cal/per_event.h5") as fh:
        assert "label" not in fh["none/data"]  # nothing of the data's truth is kept
        assert len(fh["none/data/entry"]) == 20000


def test_a_task_network_carries_its_threshold_table_into_firmware(ntuples):
    """`--da ddt --penalty-option table_bins=4`: the closed-form DDT table, fitted on the
    user's signed-weight events, is part of the exported firmware (emulator == C-sim on the
    unlabelled data), and the firmware's outputs are the run's own, bit for bit."""
    from datrig.emulate.runner import emulate
    from datrig.ir.io import load_ir
    from datrig.project.inputs import read_inputs

    d = ntuples
    datrig("qat", "--task", "task.yml", "--da", "ddt", "--penalty-option", "table_bins=4",
           "--out", "runs/table", "--quiet", cwd=d)  # fmt: skip
    datrig("export", "--run", "runs/table", "--out", "prj_table", cwd=d)
    proc = datrig("verify", "--project", "prj_table", "--input", "data.root", cwd=d)
    assert "0 of 20000 events differ bit for bit" in proc.stdout
    predictions = d / "runs/table/predictions_test.h5"
    with h5py.File(predictions) as fh:
        run_output = fh["output_quant"][:].reshape(-1)
    firmware = emulate(load_ir(d / "prj_table"), read_inputs(predictions)).output.reshape(-1)
    differ = int(np.count_nonzero(firmware != run_output))
    assert differ == 0, f"{differ} of {len(run_output)} test events differ"
    kinds = [layer.kind for layer in load_ir(d / "prj_table").layers]
    assert kinds[-1] == "merge"  # s - t, in the firmware


def test_a_task_bdt_goes_to_verified_firmware(ntuples):
    """`model: {kind: bdt}`: trees grown on the user's weighted ROOT samples, the DDT map
    fitted with signed weights, conifer's C-sim and both VHDL designs equal to the emulator."""
    task = TASK.replace(
        "model: {epochs: 3, batch_size: 512}", "model: {kind: bdt, trees: 8, depth: 3}"
    ).replace("name: my_photon_id", "name: my_photon_bdt")
    (ntuples / "task_bdt.yml").write_text(task)
    proc = subprocess.run(
        [sys.executable, "-m", "datrig.cli", "hls", "--task", "task_bdt.yml", "--no-synth",
         "--events", "3000", "--seed", "2"],
        cwd=ntuples, capture_output=True, text=True, check=False, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads((ntuples / "hls_projects" / "my_photon_bdt" / "report.json").read_text())
    assert report["trees"] == 8 and report["threshold_map"] is not None
    for name, design in report["designs"].items():
        assert design["rtl_vs_emulator"]["n_mismatch"] == 0, name
    assert report["verification"]["csim_vs_emulator"]["n_mismatch"] == 0
    metrics = json.loads((ntuples / "runs" / "my_photon_bdt" / "ddt" / "metrics.json").read_text())
    assert metrics["quant"]["sim"]["auc"] > 0.8
