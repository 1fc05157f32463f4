"""A task's candidates as datrig reads them: one HDF5 table per domain, built in chunks.

``datrig qat --task FILE`` first turns the task's sources (ROOT, HDF5, parquet; any column
names; collections) into a *task dataset*: ``task_sim.h5`` (and ``task_data.h5``) holding, per
candidate, the task's columns (inputs, protected, condition, target, reference) as float32,
its label (0/1 in simulation; -1 where none is known, always in data unless the source is
marked ``truth``), its weight (signed; 1 in data), its domain, and where it came from
(``file``, ``entry``, ``index``: file number, TTree entry or row, element of the collection).
Rows are split into train (60 %), validation (20 %) and test (20 %) by a seeded hash of the
*event* (all candidates of one event share a split), and stored train first, then validation,
then test (``split_rows``), so the rest of datrig reads every split as a contiguous range.

The folder is one artefact (marker ``task_dataset.json``, with the task's digest and the
sha256 of every source file): a later command reuses it while the task and its files are
unchanged, and it is swapped in whole. Memory is bounded by :data:`CHUNK` candidates,
whatever the size of the sources.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from datrig.atomic import ArtefactKind, atomic_dir, destination_lock, write_json
from datrig.data.expr import Expression
from datrig.data.schema import TASK_SCHEMA, TASK_TABLE
from datrig.data.sources import ENTRY, INDEX, open_file
from datrig.data.task import TaskConfig
from datrig.errors import SchemaError
from datrig.provenance import file_sha256
from datrig.runtime import hdf5_writing

CHUNK = 200_000  # candidates read per step
MARKER = "task_dataset.json"
TASK_DATASET = ArtefactKind("task dataset", MARKER, "task-dataset")
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
FILE_NAMES = {"sim": "task_sim.h5", "data": "task_data.h5"}
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def event_key(entry: np.ndarray, file_index: int, seed: int) -> np.ndarray:
    """A seeded pseudo-random number in [0, 1) per candidate, the same for every candidate of
    one event (a hash of the file and entry number)."""
    key = entry.astype(np.uint64) + np.uint64(file_index) * np.uint64(1 << 40)
    key = key ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        h = (key + np.uint64(1)) * _GOLDEN
        h ^= h >> np.uint64(29)
        h *= _GOLDEN
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def stratified_split(label: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0 (train), 1 (validation) or 2 (test) per candidate: within each class, candidates in
    the order of their event key, the first 60 % train, the next 20 % validation, the rest
    test, so a rare class is in training whatever the seed (candidates of one event share a
    key, so they stay together but at a class's split boundary)."""
    split = np.empty(len(label), np.int8)
    edges = np.cumsum(SPLIT_FRACTIONS)[:-1]
    for c in np.unique(label):
        idx = np.flatnonzero(label == c)
        order = idx[np.argsort(key[idx], kind="stable")]
        n = len(order)
        n_train = max(1, round(edges[0] * n))
        n_val = max(0, min(n - n_train, round(edges[1] * n) - n_train))
        split[order[:n_train]] = 0
        split[order[n_train : n_train + n_val]] = 1
        split[order[n_train + n_val :]] = 2
    return split


def task_dataset_dir(task: TaskConfig, root: str | os.PathLike[str] = "data/tasks") -> Path:
    """Where ``task``'s dataset is kept by default: ``data/tasks/<name>-<digest>``, the digest
    of the task and of its folder (two copies of one task file read different samples)."""
    import hashlib

    key = f"{task.digest()}:{task.base_dir.resolve()}".encode()
    return Path(root) / f"{task.name}-{hashlib.sha256(key).hexdigest()[:12]}"


def ensure_task_dataset(
    task: TaskConfig, out: str | os.PathLike[str] | None = None, say: Callable = print
) -> Path:
    """The task dataset of ``task`` in ``out`` (default :func:`task_dataset_dir`), built when
    missing or made from another task or other files."""
    out = Path(out) if out is not None else task_dataset_dir(task)
    sources = _source_hashes(task)
    if _is_current(out, task, sources):
        return out
    with destination_lock(out):
        if _is_current(out, task, sources):
            return out
        say(f"datrig: reading the task's samples into {out} ...")
        with atomic_dir(out, TASK_DATASET) as tmp:
            counts = {}
            for domain in task.sources:
                counts[domain] = _write_domain(task, domain, tmp / FILE_NAMES[domain])
            write_json(
                tmp / MARKER,
                {
                    "stage": TASK_DATASET.value,
                    "task": task.to_json(),
                    "digest": task.digest(),
                    "sources": sources,
                    "counts": counts,
                },
            )
    return out


