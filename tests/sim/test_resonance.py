"""The resonance sample: photon pairs of a narrow resonance, each a photon candidate of the
photon sample's detector, in both domains."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from datrig.data.manifest import MANIFEST, dataset_file
from datrig.data.reader import open_dataset, read_rows
from datrig.errors import DatrigError, SchemaError
from datrig.sim.config import GeneratorConfig, ResonanceConfig, config_from_dict
from datrig.sim.resonance import resonance_chunk, sample_mass
from datrig.sim.simulate import simulate


def _pair_mass(rows: np.ndarray, energy: str) -> np.ndarray:
    """sqrt(2 E1 E2 (1 - cos)) of consecutive rows, the angle from (eta, phi), by hand."""
    e = rows[energy].astype(np.float64).reshape(-1, 2)
    eta = rows["eta"].astype(np.float64).reshape(-1, 2)
    phi = rows["phi"].astype(np.float64).reshape(-1, 2)
    px, py, pz = np.cos(phi) / np.cosh(eta), np.sin(phi) / np.cosh(eta), np.tanh(eta)
    cos = px[:, 0] * px[:, 1] + py[:, 0] * py[:, 1] + pz[:, 0] * pz[:, 1]
    return np.sqrt(2 * e[:, 0] * e[:, 1] * (1 - cos))


@pytest.fixture(scope="module")
def sim_rows(toy_dir):
    return read_rows(dataset_file(toy_dir, "resonance", "sim"))


def test_pairs_rebuild_the_true_mass(sim_rows):
    """Rows 2k, 2k+1 are one decay: their true energies and directions give m_true."""
    m_true = sim_rows["m_true"].reshape(-1, 2)
    assert np.array_equal(m_true[:, 0], m_true[:, 1])
    np.testing.assert_allclose(_pair_mass(sim_rows, "e_true"), m_true[:, 0], rtol=2e-4)
    assert np.array_equal(sim_rows["mu"][0::2], sim_rows["mu"][1::2])  # one crossing


def test_photons_are_prompt_and_inside_the_photon_samples_acceptance(sim_rows):
    pc = GeneratorConfig().photons
    pt_true = sim_rows["e_true"] / np.cosh(sim_rows["eta"])
    abs_eta = np.abs(sim_rows["eta"])
    assert np.all(sim_rows["label"] == 1)
    assert pt_true.min() >= pc.pt_min * (1 - 1e-5) and pt_true.max() <= pc.pt_max * (1 + 1e-5)
    assert abs_eta.max() < pc.eta_max
    assert not np.any((abs_eta > pc.crack[0]) & (abs_eta < pc.crack[1]))


def test_true_mass_is_the_z_lineshape(sim_rows):
    """Breit-Wigner of the Z inside +-10 GeV: median at the pole, quartiles at
    +-Gamma/2 tan(L/2) with L = arctan(10 GeV / (Gamma/2)) (the truncated Cauchy's, by hand)."""
    rc = ResonanceConfig()
    m = sim_rows["m_true"][0::2].astype(np.float64)
    limit = np.arctan(rc.mass_window / (rc.width / 2))
    q75 = rc.width / 2 * np.tan(limit / 2)
    assert abs(np.median(m) - rc.mass) < 0.05
    assert abs(np.quantile(m, 0.75) - np.quantile(m, 0.25) - 2 * q75) < 0.1
    assert np.all(np.abs(m - rc.mass) <= rc.mass_window)


def test_zero_width_gives_the_pole_mass():
    rc = ResonanceConfig(mass=125.0, width=0.0)
    assert np.all(sample_mass(np.random.default_rng(1), 100, rc) == 125.0)


def test_data_peak_is_lower_than_simulation(toy_dir, sim_rows):
    """More upstream material and leakage in data: the raw-energy peak sits lower."""
    data_rows = read_rows(dataset_file(toy_dir, "resonance", "data"))
    raw_sim = np.median(_pair_mass(sim_rows, "e_raw"))
    raw_data = np.median(_pair_mass(data_rows, "e_raw"))
    assert raw_data < raw_sim * 0.995


def test_same_seed_same_bytes_and_photon_files_keep_their_config(tmp_path):
    simulate(tmp_path / "a", 100, 10, 3, progress=False, n_resonance=60)
    simulate(tmp_path / "b", 100, 10, 3, progress=False, n_resonance=60)
    for name in ("resonance_sim.h5", "resonance_data.h5"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    info = open_dataset(tmp_path / "a" / "resonance_sim.h5")
    assert info.kind == "resonance" and info.n_rows == 120 and info.n_cells is None
    assert "resonance" in info.config
    # the photon files record the config without the resonance section, as before it existed
    assert "resonance" not in open_dataset(tmp_path / "a" / "photons_sim.h5").config


def test_a_dataset_without_resonance_files_is_one_clear_line(tmp_path):
    simulate(tmp_path / "d", 100, 10, 3, progress=False, n_resonance=5)
    manifest = json.loads((tmp_path / "d" / MANIFEST).read_text())
    for domain in ("sim", "data"):  # as an older datrig wrote it
        del manifest["files"][f"resonance_{domain}.h5"]
        (tmp_path / "d" / f"resonance_{domain}.h5").unlink()
    (tmp_path / "d" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SchemaError, match=r"no resonance sample, only diphoton \+ photons .*older"):
        dataset_file(tmp_path / "d", "resonance", "data")


def test_odd_rows_are_refused(tmp_path):
    with pytest.raises(DatrigError, match="photon pairs"):
        resonance_chunk(np.random.default_rng(1), 3, GeneratorConfig(), "sim")
    with pytest.raises(DatrigError, match="chunk_rows must be even"):
        simulate(tmp_path / "x", 10, 10, 1, config_from_dict({"chunk_rows": 7}), progress=False)
    path = tmp_path / "odd.h5"
    simulate(tmp_path / "y", 10, 10, 1, progress=False, n_resonance=2)
    rows = read_rows(tmp_path / "y" / "resonance_sim.h5")[:3]
    with h5py.File(tmp_path / "y" / "resonance_sim.h5", "r") as src, h5py.File(path, "w") as fh:
        for key, value in src.attrs.items():
            fh.attrs[key] = value
        fh.attrs["n_rows"] = 3
        fh.create_dataset("candidates", data=rows)
    with pytest.raises(SchemaError, match="odd number of rows"):
        open_dataset(path)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"resonance": {"mass": -1.0}}, "resonance.mass must be > 0"),
        ({"resonance": {"mass_window": 200.0}}, "resonance.mass_window must be in"),
        ({"resonance": {"width": -0.1}}, "resonance.width must be >= 0"),
        ({"resonance": {"pt_shape": 0.0}}, "resonance.pt_shape must be > 0"),
    ],
)
def test_resonance_config_is_validated(values, needle):
    with pytest.raises(DatrigError, match=needle):
        config_from_dict(values)
