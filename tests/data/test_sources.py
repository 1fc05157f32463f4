"""The readers of a physicist's own files: ROOT TTrees (with collections), HDF5 tables and
parquet, read in chunks, with one clear line for every way a file can be wrong."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from datrig.data.sources import ENTRY, INDEX, SourceSpec, open_file
from datrig.errors import SchemaError

NANOAOD = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
NANOAOD_FILE = NANOAOD / "nanoAOD_2015_CMS_Open_Data_ttbar.root"


def columns(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "el_pt": rng.uniform(5, 100, n).astype(np.float32),
        "el_eta": rng.uniform(-2.5, 2.5, n),
        "is_prompt": (rng.uniform(size=n) < 0.5).astype(np.int32),
    }


def write_root(path: Path, cols: dict[str, np.ndarray], tree: str = "electrons") -> Path:
    with uproot.recreate(path) as f:
        t = f.mktree(tree, {k: v.dtype for k, v in cols.items()})
        t.extend(cols)
    return path


def read_all(path: Path, spec: SourceSpec, cols: list[str], step: int = 128) -> dict:
    with open_file(path, spec) as reader:
        chunks = list(reader.iterate(cols, step))
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}, len(chunks)


@pytest.mark.parametrize("fmt", ["root", "h5-compound", "h5-group", "parquet"])
def test_every_format_reads_the_same_columns_in_chunks(tmp_path, fmt):
    cols = columns()
    if fmt == "root":
        path, spec = write_root(tmp_path / "mc.root", cols), SourceSpec(("mc.root",), "electrons")
    elif fmt == "parquet":
        path, spec = tmp_path / "mc.parquet", SourceSpec(("mc.parquet",))
        pq.write_table(pa.table(cols), path)
    else:
        path, spec = tmp_path / "mc.h5", SourceSpec(("mc.h5",), table="electrons")
        with h5py.File(path, "w") as fh:
            if fmt == "h5-group":
                group = fh.create_group("electrons")
                for k, v in cols.items():
                    group.create_dataset(k, data=v)
            else:
                rows = np.zeros(1000, [(k, v.dtype) for k, v in cols.items()])
                for k, v in cols.items():
                    rows[k] = v
                fh.create_dataset("electrons", data=rows)
    got, n_chunks = read_all(path, spec, ["el_pt", "is_prompt"])
    assert n_chunks == 8  # bounded memory: 1000 rows in chunks of 128
    np.testing.assert_array_equal(got["el_pt"], cols["el_pt"])
    np.testing.assert_array_equal(got["is_prompt"], cols["is_prompt"])
    np.testing.assert_array_equal(got[ENTRY], np.arange(1000))
    with open_file(path, spec) as reader:
        assert reader.n_rows() == 1000 and "el_eta" in reader.columns()


def test_a_nanoaod_collection_is_one_candidate_per_element():
    """The real CMS NanoAOD written by ROOT: 200 events, 79 photons in jagged branches."""
    spec = SourceSpec((NANOAOD_FILE.name,), tree="Events", collection="Photon")
    got, _ = read_all(NANOAOD_FILE, spec, ["Photon_pt", "Photon_genPartFlav"], step=50)
    assert len(got["Photon_pt"]) == 79
    with open_file(NANOAOD_FILE, spec) as reader:
        assert reader.n_rows() == 79 and reader.n_entries() == 200
    counts = uproot.open(NANOAOD_FILE)["Events"]["nPhoton"].array(library="np")
    np.testing.assert_array_equal(np.bincount(got[ENTRY], minlength=200), counts)
    first = np.flatnonzero(counts)[0]
    assert got[ENTRY][0] == first and got[INDEX][0] == 0
    flat = np.concatenate(uproot.open(NANOAOD_FILE)["Events"]["Photon_pt"].array(library="np"))
    np.testing.assert_array_equal(got["Photon_pt"], flat)


def test_a_jagged_branch_without_its_collection_is_refused_or_taken_by_element():
    spec = SourceSpec((NANOAOD_FILE.name,), tree="Events")
    with open_file(NANOAOD_FILE, spec) as reader, pytest.raises(SchemaError, match="vector per"):
        next(reader.iterate(["Photon_pt"], 100))
    got, _ = read_all(NANOAOD_FILE, spec, ["Photon_pt[0]"], step=100)
    counts = uproot.open(NANOAOD_FILE)["Events"]["nPhoton"].array(library="np")
    assert len(got["Photon_pt[0]"]) == 200
    assert np.isnan(got["Photon_pt[0]"][counts == 0]).all()
    assert np.isfinite(got["Photon_pt[0]"][counts > 0]).all()


def test_bad_files_and_names_are_one_clear_line(tmp_path):
    path = write_root(tmp_path / "mc.root", columns())
    with pytest.raises(SchemaError, match=r"no TTree 'photons'; it has: electrons"):
        open_file(path, SourceSpec(("mc.root",), "photons"))
    with (
        open_file(path, SourceSpec(("mc.root",), "electrons")) as reader,
        pytest.raises(
            SchemaError, match=r"no column\(s\) el_iso.*it has: el_eta, el_pt, is_prompt"
        ),
    ):
        next(reader.iterate(["el_pt", "el_iso"], 10))
    (tmp_path / "bad.root").write_bytes(b"not a root file at all")
    with pytest.raises(SchemaError, match="not a readable ROOT file"):
        open_file(tmp_path / "bad.root", SourceSpec(("bad.root",)))
    with pytest.raises(SchemaError, match="unknown format"):
        open_file(tmp_path / "x.csv", SourceSpec(("x.csv",)))
    with h5py.File(tmp_path / "v.h5", "w") as fh:
        layout = h5py.VirtualLayout(shape=(10,), dtype="f4")
        layout[...] = h5py.VirtualSource(str(tmp_path / "gone.h5"), "x", shape=(10,))
        fh.create_group("t").create_virtual_dataset("x", layout)
    with pytest.raises(SchemaError, match="virtual dataset"):
        open_file(tmp_path / "v.h5", SourceSpec(("v.h5",), table="t"))
