"""ensure_default_data simulates once and then serves the cache."""

from __future__ import annotations

from datrig.data.reader import open_dataset
from datrig.sim.default import ensure_default_data


def test_simulates_then_caches_then_resimulates_on_new_seed(tmp_path, capsys):
    d = tmp_path / "default"
    assert ensure_default_data(d, seed=2, n_photons=300, n_diphoton=100, progress=False) == d
    assert "simulating" in capsys.readouterr().err
    mtimes = {p.name: p.stat().st_mtime_ns for p in d.glob("*.h5")}
    assert len(mtimes) == 6  # photons, diphoton, resonance x (sim, data)
    ensure_default_data(d, seed=2, n_photons=300, n_diphoton=100, progress=False)
    assert "simulating" not in capsys.readouterr().err
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in d.glob("*.h5")}
    ensure_default_data(d, seed=3, n_photons=300, n_diphoton=100, progress=False)
    assert "simulating" in capsys.readouterr().err
    assert open_dataset(d / "photons_sim.h5").seed == 3


def test_damaged_file_is_resimulated(tmp_path, capsys):
    d = tmp_path / "default"
    ensure_default_data(d, seed=1, n_photons=200, n_diphoton=100, progress=False)
    (d / "diphoton_data.h5").write_text("garbage")
    capsys.readouterr()
    ensure_default_data(d, seed=1, n_photons=200, n_diphoton=100, progress=False)
    assert "diphoton_data.h5" in capsys.readouterr().err
    assert open_dataset(d / "diphoton_data.h5").n_rows == 100
