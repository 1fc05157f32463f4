"""ensure_default_data simulates once and then serves the cache."""

from __future__ import annotations

import pytest

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


def test_only_the_samples_asked_for_then_the_rest_beside_them_byte_identical(tmp_path, capsys):
    from datrig.data.manifest import dataset_file, read_manifest
    from datrig.errors import SchemaError
    from datrig.provenance import file_sha256

    full = ensure_default_data(tmp_path / "full", seed=4, n_photons=300, n_diphoton=100,
                               progress=False)  # fmt: skip
    d = tmp_path / "default"
    ensure_default_data(d, seed=4, n_photons=300, n_diphoton=100, progress=False,
                        kinds=("photons",))  # fmt: skip
    assert sorted(p.name for p in d.glob("*.h5")) == ["photons_data.h5", "photons_sim.h5"]
    assert sorted(read_manifest(d)["files"]) == ["photons_data.h5", "photons_sim.h5"]
    with pytest.raises(SchemaError, match=r"has no resonance sample, only photons \("):
        dataset_file(d, "resonance", "sim")
    capsys.readouterr()
    ensure_default_data(d, seed=4, n_photons=300, n_diphoton=100, progress=False,
                        kinds=("photons",))  # fmt: skip
    assert "simulating" not in capsys.readouterr().err  # what was asked for is current

    inode = (d / "photons_sim.h5").stat().st_ino
    ensure_default_data(d, seed=4, n_photons=300, n_diphoton=100, progress=False,
                        kinds=("diphoton",))  # fmt: skip
    assert (d / "photons_sim.h5").stat().st_ino == inode  # carried over, not simulated again
    err = capsys.readouterr().err
    assert "diphoton_sim.h5" in err and "photons_sim.h5" not in err
    names = ["photons_sim.h5", "photons_data.h5", "diphoton_sim.h5", "diphoton_data.h5"]
    assert sorted(p.name for p in d.glob("*.h5")) == sorted(names)  # the photons kept
    for name in names:
        assert file_sha256(d / name) == file_sha256(full / name), name

    ensure_default_data(d, seed=4, n_photons=300, n_diphoton=100, progress=False)
    assert len(list(d.glob("*.h5"))) == 6
    for name in read_manifest(full)["files"]:
        assert file_sha256(d / name) == file_sha256(full / name), name
    assert (d / "simulate.json").read_bytes() == (full / "simulate.json").read_bytes()


def test_a_member_that_changed_meanwhile_is_not_carried(tmp_path):
    from datrig.errors import DatrigError
    from datrig.sim.simulate import simulate

    d = ensure_default_data(tmp_path / "d", seed=5, n_photons=200, n_diphoton=100,
                            progress=False, kinds=("photons",))  # fmt: skip
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(DatrigError, match="changed while the dataset was being rewritten"):
        simulate(d, 200, 100, 5, progress=False, kinds=("photons", "diphoton"),
                 reuse={"photons_sim.h5": "0" * 64})  # fmt: skip
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # nothing replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temporary folder left
