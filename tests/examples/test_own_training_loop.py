"""The worked example of the DA library runs (issue 30): a user's Brevitas MLP trained in a
plain torch loop with ``datrig.da.conditional_disco_loss``, exported with Brevitas, imported
with its task, verified bit for bit on the task's ROOT data file and calibrated."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own_training_loop.py"
TASK = """\
name: example_photon
kind: classification
sources:
  sim:  {files: [mc.root], tree: photons}
  data: {files: [data.root], tree: photons}
inputs: [ph_pt, ph_eta, ph_rhad, ph_reta, ph_rphi, ph_weta2, ph_wstot, ph_eratio, ph_f1]
label: ph_isPrompt == 1
weight: mcWeight
protected: ph_topoetcone20
condition: ph_pt
calibration: {gap: 2.0, control_efficiency: 0.9}
"""


def test_the_example_uses_only_the_public_api():
    tree = ast.parse(EXAMPLE.read_text())
    modules = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names}  # fmt: skip
    assert {m for m in modules if m.startswith("datrig")} == {"datrig.da"}


def test_own_loop_to_calibrated_firmware(tmp_path):
    from datrig.sim.simulate import simulate

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    simulate(tmp_path / "toy", 20000, 100, n_resonance=100, seed=31, progress=False)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "toy_to_ntuple.py"), "--data",
                    str(tmp_path / "toy"), "--out", str(tmp_path)], check=True, env=env,
                   capture_output=True)  # fmt: skip
    (tmp_path / "task.yml").write_text(TASK)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--task", "task.yml", "--out", "fw", "--epochs", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "emulator_vs_csim: 0 of 20000 events differ bit for bit" in proc.stdout
    doc = json.loads((tmp_path / "fw_calibration" / "calibration.json").read_text())
    assert doc["imported"]["truth_in_data"] is False
    assert any("not_measured" not in b for b in doc["imported"]["bins"]), doc["imported"]["bins"]
