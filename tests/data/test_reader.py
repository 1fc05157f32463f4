"""The reader rejects every kind of wrong file with one clear line, and reads only what is asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from datrig.data.reader import open_dataset, read_cells, read_columns, read_rows, read_tensor
from datrig.data.schema import DIPHOTON_FIELDS, PHOTON_FIELDS, SHOWER_SHAPES
from datrig.data.splits import split_slice
from datrig.errors import DatrigError, SchemaError
from datrig.sim.geometry import N_CELLS
from datrig.sim.simulate import simulate


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    simulate(out, 1000, 400, 3, progress=False)
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_open_valid_files(small_dir):
    info = open_dataset(small_dir / "photons_data.h5")
    assert (info.kind, info.domain, info.n_rows, info.n_cells) == ("photons", "data", 1000, N_CELLS)
    assert info.units["e_raw"] == "GeV" and info.seed == 3
    assert info.config["data"]["middle_width_scale"] > 1.0
    d = open_dataset(small_dir / "diphoton_sim.h5")
    assert (d.kind, d.domain, d.n_rows, d.n_cells) == ("diphoton", "sim", 400, None)
    assert set(d.fields) == set(DIPHOTON_FIELDS)


def test_fields_match_schema_and_are_finite(small_dir):
    rows = read_rows(small_dir / "photons_sim.h5")
    assert rows.dtype.names == tuple(PHOTON_FIELDS)
    for name in rows.dtype.names:
        assert np.isfinite(rows[name].astype(np.float64)).all(), name
    assert set(np.unique(rows["label"])) == {0, 1}
    assert (rows["domain"] == 0).all()
    assert (read_rows(small_dir / "photons_data.h5")["domain"] == 1).all()


def test_column_reading_matches_full_rows_and_splits(small_dir):
    path = small_dir / "photons_sim.h5"
    full = read_rows(path)
    cols = read_columns(path, ["pt", "label"], split="test")
    sl = split_slice(1000, "test")
    assert set(cols) == {"pt", "label"}
    np.testing.assert_array_equal(cols["pt"], full["pt"][sl])
    np.testing.assert_array_equal(cols["label"], full["label"][sl])
    one = read_columns(path, ["eta"], split="train")
    assert one["eta"].shape == (600,) and one["eta"].dtype == np.float32
    cells = read_cells(path, split="val")
    assert cells.shape == (200, N_CELLS, 4) and cells.dtype == np.float32
    np.testing.assert_array_equal(np.unique(cells[..., 3]), [0, 1, 2, 3, 4])
    t = read_tensor(path, SHOWER_SHAPES, split="test")
    assert tuple(t.shape) == (200, len(SHOWER_SHAPES))


def test_cells_energy_consistent_with_layer_energies(small_dir):
    """The stored cells are the cells the layer energies and shower shapes were computed from:
    every layer sum, the strip cluster (strips 8-31), the 3x7 middle cluster and Reta's 7x7."""
    path = small_dir / "photons_sim.h5"
    cells = read_cells(path)
    cols = read_columns(path, ["e_ps", "e_l1", "e_l2", "e_l3", "e_had", "Reta"])
    by_layer = {k: (cells[..., 0] * (cells[..., 3] == k)).sum(axis=1) for k in range(5)}
    np.testing.assert_allclose(by_layer[0], cols["e_ps"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(by_layer[3], cols["e_l3"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(by_layer[4], cols["e_had"], rtol=1e-4, atol=1e-4)
    strips = cells[:, 1:41, 0].astype(np.float64)
    middle = cells[:, 41:90, 0].astype(np.float64).reshape(-1, 7, 7)  # eta-major
    np.testing.assert_allclose(strips[:, 8:32].sum(axis=1), cols["e_l1"], rtol=1e-4, atol=1e-4)
    e37 = middle[:, 2:5, :].sum(axis=(1, 2))
    np.testing.assert_allclose(e37, cols["e_l2"], rtol=1e-4, atol=1e-4)
    reta = e37 / middle.sum(axis=(1, 2))
    np.testing.assert_allclose(reta, cols["Reta"], rtol=1e-4, atol=1e-4)


def test_cell_positions_are_the_fixed_window(small_dir):
    """Positions are those of the cell centres from the window centre, identical in every row,
    and stored one feature per chunk (so they cost almost nothing compressed)."""
    path = small_dir / "photons_data.h5"
    cells = read_cells(path)
    np.testing.assert_array_equal(
        cells[:, :, 1:], np.broadcast_to(cells[:1, :, 1:], (*cells.shape[:2], 3))
    )
    strips = cells[0, 1:41, 1]
    np.testing.assert_allclose(np.diff(strips), 0.003125, rtol=1e-5)
    assert strips[19] == pytest.approx(-0.5 * 0.003125) and strips[20] == pytest.approx(
        0.5 * 0.003125
    )
    with h5py.File(path, "r") as fh:
        assert fh["cells"].chunks[1:] == (N_CELLS, 1)


def test_a_retired_photons_schema_says_why_in_one_line(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "r+") as fh:
        fh.attrs["datrig_schema"] = "photons/1"
    with pytest.raises(SchemaError) as exc:
        open_dataset(path)
    msg = _one_line(exc)
    assert "photons/1 is retired" in msg and "60 of the 108 cells" in msg
    assert "datrig simulate" in msg


def test_unknown_field_lists_available(small_dir):
    with pytest.raises(SchemaError) as exc:
        read_columns(small_dir / "photons_sim.h5", ["pt", "Rhadd"])
    msg = _one_line(exc)
    assert "Rhadd" in msg and "available" in msg and "Rhad" in msg


def test_unknown_split(small_dir):
    with pytest.raises(DatrigError, match="unknown split"):
        read_columns(small_dir / "photons_sim.h5", ["pt"], split="training")


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(SchemaError, match="no such file"):
        open_dataset(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    with pytest.raises(SchemaError, match="not an HDF5 file"):
        open_dataset(junk)


def test_foreign_hdf5(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as fh:
        fh["x"] = np.arange(3)
    with pytest.raises(SchemaError) as exc:
        open_dataset(path)
    assert "not a datrig file" in _one_line(exc)


def test_incomplete_file(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "a") as fh:
        del fh.attrs["complete"]
    with pytest.raises(SchemaError) as exc:
        read_columns(path, ["pt"])
    assert "incomplete" in _one_line(exc)


def test_truncated_bytes(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError):
        read_columns(path, ["pt"])


def test_missing_field(small_dir, tmp_path):
    src = small_dir / "diphoton_sim.h5"
    path = tmp_path / "dropped.h5"
    rows = read_rows(src)
    keep = [n for n in rows.dtype.names if n != "pt_gg"]
    with h5py.File(src, "r") as fin, h5py.File(path, "w") as fout:
        fout["events"] = rows[keep]
        for k, v in fin.attrs.items():
            fout.attrs[k] = v
    with pytest.raises(SchemaError) as exc:
        open_dataset(path)
    assert "pt_gg" in _one_line(exc)


def test_wrong_units(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "a") as fh:
        units = json.loads(fh.attrs["units"])
        units["e_raw"] = "MeV"
        fh.attrs["units"] = json.dumps(units)
    with pytest.raises(SchemaError) as exc:
        open_dataset(path)
    assert "e_raw" in _one_line(exc) and "MeV" in str(exc.value)


def test_nan_in_requested_column(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "a") as fh:
        rows = fh["candidates"][:]
        rows["weta2"][[5, 17]] = np.nan
        rows["eta"][9] = np.inf
        fh["candidates"][:] = rows
    with pytest.raises(DatrigError) as exc:
        read_columns(path, ["pt", "weta2"])
    assert "weta2" in _one_line(exc) and "2 NaN" in str(exc.value)
    assert read_columns(path, ["pt"])["pt"].shape == (1000,)  # other columns stay readable
    with pytest.raises(DatrigError, match="'eta' has 1"):
        read_columns(path, ["eta"])
    with pytest.raises(DatrigError, match="NaN"):
        read_rows(path)


def _rewrite(path: Path, edit_rows=None, edit_attrs=None) -> None:
    """Rewrite the candidates table (and/or attributes) of a copied photons file."""
    with h5py.File(path, "r+") as fh:
        if edit_rows is not None:
            rows = edit_rows(fh["candidates"][:])
            del fh["candidates"]
            fh.create_dataset("candidates", data=rows)
        if edit_attrs is not None:
            edit_attrs(fh.attrs)


def _retype(rows: np.ndarray, field: str, dtype: str) -> np.ndarray:
    new = np.dtype([(n, dtype if n == field else rows.dtype[n]) for n in rows.dtype.names])
    out = np.empty(rows.shape, new)
    for n in rows.dtype.names:
        out[n] = rows[n] if n != field or dtype != "S8" else rows[n].astype("S8")
    return out


def _set(field: str, index: int, value):
    def edit(rows):
        rows[field][index] = value
        return rows

    return edit


@pytest.mark.parametrize(
    ("edit_rows", "edit_attrs", "match"),
    [
        (lambda r: _retype(r, "label", "<f4"), None, r"label is float32 \(expected int8\)"),
        (lambda r: _retype(r, "Reta", "S8"), None, r"Reta is \|S8 \(expected float32\)"),
        (
            _set("label", 7, 5),
            None,
            r"field 'label' has 1 value\(s\) outside \[0, 1\] \(e.g. \[5\]\)",
        ),
        (_set("domain", 3, 0), None, "contradicting the domain attribute 'data'"),
        (
            None,
            lambda a: a.__setitem__("domain", "sim"),
            "contradicting the domain attribute 'sim'",
        ),
        (None, lambda a: a.__setitem__("n_rows", 999), "attribute n_rows = 999 but"),
        (lambda r: r[:0], None, "has no rows"),
        (lambda r: r.reshape(50, 20), None, "must be a 1-D table of named fields"),
    ],
)
def test_wrong_contents_are_refused(small_dir, tmp_path, edit_rows, edit_attrs, match):
    """Not only field names: dtypes, code ranges, the domain and the attributes (issue 9.5)."""
    path = _copy(small_dir / "photons_data.h5", tmp_path)
    _rewrite(path, edit_rows, edit_attrs)
    with pytest.raises(SchemaError) as exc:
        open_dataset(path)
    assert __import__("re").search(match, _one_line(exc)), str(exc.value)


def test_cells_of_the_wrong_type_are_refused(small_dir, tmp_path):
    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "r+") as fh:
        cells = fh["cells"][:].astype(np.int32)
        del fh["cells"]
        fh.create_dataset("cells", data=cells)
    with pytest.raises(SchemaError, match="cells must be floating point"):
        open_dataset(path)


def test_the_inspect_command_says_one_line_for_an_empty_file(small_dir, tmp_path, capsys):
    from datrig.cli import main

    path = _copy(small_dir / "photons_sim.h5", tmp_path)
    with h5py.File(path, "r+") as fh:
        rows = fh["candidates"][:0]
        del fh["candidates"], fh["cells"]
        fh.create_dataset("candidates", data=rows)
        fh.create_dataset("cells", shape=(0, N_CELLS, 4), dtype="<f4")
        fh.attrs["n_rows"] = 0
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no rows" in err[0]


def test_w1_swapped_sim_and_data_files_are_refused(small_dir: Path, tmp_path: Path, capsys) -> None:
    """photons_sim.h5 and photons_data.h5 swapped in a folder of the user's own files (no
    manifest): qat trained anyway and its 'sim' test rows had domain 1."""
    from datrig.cli import main
    from datrig.data.manifest import dataset_file

    folder = tmp_path / "mine"
    folder.mkdir()
    for ours, theirs in (
        ("photons_sim.h5", "photons_data.h5"),
        ("photons_data.h5", "photons_sim.h5"),
    ):
        shutil.copy(small_dir / ours, folder / theirs)
    with pytest.raises(SchemaError, match=r"holds photons events of the 'data' domain .* not "
                                          r"photons of 'sim' as its name says"):  # fmt: skip
        dataset_file(folder, "photons", "sim")
    code = main(["qat", "--model", "photon_id", "--data", str(folder), "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "rename it to photons_data.h5" in err[0], err
    assert not (tmp_path / "run").exists()
