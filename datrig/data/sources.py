"""Columns from a physicist's own files: ROOT TTrees, HDF5 tables and parquet, read in chunks.

One interface for three formats (:class:`ColumnReader`): the columns a file offers, how many
candidates it holds, and an iterator over chunks of the requested columns as numpy arrays, in
file order, with each candidate's entry number (the TTree entry or table row it came from) so
results can be joined back to the user's ntuple. Memory is bounded by the chunk, never by the
file.

* ROOT (uproot): ``tree`` names the TTree. A *collection* (CMS NanoAOD: ``nPhoton`` and jagged
  ``Photon_*`` branches) makes every element of the jagged branches one candidate; ``entry``
  is then the event and ``index`` the element within it. A jagged branch read without a
  collection is refused, or an element is taken explicitly: ``Jet_pt[0]`` (NaN where absent).
* HDF5 (h5py): ``table`` is a 1-D compound dataset (named fields) or a group of equally long
  1-D datasets (SALT's and pandas' layouts); links and virtual datasets are refused.
* parquet (pyarrow): columns of the file's schema; list columns behave like jagged branches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.errors import SchemaError, short

ENTRY = "__entry__"  # the entry (event) number of each candidate, in its file
INDEX = "__index__"  # the element within the event's collection (0 without a collection)
FORMATS = {".root": "root", ".h5": "hdf5", ".hdf5": "hdf5", ".parquet": "parquet", ".pq": "parquet"}
_ELEMENT = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<k>\d+)\]$")


@dataclass(frozen=True)
class SourceSpec:
    """Where one domain's candidates are: files (paths relative to the task file) and, by
    format, the tree, the table and the collection."""

    files: tuple[str, ...]
    tree: str | None = None
    table: str | None = None
    collection: str | None = None
    truth: bool = False  # data only: the files carry the label, used for closure tests alone
    toy: str | None = None  # the embedded toy's sample (photons, diphoton): data/default

    def to_json(self) -> dict:
        if self.toy is not None:
            return {"toy": self.toy, **({"truth": True} if self.truth else {})}
        out: dict = {"files": list(self.files)}
        for key in ("tree", "table", "collection"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.truth:
            out["truth"] = True
        return out


def file_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SchemaError(
            f"{path}: unknown format {suffix!r}; datrig reads .root (TTree), .h5/.hdf5 (table) "
            "and .parquet files"
        )
    return FORMATS[suffix]


class ColumnReader:
    """One file of one source (see module docstring)."""

    def __init__(self, path: Path, spec: SourceSpec) -> None:
        self.path, self.spec = Path(path), spec
        if not self.path.is_file():
            raise SchemaError(f"{self.path}: no such file")

    def columns(self) -> list[str]:
        raise NotImplementedError

    def n_rows(self) -> int:
        raise NotImplementedError

    def n_entries(self) -> int:
        """Entries (events, rows) of the file: what a friend tree must have."""
        raise NotImplementedError

    def iterate(self, columns: list[str], step: int) -> Iterator[dict[str, np.ndarray]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (readers hold it open between chunks)."""
        handle = getattr(self, "_file", None) or getattr(self, "_fh", None)
        if handle is not None and hasattr(handle, "close"):
            handle.close()

    def __enter__(self) -> ColumnReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_columns(self, columns: list[str]) -> None:
        """A clear error naming the missing columns and listing what the file has."""
        available = set(self.columns())
        missing = [c for c in columns if _ELEMENT.sub(r"\g<name>", c) not in available]
        if missing:
            have = sorted(available)
            listing = ", ".join(have[:40]) + (
                f", ... ({len(have)} in all)" if len(have) > 40 else ""
            )
            raise SchemaError(
                f"{self.path}: no column(s) {', '.join(missing)}{self._where()}; it has: {listing}"
            )

    def _where(self) -> str:
        for key in ("tree", "table", "collection"):
            if getattr(self.spec, key):
                return f" in {key} {getattr(self.spec, key)!r}"
        return ""


