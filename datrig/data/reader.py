"""Open, validate and read datrig HDF5 files without loading more than was asked for.

Every later stage reads data through these functions, so every way a file can be wrong
(missing, not HDF5, foreign, truncated, empty, wrong units, missing fields, wrong dtypes,
labels or domains out of range, attributes that contradict the rows, NaNs) ends here in one
clear :class:`~datrig.errors.SchemaError` / :class:`~datrig.errors.DatrigError` line.

Validation reads the ``label`` and ``domain`` columns once per file version (cached on the
file's inode, size and modification time), so repeated reads of one file stay cheap.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from datrig.data.schema import (
    CELL_FEATURES,
    DOMAINS,
    RETIRED_SCHEMAS,
    TASK_REQUIRED,
    TASK_SCHEMA,
    TASK_TABLE,
    kinds,
    units_of,
)
from datrig.data.splits import SPLITS, split_slice
from datrig.errors import DatrigError, SchemaError, short

# Fields whose values are class codes, and the codes allowed.
CODE_FIELDS: dict[str, tuple[int, ...]] = {"label": (0, 1), "converted": (0, 1)}


@dataclass(frozen=True)
class DatasetInfo:
    """What a validated file contains; ``n_cells`` is None for diphoton and resonance files."""

    path: Path
    kind: str  # "photons" | "diphoton" | "resonance"
    domain: str  # "sim" | "data"
    n_rows: int
    n_cells: int | None
    config: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    generator_version: str = ""
    # a task dataset (schema task/1): its own fields, and its split sizes (train, val, test)
    task_fields: tuple[str, ...] | None = None
    split_rows: tuple[int, int, int] | None = None

    @property
    def table(self) -> str:
        return TASK_TABLE if self.kind == "task" else kinds()[self.kind][1]

    @property
    def fields(self) -> tuple[str, ...]:
        if self.task_fields is not None:
            return self.task_fields
        return tuple(kinds()[self.kind][2])


def _attr_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def open_dataset(path: str | os.PathLike[str]) -> DatasetInfo:
    """Validate ``path`` against datrig's schema and return what it holds."""
    path = Path(path)
    if path.is_dir():
        example = path / "photons_sim.h5"
        raise SchemaError(f"{path} is a folder; give one HDF5 file in it (e.g. {example})")
    if not path.is_file():
        raise SchemaError(f"{path}: no such file; run `datrig simulate --out {path.parent}` first")
    stat = path.stat()
    return _open_cached(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _open_cached(path_text: str, inode: int, size: int, mtime_ns: int) -> DatasetInfo:
    path = Path(path_text)
    if not h5py.is_hdf5(path):
        raise SchemaError(f"{path}: not an HDF5 file; expected a file written by datrig simulate")
    try:
        with h5py.File(path, "r") as fh:
            refuse_links(path, fh)
            return _validate(path, fh)
    except (OSError, KeyError, RuntimeError) as exc:
        raise SchemaError(f"{path}: unreadable HDF5 file ({short(exc)}); re-create it") from None


def refuse_links(path: Path, fh: h5py.File) -> None:
    """A datrig file is self-contained: external links, soft links, virtual datasets (whose
    missing sources read as zeros) and external raw storage are refused."""
    for name in fh:
        link = fh.get(name, getlink=True)
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            raise SchemaError(
                f"{path}: {name!r} is a link to "
                f"{short(getattr(link, 'filename', None) or link.path)}; "
                "datrig reads self-contained files only (copy the data in)"
            )
        obj = fh[name]
        if isinstance(obj, h5py.Dataset) and (obj.is_virtual or obj.external):
            what = "a virtual dataset" if obj.is_virtual else "stored in external files"
            raise SchemaError(
                f"{path}: {name!r} is {what}; datrig reads self-contained files only "
                "(a missing source would read as zeros): copy the data in"
            )


def _attr_int(path: Path, attrs: Any, name: str) -> int:
    try:
        value = attrs[name]
        if np.ndim(value) != 0:
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(
            f"{path}: attribute {name} is not an integer; re-create the file"
        ) from None


def _attr_flag(attrs: Any, name: str) -> bool:
    value = attrs.get(name, False)
    return np.ndim(value) == 0 and isinstance(value, (bool, np.bool_)) and bool(value)


def _validate(path: Path, fh: h5py.File) -> DatasetInfo:
    attrs = fh.attrs
    if "datrig_schema" not in attrs:
        raise SchemaError(f"{path}: not a datrig file (no 'datrig_schema' attribute)")
    schema_id = _attr_str(attrs["datrig_schema"])
    if schema_id == TASK_SCHEMA:
        return _validate_task(path, fh)
    by_schema = {sid: (kind, table, fields) for kind, (sid, table, fields) in kinds().items()}
    if schema_id in RETIRED_SCHEMAS:
        raise SchemaError(f"{path}: schema {schema_id} is retired: {RETIRED_SCHEMAS[schema_id]}")
    if schema_id not in by_schema:
        raise SchemaError(
            f"{path}: unsupported schema {schema_id!r}; this datrig reads {', '.join(by_schema)}"
        )
    if not _attr_flag(attrs, "complete"):
        raise SchemaError(
            f"{path}: incomplete file (no complete=True attribute; the writer was interrupted); "
            "re-run datrig simulate"
        )
    kind, table, fields = by_schema[schema_id]
    if table not in fh or not isinstance(fh[table], h5py.Dataset):
        raise SchemaError(f"{path}: dataset {table!r} missing")
    ds = fh[table]
    if ds.ndim != 1 or ds.dtype.names is None:
        raise SchemaError(
            f"{path}: {table!r} must be a 1-D table of named fields (one row per "
            f"{'candidate' if kind == 'photons' else 'event'}), got shape {ds.shape} of {ds.dtype}"
        )
    missing = [f for f in fields if f not in ds.dtype.names]
    if missing:
        raise SchemaError(f"{path}: {table} lacks field(s) {', '.join(missing)}")
    _check_dtypes(path, table, ds.dtype, fields)
    units = _units(path, attrs)
    expected = units_of(fields)
    wrong = [
        f"{k} in {units.get(k)!r} (expected {u!r})"
        for k, u in expected.items()
        if units.get(k) != u
    ]
    if wrong:
        raise SchemaError(f"{path}: wrong units: {'; '.join(wrong)}")
    n_rows = int(ds.shape[0])
    if n_rows == 0:
        raise SchemaError(f"{path}: {table!r} has no rows; simulate with --n >= 1")
    if "n_rows" in attrs and _attr_int(path, attrs, "n_rows") != n_rows:
        raise SchemaError(
            f"{path}: attribute n_rows = {_attr_int(path, attrs, 'n_rows')} but {table!r} has "
            f"{n_rows} rows "
            "(truncated or edited file); re-create it"
        )
    if kind == "resonance" and n_rows % 2:
        raise SchemaError(
            f"{path}: a resonance file holds photon pairs (rows 2k and 2k+1), but {table!r} has "
            f"an odd number of rows ({n_rows}); re-create it with datrig simulate"
        )
    n_cells = _check_cells(path, fh, n_rows) if kind == "photons" else None
    domain = _attr_str(attrs.get("domain", ""))
    if domain not in DOMAINS:
        raise SchemaError(f"{path}: domain attribute {domain!r} is neither 'sim' nor 'data'")
    _check_codes(path, ds, domain)
    try:
        config = json.loads(_attr_str(attrs.get("config", "{}")))
    except (ValueError, RecursionError):
        raise SchemaError(f"{path}: malformed 'config' attribute") from None
    seed = _attr_int(path, attrs, "seed") if "seed" in attrs else None
    return DatasetInfo(
        path=path,
        kind=kind,
        domain=domain,
        n_rows=n_rows,
        n_cells=n_cells,
        config=config,
        units=units,
        seed=seed,
        generator_version=_attr_str(attrs.get("generator_version", "")),
    )


def _validate_task(path: Path, fh: h5py.File) -> DatasetInfo:
    """A task dataset (:mod:`datrig.data.taskdata`): a table of the task's columns plus label
    (-1 where unknown), weight, domain and the source entry of every candidate."""
    attrs = fh.attrs
    if not _attr_flag(attrs, "complete"):
        raise SchemaError(
            f"{path}: incomplete task dataset (the writer was interrupted); "
            "run the command again to rebuild it"
        )
    if TASK_TABLE not in fh or not isinstance(fh[TASK_TABLE], h5py.Dataset):
        raise SchemaError(f"{path}: dataset {TASK_TABLE!r} missing")
    ds = fh[TASK_TABLE]
    if ds.ndim != 1 or ds.dtype.names is None:
        raise SchemaError(f"{path}: {TASK_TABLE!r} must be a 1-D table of named fields")
    missing = [f for f in TASK_REQUIRED if f not in ds.dtype.names]
    if missing:
        raise SchemaError(f"{path}: {TASK_TABLE} lacks field(s) {', '.join(missing)}")
    n_rows = int(ds.shape[0])
    if n_rows == 0:
        raise SchemaError(f"{path}: the task dataset has no candidates (check the selection)")
    domain = _attr_str(attrs.get("domain", ""))
    if domain not in DOMAINS:
        raise SchemaError(f"{path}: domain attribute {domain!r} is neither 'sim' nor 'data'")
    block = ds.fields(["label", "domain"])[()]
    if np.any(~np.isin(block["label"], (-1, 0, 1))) or np.any(block["domain"] != DOMAINS[domain]):
        raise SchemaError(f"{path}: labels outside -1/0/1 or rows of another domain")
    try:
        split_rows = tuple(int(v) for v in np.asarray(attrs["split_rows"]).reshape(-1))
    except (KeyError, TypeError, ValueError):
        raise SchemaError(f"{path}: no split_rows attribute; rebuild the task dataset") from None
    if len(split_rows) != 3 or sum(split_rows) != n_rows or min(split_rows) < 0:
        raise SchemaError(f"{path}: split_rows {list(split_rows)} do not add up to {n_rows}")
    try:
        config = json.loads(_attr_str(attrs.get("config", "{}")))
    except (ValueError, RecursionError):
        raise SchemaError(f"{path}: malformed 'config' attribute") from None
    return DatasetInfo(
        path=path,
        kind="task",
        domain=domain,
        n_rows=n_rows,
        n_cells=None,
        config=config,
        units={},
        task_fields=tuple(ds.dtype.names),
        split_rows=split_rows,  # type: ignore[arg-type]
    )


def _units(path: Path, attrs: Any) -> dict[str, str]:
    try:
        units = json.loads(_attr_str(attrs["units"]))
    except (KeyError, json.JSONDecodeError):
        raise SchemaError(f"{path}: missing or malformed 'units' attribute") from None
    if not isinstance(units, dict):
        raise SchemaError(f"{path}: 'units' attribute must map field names to units")
    return units


def _check_dtypes(
    path: Path, table: str, dtype: np.dtype, fields: dict[str, tuple[str, str]]
) -> None:
    """Float fields must be floating point and code fields integers (any width)."""
    wrong = []
    for name, (expected, _unit) in fields.items():
        got = dtype[name]
        want_kind = np.dtype(expected).kind
        ok = got.kind == "f" if want_kind == "f" else got.kind in "iu"
        if not ok or got.shape != ():
            wrong.append(f"{name} is {got} (expected {np.dtype(expected)})")
    if wrong:
        raise SchemaError(f"{path}: {table} has fields of the wrong type: {'; '.join(wrong)}")


def _check_cells(path: Path, fh: h5py.File, n_rows: int) -> int:
    if "cells" not in fh or not isinstance(fh["cells"], h5py.Dataset):
        raise SchemaError(f"{path}: dataset 'cells' missing")
    cells = fh["cells"]
    if cells.ndim != 3 or cells.shape[0] != n_rows or cells.shape[2] != len(CELL_FEATURES):
        raise SchemaError(
            f"{path}: cells has shape {cells.shape}, expected ({n_rows}, n_cells, "
            f"{len(CELL_FEATURES)}) = one row of cells per candidate x "
            f"({', '.join(CELL_FEATURES)})"
        )
    if cells.dtype.kind != "f":
        raise SchemaError(f"{path}: cells must be floating point, got {cells.dtype}")
    if cells.shape[1] < 1:
        raise SchemaError(f"{path}: cells has no cells per candidate")
    return int(cells.shape[1])


def _check_codes(path: Path, ds: h5py.Dataset, domain: str) -> None:
    """Class codes in range, and every row's domain code equal to the file's domain."""
    names = [n for n in (*CODE_FIELDS, "domain") if n in ds.dtype.names]
    block = ds.fields(names)[()]
    for name in names:
        allowed = (DOMAINS[domain],) if name == "domain" else CODE_FIELDS[name]
        values = np.asarray(block[name])
        bad = ~np.isin(values, allowed)
        if bad.any():
            found = sorted(set(np.unique(values[bad]).tolist()))[:5]
            what = (
                f"domain attribute {domain!r} (code {DOMAINS[domain]})" if name == "domain" else ""
            )
            raise SchemaError(
                f"{path}: field {name!r} has {int(bad.sum())} value(s) outside "
                f"{list(allowed)} (e.g. {found})" + (f" contradicting the {what}" if what else "")
            )


def _check_finite(path: Path, name: str, values: np.ndarray) -> None:
    if values.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise DatrigError(
                f"{path}: field {name!r} has {bad} NaN/inf value(s); re-create the file"
            )


def check_cells_finite(path: str | os.PathLike[str], chunk_rows: int = 20_000) -> None:
    """Every cell value of a photons file is finite (read in chunks: ``cells`` can be larger
    than memory); a DatrigError names how many are not."""
    info = open_dataset(path)
    if info.kind != "photons":
        return
    bad = 0
    with h5py.File(info.path, "r") as fh:
        cells = fh["cells"]
        for lo in range(0, info.n_rows, chunk_rows):
            bad += int(np.count_nonzero(~np.isfinite(cells[lo : lo + chunk_rows])))
    if bad:
        raise DatrigError(
            f"{info.path}: field 'cells' has {bad} NaN/inf value(s); re-create the file"
        )


def _rows(info: DatasetInfo, split: str | None, n_max: int | None) -> slice:
    if info.split_rows is not None and split is not None:
        bounds = np.concatenate([[0], np.cumsum(info.split_rows)])
        k = list(SPLITS).index(split) if split in SPLITS else split_slice(1, split)
        rows = slice(int(bounds[k]), int(bounds[k + 1]))
    else:
        rows = split_slice(info.n_rows, split)
    if n_max is not None:
        rows = slice(rows.start, min(rows.stop, rows.start + max(int(n_max), 0)))
    return rows


def split_rows(path: str | os.PathLike[str], split: str | None, n_max: int | None = None) -> int:
    """Rows of ``split`` of a dataset file that a reader limited to ``n_max`` would read."""
    rows = _rows(open_dataset(path), split, n_max)
    return rows.stop - rows.start


def read_columns(
    path: str | os.PathLike[str],
    fields: Sequence[str],
    split: str | None = None,
    n_max: int | None = None,
) -> dict[str, np.ndarray]:
    """Read only ``fields`` of the (first ``n_max``) rows of ``split`` (None = all) into 1-D
    numpy arrays."""
    info = open_dataset(path)
    fields = list(fields)
    unknown = [f for f in fields if f not in info.fields]
    if unknown:
        available = ", ".join(info.fields)
        raise SchemaError(
            f"{info.path}: unknown field(s) {', '.join(unknown)}; available: {available}"
        )
    if not fields:
        return {}
    rows = _rows(info, split, n_max)
    with h5py.File(info.path, "r") as fh:
        block = fh[info.table].fields(fields)[rows]
    out = {}
    for name in fields:
        col = np.ascontiguousarray(block[name] if block.dtype.names else block)
        _check_finite(info.path, name, col)
        out[name] = col
    return out


def read_cells(
    path: str | os.PathLike[str], split: str | None = None, n_max: int | None = None
) -> np.ndarray:
    """Cells of the rows of ``split``: float32 (n, n_cells, 4) = (energy, d_eta, d_phi, layer)."""
    info = open_dataset(path)
    if info.kind != "photons":
        raise SchemaError(f"{info.path}: a {info.kind} file has no cells; pass a photons file")
    rows = _rows(info, split, n_max)
    with h5py.File(info.path, "r") as fh:
        cells = np.asarray(fh["cells"][rows], dtype=np.float32)
    _check_finite(info.path, "cells", cells)
    return cells


def read_rows(
    path: str | os.PathLike[str], split: str | None = None, n_max: int | None = None
) -> np.ndarray:
    """All fields of the rows of ``split`` as a structured array."""
    info = open_dataset(path)
    rows = _rows(info, split, n_max)
    with h5py.File(info.path, "r") as fh:
        block = fh[info.table][rows]
    for name in info.fields:
        _check_finite(info.path, name, block[name])
    return block


def read_tensor(
    path: str | os.PathLike[str], fields: Sequence[str], split: str | None = None
) -> Any:
    """``fields`` stacked into a float32 torch tensor (n, len(fields)), for training loops."""
    import torch

    cols = read_columns(path, fields, split)
    stacked = np.stack([cols[f].astype(np.float32) for f in fields], axis=1)
    return torch.from_numpy(stacked)
