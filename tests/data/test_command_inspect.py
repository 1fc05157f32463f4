"""``datrig inspect``: summary for a good file, one error line for a bad one."""

from __future__ import annotations

from datrig.cli import main
from datrig.sim.simulate import simulate


def test_inspect_good_and_bad(tmp_path, capsys):
    simulate(tmp_path, 300, 100, 1, progress=False)
    assert main(["inspect", str(tmp_path / "photons_sim.h5")]) == 0
    out = capsys.readouterr().out
    assert "300 rows" in out and "domain sim" in out and "e_raw" in out and "[GeV]" in out
    assert "prompt photons" in out
    assert main(["inspect", str(tmp_path / "diphoton_data.h5")]) == 0
    assert "signal" in capsys.readouterr().out
    bad = tmp_path / "bad.h5"
    bad.write_text("x")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not an HDF5 file" in err and len(err.splitlines()) == 1


def test_w2_inspect_refuses_nan_in_cells(tmp_path, capsys):
    """inspect checked every table field for NaN, but not the cells."""
    import h5py
    import numpy as np

    simulate(tmp_path, 300, 100, 1, progress=False)
    path = tmp_path / "photons_sim.h5"
    with h5py.File(path, "r+") as fh:
        fh["cells"][123, 4, 0] = np.nan
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    expected = f"{path}: field 'cells' has 1 NaN/inf value(s); re-create the file"
    assert err == f"datrig inspect: error: {expected}"
