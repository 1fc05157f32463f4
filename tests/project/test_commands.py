"""Self-contained projects: the firmware runs on raw event files, in a fresh process, anywhere.

`datrig emulate/csim/verify` read datrig's photon/diphoton files directly (the project stores
its network's input variables and normalisation), a .npy of network inputs or a run's
predictions file; each command is run as a new process, as a user would after `datrig export`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from datrig.cli import main
from datrig.project.meta import FirmwareProject


def datrig(*argv: str) -> subprocess.CompletedProcess:
    """``datrig ARGV`` in a new Python process (nothing loaded by this test process)."""
    return subprocess.run(
        [sys.executable, "-m", "datrig.cli", *argv], capture_output=True, text=True, check=False
    )


def test_emulator_and_csim_agree_on_a_sample_the_project_never_saw(photon_id_project, tmp_path):
    case = photon_id_project
    events = case.other_data / "photons_data.h5"  # another seed, the mismodelled domain
    outs = {}
    for command in ("emulate", "csim"):
        out = tmp_path / f"{command}.npy"
        proc = datrig(command, "--project", str(case.project), "--input", str(events),
                      "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outs[command] = np.load(out)
    assert outs["emulate"].shape == (1500, 1)
    n_diff = int(np.count_nonzero(outs["emulate"] != outs["csim"]))
    assert n_diff == 0, f"{n_diff} of 1500 events differ between emulator and C-sim"
    proc = datrig("verify", "--project", str(case.project), "--input", str(events))
    assert proc.returncode == 0 and "0 of 1500 events differ bit for bit" in proc.stdout


def test_far_outside_the_training_range_stays_bit_exact(photon_id_project, tmp_path):
    """Shower shapes scaled far beyond anything trained on saturate the input quantizer in
    both implementations alike."""
    case = photon_id_project
    src = case.other_data / "photons_sim.h5"
    odd = tmp_path / "odd.h5"
    shutil.copy(src, odd)
    with h5py.File(odd, "r+") as fh:
        rows = fh["candidates"][:]
        for name in ("Reta", "Rphi", "weta2", "wstot", "DeltaE", "pt"):
            rows[name] *= np.float32(50.0)
        rows["Rhad"] -= np.float32(3.0)
        del fh["candidates"]
        fh.create_dataset("candidates", data=rows)
    project = FirmwareProject.load(case.project)
    x = project.read_inputs(odd)
    assert np.abs(x).max() > 20 * project.meta.firmware.verification.input_range / 8
    assert project.verify(x).ok


def test_run_test_events_from_the_schema_files_equal_the_run_outputs(photon_id_project):
    """The run's own test events, read from the schema files with the project's stored input
    definition, are the network inputs the run stored, and the firmware reproduces the run's
    quantized outputs exactly."""
    case = photon_id_project
    project = FirmwareProject.load(case.project)
    x = np.concatenate([
        project.read_inputs(case.data / f"photons_{domain}.h5", split="test")
        for domain in ("sim", "data")
    ])  # fmt: skip
    with h5py.File(case.run / "predictions_test.h5") as fh:
        stored_inputs = fh["inputs"][:]
        output_quant = fh["output_quant"][:].astype(np.float64)
    np.testing.assert_array_equal(x, stored_inputs.astype(np.float64))
    y = project.emulate(x)[:, 0]
    n_diff = int(np.count_nonzero(y != output_quant))
    assert n_diff == 0, f"{n_diff} of {len(y)} events differ from the run's quantized outputs"
    np.testing.assert_array_equal(project.csim(x)[:, 0], y)


def test_npy_and_predictions_inputs_still_work(photon_id_project, tmp_path):
    case = photon_id_project
    project = FirmwareProject.load(case.project)
    x = project.read_inputs(case.run / "predictions_test.h5", limit=100)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    assert main(["emulate", "--project", str(case.project), "--input", str(tmp_path / "x.npy"),
                 "--out", str(out)]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(out), project.emulate(x))


@pytest.mark.parametrize(
    ("make_input", "match"),
    [
        (lambda d, t: d / "diphoton_sim.h5", "holds diphoton events; this project's network"),
        (lambda d, t: t / "missing.h5", "not found"),
        (lambda d, t: _truncated(d / "photons_sim.h5", t), "not a readable HDF5 file"),
        (lambda d, t: _npy(t, np.zeros((4, 7))), r"inputs have shape \(7,\) per event"),
        (lambda d, t: _npy(t, np.full((2, 13), np.nan)), "NaN"),
    ],
)
def test_bad_inputs_are_one_line(photon_id_project, tmp_path, capsys, make_input, match):
    import re

    case = photon_id_project
    source = make_input(case.data, tmp_path)
    out = tmp_path / "y.npy"
    for command in ("emulate", "csim"):
        code = main([command, "--project", str(case.project), "--input", str(source),
                     "--out", str(out)])  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and re.search(match, err[-1]), err
        assert not out.exists()


def test_zero_or_negative_event_counts_are_errors(photon_id_project, capsys):
    for events in ("0", "-5"):
        with pytest.raises(SystemExit) as exc:
            main(["verify", "--project", str(photon_id_project.project), "--events", events])
        assert exc.value.code == 2
        assert "must be at least 1" in capsys.readouterr().err


def _truncated(src: Path, tmp: Path) -> Path:
    out = tmp / "truncated.h5"
    out.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    return out


def _npy(tmp: Path, array: np.ndarray) -> Path:
    np.save(tmp / "x.npy", array)
    return tmp / "x.npy"


LIBRARY_WITH_A_PAYLOAD = r"""
#include <stdio.h>
__attribute__((constructor)) static void payload(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) fclose(f);
}
void myproject_double(double *in, double *out) { out[0] = in[0]; }
"""


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_s4_csim_library_outside_the_project_is_never_loaded(photon_id_project, tmp_path, where,
                                                             capsys):  # fmt: skip
    """`csim.library` in datrig_project.json may point anywhere: a .so outside the project
    was loaded and its constructor ran. Now it must resolve inside the project."""
    import json
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the crafted library")
    marker, evil = tmp_path / "constructor-ran", tmp_path / "evil.so"
    source = tmp_path / "evil.c"
    source.write_text(LIBRARY_WITH_A_PAYLOAD)
    subprocess.run(["gcc", "-shared", "-fPIC", f'-DMARKER="{marker}"', str(source), "-o",
                    str(evil)], check=True)  # fmt: skip
    prj = tmp_path / "prj"
    shutil.copytree(photon_id_project.project, prj)
    meta_path = prj / "datrig_project.json"
    meta = json.loads(meta_path.read_text())
    library = {"dotdot": "../evil.so", "absolute": str(evil)}.get(where, "firmware/link.so")
    if where == "symlink":
        (prj / library).symlink_to(evil)
    meta["csim"]["library"] = library
    meta_path.write_text(json.dumps(meta))
    np.save(tmp_path / "x.npy", np.zeros((2, 13)))
    code = main(["csim", "--project", str(prj), "--input", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "y.npy")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "csim.library" in err[0] and "only use artefacts you trust" in err[0], err
    assert not marker.exists(), "the library outside the project was loaded"
    assert not (tmp_path / "y.npy").exists()
