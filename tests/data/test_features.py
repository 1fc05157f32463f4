"""Cell-feature builders and the cell normalisation: known moments on hand-made candidates,
old normalisations (no builder recorded) read as before, the builder travels with the fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datrig.data.features import (
    CELL_BUILDERS,
    CELL_TRANSFORMS,
    PEAK_TARGET,
    Normalisation,
    fit_cells,
    get_cell_builder,
    select_cells,
    upstream_cells,
)
from datrig.data.reader import read_cells
from datrig.data.schema import CELL_FEATURES, CELL_LAYERS
from datrig.errors import SchemaError
from datrig.sim.geometry import LAYERS
from datrig.sim.simulate import simulate


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    simulate(out, 600, 200, 5, progress=False)
    return out


def _candidate() -> np.ndarray:
    """One candidate, 4 cells: (energy, d_eta, d_phi, layer); energies sum to 10 GeV."""
    return np.array(
        [
            [
                [6.0, 0.0, 0.01, 2],  # middle
                [2.0, 0.02, 0.0, 1],  # strips
                [1.0, -0.05, 0.02, 3],  # back
                [1.0, 0.1, -0.1, 4],  # hadronic
            ]
        ],
        dtype=np.float32,
    )


def test_layer_names_match_the_simulated_geometry():
    assert tuple(layer.name for layer in LAYERS) == CELL_LAYERS
    assert [layer.index for layer in LAYERS] == list(range(len(CELL_LAYERS)))


def test_upstream_fractions_and_moments_of_a_hand_made_candidate():
    cells = _candidate()
    out = upstream_cells(cells)
    names = CELL_BUILDERS["upstream"].features
    assert out.shape == (1, 4, len(names)) == (1, 4, 10)
    col = {n: out[0, :, i] for i, n in enumerate(names)}
    f = np.array([0.6, 0.2, 0.1, 0.1])
    d_eta = cells[0, :, 1].astype(np.float64)
    d_phi = cells[0, :, 2].astype(np.float64)
    np.testing.assert_allclose(col["f"], f)
    np.testing.assert_allclose(col["f_d_eta"], f * d_eta)
    np.testing.assert_allclose(col["f_d_phi"], f * d_phi)
    np.testing.assert_allclose(col["f_d_eta2"], f * d_eta**2)
    np.testing.assert_allclose(col["f_d_phi2"], f * d_phi**2)
    # sums over cells are the shower shapes: energy-weighted centroid, second moment, layer
    # fractions (the mean pooling of the network sees these divided by n_cells)
    assert col["f"].sum() == pytest.approx(1.0)
    assert col["f_d_eta"].sum() == pytest.approx(0.6 * 0 + 0.2 * 0.02 - 0.1 * 0.05 + 0.1 * 0.1)
    assert col["f_d_phi2"].sum() == pytest.approx(0.6 * 0.01**2 + 0.1 * 0.02**2 + 0.1 * 0.1**2)
    layer_fracs = {n: col[f"f_{n}"].sum() for n in CELL_LAYERS}
    assert layer_fracs == pytest.approx(
        {"presampler": 0.0, "strips": 0.2, "middle": 0.6, "back": 0.1, "hadronic": 0.1}
    )
    # exactly one layer column is non-zero per cell and it equals f
    per_layer = out[0, :, 5:]
    np.testing.assert_array_equal((per_layer != 0).sum(axis=1), [1, 1, 1, 1])
    np.testing.assert_allclose(per_layer.sum(axis=1), f)


def test_upstream_zero_energy_cells_and_noise_only_candidates_give_zeros():
    cells = np.concatenate([_candidate(), _candidate()])
    cells[0, 3, 0] = 0.0  # an empty cell contributes nothing
    cells[1, :, 0] = [-0.1, 0.05, 0.0, 0.0]  # noise only: total <= 0
    out = upstream_cells(cells)
    assert not out[0, 3].any()
    assert out[0, :, 0].sum() == pytest.approx(1.0)
    assert not out[1].any()
    assert np.isfinite(out).all()


def test_upstream_rejects_unknown_layer_indices():
    cells = _candidate()
    cells[0, 0, 3] = 7
    with pytest.raises(SchemaError, match="layer indices"):
        upstream_cells(cells)


def test_unknown_builder_names_the_known_ones():
    with pytest.raises(SchemaError, match=r"'raw', 'upstream'"):
        get_cell_builder("shapes")
    with pytest.raises(SchemaError, match="unknown cell-feature builder"):
        Normalisation(["energy"], ["identity"], [0.0], [1.0], 8, cell_builder="shapes")


def test_builder_and_features_must_agree():
    with pytest.raises(SchemaError, match="cell builder 'upstream' makes features"):
        Normalisation(
            list(CELL_FEATURES), list(CELL_TRANSFORMS), [0.0] * 4, [1.0] * 4, 8, "upstream"
        )


def test_old_normalisation_without_builder_loads_as_raw(small_dir):
    """A checkpoint/project written before builders existed has no ``cell_builder`` key."""
    path = small_dir / "photons_sim.h5"
    cells = read_cells(path, "train")
    new = fit_cells(cells, 16, "raw")
    old = new.to_dict()
    del old["cell_builder"]
    loaded = Normalisation.from_dict(old)
    assert loaded.cell_builder == "raw" and loaded == new
    assert loaded.features == list(CELL_FEATURES) and loaded.transforms == list(CELL_TRANSFORMS)
    # the raw path is the pre-builder formula: transform, then (x - center) / scale
    kept = select_cells(read_cells(path, "test"), 16)
    expected = np.empty(kept.shape, np.float32)
    log_e = np.log1p(np.maximum(kept[..., 0].astype(np.float64), 0.0))
    expected[..., 0] = (log_e - new.center[0]) / new.scale[0]
    for i in range(1, 4):
        expected[..., i] = (kept[..., i].astype(np.float64) - new.center[i]) / new.scale[i]
    np.testing.assert_array_equal(loaded.network_inputs(path, "test"), expected)


def test_upstream_fit_and_network_inputs(small_dir):
    path = small_dir / "photons_sim.h5"
    norm = fit_cells(read_cells(path, "train"), 16, "upstream")
    assert norm.cell_builder == "upstream" and norm.n_cells == 16
    assert norm.features == list(CELL_BUILDERS["upstream"].features)
    assert norm.center == [0.0] * 10  # an empty cell stays exactly 0 after normalisation
    train = upstream_cells(select_cells(read_cells(path, "train"), 16))
    peak = np.quantile(np.abs(train.reshape(-1, 10)), 0.999, axis=0)
    used = peak > 0  # a layer that never makes the kept cells falls back to its std
    np.testing.assert_allclose(peak[used] / np.array(norm.scale)[used], PEAK_TARGET)
    x = norm.network_inputs(path, "test")
    manual = upstream_cells(select_cells(read_cells(path, "test"), 16)) / np.array(norm.scale)
    np.testing.assert_array_equal(x, manual.astype(np.float32))
    assert Normalisation.from_dict(norm.to_dict()) == norm


def _window(n: int = 2) -> np.ndarray:
    """``n`` candidates with the stored window layout and hand-set energies."""
    from datrig.sim.geometry import cell_layout

    d_eta, d_phi, layer = cell_layout()
    cells = np.zeros((n, len(layer), 4), np.float32)
    cells[..., 1], cells[..., 2], cells[..., 3] = d_eta, d_phi, layer
    return cells


def test_window_fractions_of_a_hand_made_candidate():
    from datrig.data.features import N_EM_CELLS, WINDOW_FEATURES, window_fractions

    cells = _window()
    cells[0, 0, 0] = 2.0  # presampler
    cells[0, 1 + 20, 0] = 6.0  # strip 20
    cells[0, 41 + 3 * 7 + 3, 0] = 10.0  # middle centre (eta 3, phi 3)
    cells[0, 90 + 4, 0] = 2.0  # back centre
    cells[0, 99 + 4, 0] = 1.0  # hadronic centre: not in E_em
    cells[1, 1 + 5, 0] = -0.5  # noise only: E_em <= 0
    out = window_fractions(cells)
    assert out.shape == (2, 1, 109) and N_EM_CELLS == 99
    col = dict(zip(WINDOW_FEATURES, out[0, 0], strict=True))
    assert col["f_presampler"] == 0.1 and col["f_strips_20"] == 0.3
    assert col["f_middle_3_3"] == 0.5 and col["f_back_1_1"] == 0.1
    assert col["f_hadronic_1_1"] == 0.05  # Rhad-like: hadronic over the EM energy
    assert col["log_e_em"] == pytest.approx(np.log(20.0))
    assert np.count_nonzero(out[0, 0, :-1]) == 5
    assert np.all(out[1, 0, :-1] == 0) and out[1, 0, -1] == pytest.approx(np.log(1e-3))


def test_window_builder_refuses_cells_that_are_not_the_window():
    from datrig.data.features import window_fractions

    with pytest.raises(SchemaError, match="108 cells of the full window"):
        window_fractions(_window()[:, :60])
    shuffled = _window()[:, ::-1]
    with pytest.raises(SchemaError, match="not in the window order"):
        window_fractions(shuffled)
    with pytest.raises(SchemaError, match="one node per candidate"):
        CELL_BUILDERS["window"].nodes(_window(), 16)


def test_window_fit_and_network_inputs(small_dir):
    """Every cell its own feature and its own normalisation; no energy sorting."""
    from datrig.data.features import window_fractions

    path = small_dir / "photons_sim.h5"
    norm = fit_cells(read_cells(path, "train"), 1, "window")
    assert norm.n_cells == 1 and norm.cell_builder == "window" and len(norm.features) == 109
    assert norm.center == [0.0] * 109
    x = norm.network_inputs(path, "test")
    manual = window_fractions(read_cells(path, "test")) / np.array(norm.scale)
    np.testing.assert_array_equal(x, manual.astype(np.float32))
    assert Normalisation.from_dict(norm.to_dict()) == norm
