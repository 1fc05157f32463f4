"""The outputs of ``datrig emulate`` and ``datrig csim``: one value per input candidate, in
input order, written atomically with a record beside it (``x.npy`` -> ``x.npy.json``),
replacing only an earlier output of the same command (:func:`datrig.safefs.check_output_file`)
and never the input.

Formats, by the suffix of ``--out``:

* ``.npy``: the outputs alone, (N, n_out) float64.
* ``.root``: a TTree ``datrig`` to read as a *friend* of the input tree: one entry per input
  entry, the outputs as ``datrig_out`` (``datrig_out_<k>`` for several), or for a collection as
  the jagged ``<Collection>_datrig_out`` with its counter, element for element.
* ``.parquet`` and ``.h5``: one row per candidate, columns ``entry`` (the input's entry or row),
  ``index`` (element of the collection) and the outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.errors import DatrigError
from datrig.runtime import hdf5_writing
from datrig.safefs import check_output_file, sidecar_path

OUTPUT_SUFFIXES = (".npy", ".root", ".parquet", ".h5")


def check_event_output(out: Path, stage: str, source: str | os.PathLike[str] | None) -> None:
    """Before any work: ``out`` is a file ``stage`` may write (see module docstring)."""
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise DatrigError(f"--out must end in {', '.join(OUTPUT_SUFFIXES)}, got {out}")
    check_output_file(out, stage, inputs=(source,) if source is not None else ())


def write_event_output(
    out: Path,
    values: np.ndarray,
    stage: str,
    record: dict[str, Any],
    where: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``values`` (N, n_out) to ``out`` in its format and ``record`` (with ``stage``
    and ``output``) beside it; ``where``: the candidates' entries (None: row numbers)."""
    check_output_file(out, stage)  # again at the end: nothing appeared meanwhile
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    n = len(values)
    if where is None:
        where = {"entry": np.arange(n, dtype=np.int64), "index": np.zeros(n, np.int64),
                 "n_entries": np.array(n), "collection": np.array("")}  # fmt: skip
    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, values)
        elif suffix == ".root":
            _write_root(tmp, values, where)
        elif suffix == ".parquet":
            _write_parquet(tmp, values, where)
        else:
            with hdf5_writing(out):
                _write_h5(tmp, values, where)
    write_json(sidecar_path(out), {**record, "stage": stage, "output": out.name})


def _names(values: np.ndarray) -> list[str]:
    k = values.shape[1]
    return ["datrig_out"] if k == 1 else [f"datrig_out_{i}" for i in range(k)]


def _rows(values: np.ndarray, where: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    cols = {"entry": np.asarray(where["entry"], np.int64),
            "index": np.asarray(where["index"], np.int64)}  # fmt: skip
    for i, name in enumerate(_names(values)):
        cols[name] = values[:, i]
    return cols


def _write_parquet(path: Path, values: np.ndarray, where: dict[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(_rows(values, where)), path)


def _write_h5(path: Path, values: np.ndarray, where: dict[str, np.ndarray]) -> None:
    import h5py

    with h5py.File(path, "w") as fh:
        group = fh.create_group("datrig")
        for name, col in _rows(values, where).items():
            group.create_dataset(name, data=col, compression="gzip")


def _write_root(path: Path, values: np.ndarray, where: dict[str, np.ndarray]) -> None:
    """A friend tree: one entry per input entry (see module docstring)."""
    import awkward as ak
    import uproot

    entry = np.asarray(where["entry"], np.int64)
    n_entries = int(where["n_entries"])
    collection = str(where["collection"])
    if len(entry) and (np.any(np.diff(entry) < 0) or entry[-1] >= n_entries):
        raise DatrigError("the outputs are not in entry order; cannot write a friend tree")
    counts = np.bincount(entry, minlength=n_entries) if collection else None
    if not collection and len(entry) != n_entries:
        raise DatrigError(
            f"a friend tree needs one output per entry ({n_entries}); {len(entry)} were made "
            "(--events): write .parquet or .h5 instead"
        )
    if collection and int(counts.sum()) != len(entry):
        raise DatrigError("a friend tree of a collection needs every candidate: drop --events")
    branches, types = {"entry": np.arange(n_entries, dtype=np.int64)}, {"entry": np.int64}
    for i, name in enumerate(_names(values)):
        if collection:
            jagged = ak.unflatten(values[:, i], counts)
            branches[f"{collection}_{name}"] = jagged
            types[f"{collection}_{name}"] = ak.type(jagged)
        else:
            branches[name], types[name] = values[:, i], np.float64
    with uproot.recreate(path) as f:
        tree = f.mktree("datrig", types, counter_name=lambda _: f"n{collection}_datrig")
        if n_entries:
            tree.extend(branches)