def _source_hashes(task: TaskConfig) -> dict[str, list[dict]]:
    out = {}
    for domain in task.sources:
        files = task.files(domain)
        for f in files:
            if not f.is_file():
                raise SchemaError(f"sources.{domain}: file {f} not found")
        out[domain] = [
            {"file": str(f.name), "bytes": f.stat().st_size, "sha256": file_sha256(f)}
            for f in files
        ]
    return out


def _is_current(out: Path, task: TaskConfig, sources: dict) -> bool:
    try:
        doc = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(doc, dict)
        and doc.get("digest") == task.digest()
        and doc.get("sources") == sources
        and all((out / FILE_NAMES[d]).is_file() for d in task.sources)
    )


def _field_names(task: TaskConfig, domain: str) -> list[str]:
    cols = task.stored_columns()
    if domain == "data" and task.kind == "regression" and not task.sources[domain].truth:
        cols = [c for c in cols if c != task.target]
    return cols


def _write_domain(task: TaskConfig, domain: str, dest: Path) -> dict[str, int]:
    """Read one domain's files chunk by chunk into ``dest``; returns what was kept/dropped."""
    spec = task.sources[domain]
    columns = task.source_columns(domain)
    stored = _field_names(task, domain)
    dtype = np.dtype(
        [(c, "<f4") for c in stored]
        + [
            ("label", "i1"),
            ("weight", "<f4"),
            ("domain", "i1"),
            ("file", "<i4"),
            ("entry", "<i8"),
            ("index", "<i4"),
        ]
    )
    stats = {"read": 0, "selected": 0, "dropped_nonfinite": 0}
    weight_sum = 0.0
    classes = {0: 0, 1: 0}
    part = dest.with_name(dest.name + ".parts")
    with hdf5_writing(dest), h5py.File(part, "w") as parts:
        every = parts.create_dataset(
            "all", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(8192,)
        )
        keys = []
        buffers = [
            parts.create_dataset(str(k), shape=(0,), maxshape=(None,), dtype=dtype, chunks=(8192,))
            for k in range(3)
        ]
        reading = _Reading(task, domain, stored, dtype)
        for file_index, path in enumerate(task.files(domain)):
            with open_file(path, spec) as reader:
                reader.check_columns(columns)
                for chunk in reader.iterate(columns, CHUNK):
                    rows = reading.rows(chunk, path, file_index, stats)
                    weight_sum += float(rows["weight"].astype(np.float64).sum())
                    for c in (0, 1):
                        classes[c] += int(np.count_nonzero(rows["label"] == c))
                    keys.append(event_key(rows["entry"], file_index, task.seed))
                    _append(every, rows)
        split = stratified_split(every.fields("label")[()], np.concatenate(keys) if keys else [])
        for lo in range(0, every.shape[0], CHUNK):
            block = every[lo : lo + CHUNK]
            in_split = split[lo : lo + CHUNK]
            for k in range(3):
                _append(buffers[k], block[in_split == k])
        n_split = tuple(int(b.shape[0]) for b in buffers)
        if sum(n_split) == 0:
            raise SchemaError(
                f"sources.{domain}: no candidates left after the selection ({stats['read']} read)"
            )
        if not weight_sum > 0:
            raise SchemaError(
                f"sources.{domain}: the weights ({task.weight}) sum to {weight_sum:g}; they must "
                "sum to more than zero"
            )
        if domain == "sim" and task.kind == "classification" and min(classes.values()) == 0:
            raise SchemaError(
                f"sources.sim: the label ({task.label}) gives {classes[1]} signal and "
                f"{classes[0]} background candidates; a classifier needs both"
            )
        with h5py.File(dest, "w", libver=("v110", "v110")) as fh:
            table = fh.create_dataset(
                TASK_TABLE,
                shape=(sum(n_split),),
                dtype=dtype,
                chunks=(min(8192, sum(n_split)),),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                track_times=False,
            )
            start = 0
            for buf in buffers:
                for lo in range(0, buf.shape[0], CHUNK):
                    block = buf[lo : lo + CHUNK]
                    table[start : start + len(block)] = block
                    start += len(block)
            attrs = fh.attrs
            attrs["datrig_schema"] = TASK_SCHEMA
            attrs["domain"] = domain
            attrs["split_rows"] = np.array(n_split, np.int64)
            attrs["config"] = json.dumps(task.to_json(), sort_keys=True)
            attrs["units"] = json.dumps(task.units, sort_keys=True)
            attrs["complete"] = True  # last
    part.unlink()
    if stats["dropped_nonfinite"]:
        print(
            f"datrig: {domain}: dropped {stats['dropped_nonfinite']} candidate(s) with NaN/inf "
            "values (nonfinite: drop)",
            file=sys.stderr,
        )
    return {**stats, "stored": sum(n_split)}