# --- ROOT ----------------------------------------------------------------------------------


class RootReader(ColumnReader):
    def __init__(self, path: Path, spec: SourceSpec) -> None:
        super().__init__(path, spec)
        import uproot

        try:
            self._file = uproot.open(self.path)
        except Exception as exc:  # uproot raises assorted errors for non-ROOT files
            raise SchemaError(f"{self.path} is not a readable ROOT file ({short(exc)})") from None
        trees = sorted(
            {
                k.split(";")[0]
                for k, c in self._file.classnames().items()
                if c.startswith("TTree") or c.startswith("TNtuple")
            }
        )
        if spec.tree is None:
            if len(trees) != 1:
                raise SchemaError(
                    f"{self.path} holds {len(trees)} trees ({', '.join(trees) or 'none'}); "
                    "name one with tree:"
                )
            name = trees[0]
        else:
            name = spec.tree
        if name not in trees:
            raise SchemaError(
                f"{self.path}: no TTree {name!r}; it has: {', '.join(trees) or 'no trees'}"
            )
        self._tree = self._file[name]
        self._branches = set(self._tree.keys(recursive=False))

    def columns(self) -> list[str]:
        return sorted(self._branches)

    def _counter(self) -> str:
        counter = f"n{self.spec.collection}"
        if counter not in self._branches:
            raise SchemaError(
                f"{self.path}: collection {self.spec.collection!r} has no counter branch "
                f"{counter!r} (NanoAOD names it n<Collection>)"
            )
        return counter

    def _jagged(self, name: str) -> bool:
        import uproot

        interp = self._tree[name].interpretation
        return (
            isinstance(interp, uproot.interpretation.jagged.AsJagged)
            or not hasattr(interp, "numpy_dtype")
            or getattr(interp, "inner_shape", ()) != ()
        )

    def _plan(self, columns: list[str]) -> dict[str, tuple[str, int | None]]:
        """column -> (branch, element index or None), checking jaggedness."""
        self.check_columns(columns)
        plan = {}
        prefix = f"{self.spec.collection}_" if self.spec.collection else None
        for col in columns:
            m = _ELEMENT.match(col)
            branch, k = (m["name"], int(m["k"])) if m else (col, None)
            jagged = self._jagged(branch)
            if prefix and k is None and not (branch.startswith(prefix) and jagged):
                raise SchemaError(
                    f"{self.path}: column {col!r} is not an element of collection "
                    f"{self.spec.collection!r} (its branches are {prefix}*, one value per object)"
                )
            if not prefix and jagged and k is None:
                raise SchemaError(
                    f"{self.path}: branch {col!r} holds a vector per event; name its collection "
                    f"(collection: {branch.split('_')[0]}) so each element is a candidate, or take "
                    f"one element explicitly ({col}[0])"
                )
            if k is not None and not jagged:
                raise SchemaError(f"{self.path}: {col!r}: branch {branch!r} is not a vector")
            plan[col] = (branch, k)
        return plan

    def n_entries(self) -> int:
        return int(self._tree.num_entries)

    def n_rows(self) -> int:
        if not self.spec.collection:
            return int(self._tree.num_entries)
        counter = self._counter()
        total = 0
        for chunk in self._tree.iterate([counter], step_size=1_000_000, library="np"):
            total += int(chunk[counter].sum())
        return total

    def iterate(self, columns: list[str], step: int) -> Iterator[dict[str, np.ndarray]]:
        import awkward as ak

        plan = self._plan(columns)
        branches = sorted({b for b, _ in plan.values()})
        if self.spec.collection:
            branches.append(self._counter())
        start = 0
        for chunk in self._tree.iterate(branches, step_size=step, library="ak"):
            n_events = len(chunk)
            entries = np.arange(start, start + n_events, dtype=np.int64)
            start += n_events
            out: dict[str, np.ndarray] = {}
            if self.spec.collection:
                counts = ak.to_numpy(chunk[self._counter()]).astype(np.int64)
                out[ENTRY] = np.repeat(entries, counts)
                out[INDEX] = _local_index(counts)
            else:
                out[ENTRY], out[INDEX] = entries, np.zeros(n_events, np.int64)
            for col, (branch, k) in plan.items():
                values = chunk[branch]
                if k is not None:
                    padded = ak.pad_none(values, k + 1, axis=1)[:, k]
                    out[col] = ak.to_numpy(ak.fill_none(padded, np.nan)).astype(np.float64)
                elif self.spec.collection:
                    flat = ak.to_numpy(ak.flatten(values))
                    if len(flat) != len(out[ENTRY]):
                        raise SchemaError(
                            f"{self.path}: branch {branch!r} has {len(flat)} elements in entries "
                            f"{start - n_events}-{start - 1}, the counter {len(out[ENTRY])}"
                        )
                    out[col] = flat
                else:
                    out[col] = ak.to_numpy(values)
            yield out


