"""Network inputs of a firmware project, from whatever a user has at hand.

A project exported from a QAT run is self-contained: it records which schema file its model
reads (photons or diphoton), which columns (or cells), their transforms and the normalisation
(:class:`InputSpec`), so ``datrig emulate/csim/verify --input photons_data.h5`` runs the
firmware on any sample of datrig's schema, from any seed or from the user. Also accepted:
a ``.npy`` of network inputs, and a run's ``predictions_test.h5`` (its ``inputs`` dataset).
Inputs are returned in the project layout (channels-last for the Deep Sets model).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datrig.bounds import check_shape, ensure_fits
from datrig.data.features import Normalisation, check_finite
from datrig.data.sources import FORMATS, SourceSpec
from datrig.errors import DatrigError, SchemaError, short
from datrig.paths import predictions_path

READ_CHUNK = 200_000  # candidates per read of a user's file


@dataclass(frozen=True)
class InputSpec:
    """How raw events become this network's inputs: the schema kind of the files it reads and
    the feature normalisation (columns or cells, transforms, center/scale)."""

    kind: str  # "photons" | "diphoton" | "task"
    normalisation: Normalisation
    task: dict[str, Any] | None = None  # the task file's JSON: a user's files are read with it

    def from_file(
        self, path: str | os.PathLike[str], split: str | None = None, limit: int | None = None
    ) -> np.ndarray:
        """float64 network inputs (project layout) of a datrig schema file."""
        from datrig.data.reader import open_dataset

        info = open_dataset(path)
        if info.kind != self.kind:
            raise SchemaError(
                f"{path} holds {info.kind} events; this project's network reads {self.kind} files"
            )
        x = self.normalisation.network_inputs(path, split, limit)
        return np.asarray(x, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind, "normalisation": self.normalisation.to_dict()}
        if self.task is not None:
            out["task"] = self.task
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> InputSpec:
        return cls(obj["kind"], Normalisation.from_dict(obj["normalisation"]), obj.get("task"))

    def source_spec(self, path: Path, **override: str | None) -> SourceSpec:
        """How to read a user's file: the task's data source (else its simulation source)
        names the tree, table and collection; ``override`` (command-line flags) wins. Only
        for a spec with a task (:func:`is_user_ntuple`)."""
        sources = (self.task or {}).get("sources", {})
        raw = sources.get("data") or sources.get("sim") or {}
        fields = {k: raw.get(k) for k in ("tree", "table", "collection")}
        fields.update({k: v for k, v in override.items() if v is not None})
        return SourceSpec((str(path),), **fields)

    def from_source(
        self, path: Path, limit: int | None = None, **override: str | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Network inputs (float64) of every candidate of a user's file, in file order, and
        where each came from (``entry``, ``index``): one row per candidate, nothing selected
        away. Chunked; NaN/inf inputs are refused with their count."""
        from datrig.data.sources import ENTRY, INDEX, open_file

        columns = list(self.normalisation.features)
        parts, entries, indices = [], [], []
        n = 0
        spec = self.source_spec(path, **override)
        with open_file(path, spec) as reader:
            reader.check_columns(columns)
            n_entries = reader.n_entries()
            for chunk in reader.iterate(columns, READ_CHUNK):
                raw = np.stack([np.asarray(chunk[c]).astype(np.float32) for c in columns], 1)
                check_finite(raw, columns, str(path))
                parts.append(self.normalisation.apply(raw).astype(np.float64))
                entries.append(chunk[ENTRY])
                indices.append(chunk[INDEX])
                n += len(raw)
                if limit is not None and n >= limit:
                    break
        if n == 0:
            raise SchemaError(f"{path}: no candidates")
        x = np.concatenate(parts)[:limit]
        where = {
            "entry": np.concatenate(entries)[:limit],
            "index": np.concatenate(indices)[:limit],
            "n_entries": np.array(n_entries),
            "collection": np.array(spec.collection or ""),
        }
        return x, where


