"""`datrig verify --rtl`: a project's DA-RTL against the emulator on the inputs the C-sim check
takes (a .npy far beyond the input range, a datrig schema file the project never saw), in a
fresh process as a user would run it, and a wrong RTL fails the command in one line."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from datrig.cli import main
from datrig.firmware import cosim, rtl_sim, verilator


def datrig(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datrig.cli", *argv], capture_output=True, text=True, check=False
    )


@pytest.mark.tools
@pytest.mark.skipif(verilator.verilator_version() is None, reason="verilator not installed")
def test_rtl_equals_the_emulator_far_out_of_range_and_on_an_unseen_file(
    photon_id_project, tmp_path
):
    from datrig.project.meta import FirmwareProject

    case = photon_id_project
    (n_features,) = FirmwareProject.load(case.project).meta.input_shape
    rng = np.random.default_rng(4)
    far = rng.uniform(-1e6, 1e6, (3000, n_features))  # saturates the input quantizer
    far[::3] = rng.normal(0.0, 2.0, (1000, n_features))  # and some in range
    np.save(tmp_path / "far.npy", far)
    proc = datrig(
        "verify", "--project", str(case.project), "--rtl", "--input", str(tmp_path / "far.npy")
    )
    assert proc.returncode == 0, proc.stderr
    assert "rtl_vs_emulator (Verilator" in proc.stdout
    assert "0 of 3,000 events differ bit for bit" in proc.stdout
    assert "latency" in proc.stdout and "II 1" in proc.stdout and "events/s" in proc.stdout

    events = case.other_data / "photons_data.h5"  # another seed, the mismodelled domain
    proc = datrig("verify", "--project", str(case.project), "--rtl", "--input", str(events),
                  "--events", "5000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "0 of 1,500 events differ bit for bit" in proc.stdout
    assert "(the file holds only 1,500)" in proc.stdout
    assert "cached build" in proc.stdout  # the same design as above: compiled once


@pytest.mark.tools
@pytest.mark.skipif(rtl_sim.iverilog_version() is None, reason="iverilog not installed")
def test_a_wrong_rtl_fails_verify_with_the_first_differing_event(
    photon_id_project, monkeypatch, capsys
):
    """Fault injection: the output register's LSB inverted in the written Verilog."""
    real_design_for = cosim.design_for

    def faulty_design_for(*args, **kwargs):
        design = real_design_for(*args, **kwargs)
        top = design.out_dir / "src" / f"{design.top}.v"
        last = f"stage{design.n_stages - 1}_out"
        text = top.read_text()
        assert f"model_out <= {last};" in text
        top.write_text(text.replace(f"model_out <= {last};", f"model_out <= {last} ^ 1'b1;"))
        return design

    monkeypatch.setattr(cosim, "design_for", faulty_design_for)
    argv = ["verify", "--project", str(photon_id_project.project), "--rtl",
            "--rtl-tool", "iverilog", "--events", "40"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "40 of 40 events differ bit for bit (first event 0, output word 0" in err[0]


def test_verify_rtl_without_any_simulator_says_what_to_install(
    photon_id_project, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", "")
    argv = ["verify", "--project", str(photon_id_project.project), "--rtl", "--events", "10"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "neither verilator nor iverilog" in err[0] and "make tools" in err[0]


def test_default_inputs_are_topped_up_beyond_the_test_events(photon_id_project, capsys):
    """Without --input and without a run in the working directory: seeded inputs only, over
    the firmware config's input range."""
    if shutil.which("g++") is None:
        pytest.skip("needs the C-simulation")
    argv = ["verify", "--project", str(photon_id_project.project), "--events", "700"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "700 seeded uniform inputs in +-8 (seed 1)" in out
    assert "0 of 700 events differ bit for bit" in out