def _local_index(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., count-1 for every event: the element's index within its event."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


# --- HDF5 ----------------------------------------------------------------------------------


class Hdf5Reader(ColumnReader):
    def __init__(self, path: Path, spec: SourceSpec) -> None:
        super().__init__(path, spec)
        import h5py

        from datrig.data.reader import refuse_links

        if not h5py.is_hdf5(self.path):
            raise SchemaError(f"{self.path} is not an HDF5 file")
        if spec.collection:
            raise SchemaError(f"{self.path}: collections are read from ROOT or parquet files")
        try:
            fh = h5py.File(self.path, "r")
        except OSError as exc:
            raise SchemaError(f"{self.path}: unreadable HDF5 file ({short(exc)})") from None
        self._fh = fh
        refuse_links(self.path, fh)
        objects = sorted(fh)
        name = spec.table
        if name is None:
            if len(objects) != 1:
                raise SchemaError(
                    f"{self.path} holds {', '.join(objects) or 'nothing'}; name the table with "
                    "table:"
                )
            name = objects[0]
        if name not in fh:
            raise SchemaError(f"{self.path}: no table {name!r}; it has: {', '.join(objects)}")
        obj = fh[name]
        if isinstance(obj, h5py.Dataset):
            if obj.ndim != 1 or obj.dtype.names is None:
                raise SchemaError(
                    f"{self.path}: {name!r} is not a table (a 1-D dataset of named fields, or a "
                    f"group of 1-D datasets); got shape {obj.shape} of {obj.dtype}"
                )
            self._columns = {f: None for f in obj.dtype.names}
            self._n = int(obj.shape[0])
        else:
            refuse_links(self.path, obj)
            cols = {k: v for k, v in obj.items() if isinstance(v, h5py.Dataset)}
            lengths = {k: v.shape[0] if v.ndim >= 1 else -1 for k, v in cols.items()}
            flat = {k: v for k, v in cols.items() if v.ndim == 1}
            if not flat or len({lengths[k] for k in flat}) != 1:
                raise SchemaError(
                    f"{self.path}: group {name!r} must hold 1-D datasets of one length (a column "
                    f"each); lengths {short(lengths)}"
                )
            self._columns = {k: k for k in flat}
            self._vectors = {k for k in cols if k not in flat}
            self._n = int(next(iter(lengths[k] for k in flat)))
        self._obj = obj

    def columns(self) -> list[str]:
        return sorted(self._columns)

    def n_rows(self) -> int:
        return self._n

    def n_entries(self) -> int:
        return self._n

    def iterate(self, columns: list[str], step: int) -> Iterator[dict[str, np.ndarray]]:
        self.check_columns(columns)
        for col in columns:
            if _ELEMENT.match(col):
                raise SchemaError(f"{self.path}: element columns ({col}) are for ROOT vectors")
        for lo in range(0, self._n, step):
            hi = min(self._n, lo + step)
            if getattr(self._obj, "dtype", None) is not None:
                rows = self._obj[lo:hi]
                out = {c: np.asarray(rows[c]) for c in columns}
            else:
                out = {c: self._obj[c][lo:hi] for c in columns}
            out[ENTRY] = np.arange(lo, hi, dtype=np.int64)
            out[INDEX] = np.zeros(hi - lo, np.int64)
            yield out


# --- parquet -------------------------------------------------------------------------------


class ParquetReader(ColumnReader):
    def __init__(self, path: Path, spec: SourceSpec) -> None:
        super().__init__(path, spec)
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as exc:
            raise SchemaError(
                f"{self.path} is not a readable parquet file ({short(exc)})"
            ) from None
        self._schema = self._file.schema_arrow

    def columns(self) -> list[str]:
        return sorted(self._schema.names)

    def _is_list(self, name: str) -> bool:
        import pyarrow as pa

        t = self._schema.field(name).type
        return pa.types.is_list(t) or pa.types.is_large_list(t)

    def n_entries(self) -> int:
        return int(self._file.metadata.num_rows)

    def n_rows(self) -> int:
        if not self.spec.collection:
            return int(self._file.metadata.num_rows)
        lists = [
            c
            for c in self.columns()
            if c.startswith(f"{self.spec.collection}_") and self._is_list(c)
        ]
        if not lists:
            raise SchemaError(f"{self.path}: no list columns {self.spec.collection}_*")
        total = 0
        for batch in self._file.iter_batches(batch_size=1_000_000, columns=lists[:1]):
            total += int(np.sum(batch.column(0).value_lengths().to_numpy(zero_copy_only=False)))
        return total

    def iterate(self, columns: list[str], step: int) -> Iterator[dict[str, np.ndarray]]:
        self.check_columns(columns)
        prefix = f"{self.spec.collection}_" if self.spec.collection else None
        for col in columns:
            is_list = self._is_list(col)
            if prefix and not (col.startswith(prefix) and is_list):
                raise SchemaError(
                    f"{self.path}: column {col!r} is not an element of collection "
                    f"{self.spec.collection!r}"
                )
            if not prefix and is_list:
                raise SchemaError(
                    f"{self.path}: column {col!r} holds a list per row; name its collection "
                    "(collection:) so each element is a candidate"
                )
        start = 0
        for batch in self._file.iter_batches(batch_size=step, columns=columns):
            n = batch.num_rows
            entries = np.arange(start, start + n, dtype=np.int64)
            start += n
            out: dict[str, np.ndarray] = {}
            if prefix:
                counts = batch.column(0).value_lengths().to_numpy(zero_copy_only=False)
                counts = counts.astype(np.int64)
                out[ENTRY], out[INDEX] = np.repeat(entries, counts), _local_index(counts)
                for i, col in enumerate(columns):
                    arr = batch.column(i)
                    if not np.array_equal(
                        arr.value_lengths().to_numpy(zero_copy_only=False), counts
                    ):
                        raise SchemaError(
                            f"{self.path}: {col!r} has other list lengths than {columns[0]!r}"
                        )
                    out[col] = arr.flatten().to_numpy(zero_copy_only=False)
            else:
                out[ENTRY], out[INDEX] = entries, np.zeros(n, np.int64)
                for i, col in enumerate(columns):
                    out[col] = batch.column(i).to_numpy(zero_copy_only=False)
            yield out


READERS: dict[str, type[ColumnReader]] = {
    "root": RootReader,
    "hdf5": Hdf5Reader,
    "parquet": ParquetReader,
}


def open_file(path: str | os.PathLike[str], spec: SourceSpec) -> ColumnReader:
    """The reader of one file of a source, by its suffix."""
    return READERS[file_format(path)](Path(path), spec)