def is_user_ntuple(path: Path, spec: InputSpec) -> bool:
    """A file of the user's own format that the project's task reads (not a datrig file)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS or spec.task is None:
        return False
    return suffix not in (".h5", ".hdf5") or not _is_datrig_h5(path)


def _is_datrig_h5(path: Path) -> bool:
    """A datrig schema file or a run's predictions file (not a user's own table)."""
    import h5py

    if not h5py.is_hdf5(path):
        return False
    try:
        with h5py.File(path, "r") as fh:
            return "datrig_schema" in fh.attrs or ("inputs" in fh and "events" in fh)
    except OSError:
        return False


def is_schema_file(path: Path) -> bool:
    """A datrig HDF5 schema file (photons/diphoton), as opposed to a predictions file."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return "datrig_schema" in fh.attrs
    except OSError:
        return False


def calibration_inputs(run: str | os.PathLike[str], n_events: int) -> np.ndarray:
    """The events an export of a run verifies on, wherever it is exported (``datrig hls``,
    ``export --run``, validate, calibrate, scans): the first ``n_events`` of the run's test
    predictions (sim rows, then data)."""
    return read_inputs(predictions_path(run), limit=n_events)


def read_inputs(
    path: str | os.PathLike[str],
    spec: InputSpec | None = None,
    limit: int | None = None,
    split: str | None = None,
) -> np.ndarray:
    """float64 network inputs (N, ...) from ``X.npy``, a ``predictions_test.h5`` or (with the
    project's ``spec``) a datrig schema file (``split``: only that split's rows)."""
    import h5py

    path = Path(path)
    if limit is not None and limit < 1:
        raise DatrigError(f"the number of events must be at least 1, got {limit}")
    if not path.is_file():
        raise DatrigError(f"input file {path} not found")
    if path.suffix == ".npy":
        x = _load_npy(path, limit)
    elif spec is not None and is_user_ntuple(path, spec):  # read through the project's task
        x = spec.from_source(path, limit)[0]
    elif path.suffix.lower() in FORMATS and path.suffix.lower() not in (".h5", ".hdf5"):
        raise SchemaError(
            f"{path}: this project does not record a task, so it reads only datrig files, a "
            "run's predictions or a .npy; import or export it with --task to read your own "
            "ntuples"
        )
    elif path.suffix in (".h5", ".hdf5"):
        if not h5py.is_hdf5(path):
            raise SchemaError(f"{path} is not a readable HDF5 file (truncated or not HDF5)")
        if is_schema_file(path):
            if spec is None:
                raise SchemaError(
                    f"{path} is a datrig event file, but this project does not record its "
                    "network's input variables (made by `datrig import`); pass a .npy of "
                    "network inputs instead"
                )
            x = spec.from_file(path, split=split, limit=limit)
        else:
            x = _predictions_inputs(path, limit)
    else:
        raise SchemaError(
            f"{path}: inputs must be .npy, .h5, .root or .parquet, got {path.suffix!r}"
        )
    if split is not None and not (path.suffix in (".h5", ".hdf5") and is_schema_file(path)):
        raise SchemaError(f"{path}: --split applies to datrig event files only")
    if not np.issubdtype(x.dtype, np.number):
        raise SchemaError(f"{path}: inputs must be numeric, got dtype {x.dtype}")
    x = np.asarray(x[:limit] if limit is not None else x, dtype=np.float64)
    if len(x) == 0:
        raise SchemaError(f"{path}: no events")
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"{path}: inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf values")
    return x


def _load_npy(path: Path, limit: int | None) -> np.ndarray:
    """The rows in use of a real-valued ``.npy``, its header checked before anything is read
    (memory-mapped: a header declaring more than the file holds is refused, not allocated)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SchemaError(f"{path} is not a plain numpy array ({short(exc)})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = "complex" if np.iscomplexobj(arr) else str(getattr(arr, "dtype", type(arr)))
        raise SchemaError(f"{path}: inputs must be real numbers, got {kind} values")
    check_shape(list(arr.shape), str(path), "input")
    rows = arr[:limit] if limit is not None else arr
    ensure_fits(rows.size * 8 * 2, f"{path} ({len(rows):,} events)", "pass --events")
    return np.array(rows)


def _predictions_inputs(path: Path, limit: int | None) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if "inputs" not in fh:
                raise SchemaError(
                    f"{path} is neither a datrig event file (photons/diphoton schema) nor a "
                    "predictions_test.h5 with an 'inputs' dataset; pass one of those or a .npy"
                )
            ds = fh["inputs"]
            return ds[: limit if limit is not None else ds.shape[0]]
    except OSError as exc:
        raise SchemaError(f"{path} is not a readable HDF5 file ({exc})") from None