class _Reading:
    """What turns one chunk of a source into task-dataset rows: the selection and the label
    (parsed once), the columns kept, the NaN policy."""

    def __init__(self, task: TaskConfig, domain: str, stored: list[str], dtype: np.dtype):
        self.task, self.stored, self.dtype = task, stored, dtype
        self.code = 0 if domain == "sim" else 1
        self.selection = task.selection_expr
        labelled = domain == "sim" or task.sources[domain].truth
        self.label = task.label_expr if labelled else None
        self.weight = task.weight if domain == "sim" else None

    def rows(
        self, chunk: dict[str, np.ndarray], path: Path, file_index: int, stats: dict[str, int]
    ) -> np.ndarray:
        """The selected candidates of ``chunk`` as rows (NaN/inf refused or dropped)."""
        floats = _floats(chunk, path)
        n = len(chunk[ENTRY])
        keep = np.ones(n, bool)
        if self.selection is not None:
            keep &= np.asarray(self.selection(floats), bool)
        stats["read"] += n
        stats["selected"] += int(keep.sum())
        values = {c: floats[c][keep] for c in self.stored}
        values["weight"] = floats[self.weight][keep] if self.weight else np.ones(int(keep.sum()))
        finite = np.ones(int(keep.sum()), bool)
        for c, v in values.items():
            ok = np.isfinite(v)
            if not ok.all() and self.task.nonfinite == "refuse":
                name = self.weight if c == "weight" else c
                raise SchemaError(
                    f"{path}: column {name!r} has {int((~ok).sum())} NaN/inf value(s) among the "
                    "selected candidates; fix the file, select them away (selection:) or set "
                    "nonfinite: drop"
                )
            finite &= ok
        rows = np.zeros(int(keep.sum()), self.dtype)
        for c, v in values.items():
            rows[c] = v
        rows["label"] = (
            -1 if self.label is None else _labels(self.task, self.label, floats, path)[keep]
        )
        rows["domain"], rows["file"] = self.code, file_index
        rows["entry"], rows["index"] = chunk[ENTRY][keep], chunk[INDEX][keep]
        stats["dropped_nonfinite"] += int((~finite).sum())
        return rows[finite]


def _floats(chunk: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """Every read column of a chunk as float64 (a non-numeric column is refused)."""
    out = {}
    for k, v in chunk.items():
        if k in (ENTRY, INDEX):
            continue
        arr = np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise SchemaError(f"{path}: column {k!r} is not numeric ({arr.dtype})")
        out[k] = arr.astype(np.float64)
    return out


def _labels(
    task: TaskConfig, expr: Expression, floats: dict[str, np.ndarray], path: Path
) -> np.ndarray:
    """0/1 labels of a chunk: the label column, or the comparison's truth value."""
    value = np.asarray(expr(floats))
    if value.dtype == bool:
        return value.astype(np.int8)
    bad = ~np.isin(value, (0, 1))
    if bad.any():
        found = sorted(set(np.unique(value[bad]).tolist()))[:5]
        raise SchemaError(
            f"{path}: label {task.label!r} has {int(bad.sum())} value(s) that are not 0 or 1 "
            f'(e.g. {found}); give a comparison such as "{task.label} == 1"'
        )
    return value.astype(np.int8)


def _append(ds: h5py.Dataset, rows: np.ndarray) -> None:
    if len(rows):
        n = ds.shape[0]
        ds.resize((n + len(rows),))
        ds[n:] = rows
