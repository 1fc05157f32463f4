"""Task files: one typed YAML file declares a whole task on a physicist's own samples.

The contract (docs/tasks.md has every key)::

    name: electron_id                # folder-name rules
    kind: classification             # or regression
    sources:
      sim:  {files: [mc.root], tree: electrons}    # .root TTree, .h5 table, .parquet
      data: {files: [run3.root], tree: electrons}  # optional; needs no label, weight or truth
    inputs: [el_pt, {column: el_eta, transform: abs}, el_Rhad]
    label: is_prompt                 # sim only: a 0/1 column or a comparison, "flav == 1"
    weight: weight_mc                # optional, signed
    protected: el_ptvarcone20        # what the penalty decorrelates the output from
    condition: el_pt                 # optional: decorrelation must hold at fixed values of it
    target: el_e_true                # regression only (sim), with reference: el_e_raw

Optional sections: ``selection`` (an expression), ``nonfinite`` (``refuse`` or ``drop``),
``units``, ``model`` (widths, bits, penalty and training settings), ``firmware`` (a firmware
config file or mapping), ``calibration`` (the ABCD plane) and ``seed`` (the split).

Every mistake is one :class:`~datrig.errors.SchemaError` line naming the file and the key.
Paths in a task file are relative to it and must stay inside its folder (no ``..``, no
absolute path, no symlink out): a task file is data that people share.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datrig.data.expr import Expression, parse
from datrig.data.features import TRANSFORMS
from datrig.data.sources import SourceSpec, file_format
from datrig.errors import DatrigError, SchemaError, short
from datrig.paths import resolve_inside, safe_name
from datrig.yamlio import load_yaml

KINDS = ("classification", "regression")
DOMAINS = ("sim", "data")
NONFINITE = ("refuse", "drop")


@dataclass(frozen=True)
class InputDef:
    """One network input: a column, its transform and, optionally, a fixed affine map
    (``(transform(x) - offset) / scale``; unset: fitted on the simulation, as datrig's own)."""

    column: str
    transform: str = "identity"
    scale: float | None = None
    offset: float | None = None


@dataclass(frozen=True)
class ModelSection:
    """How the task's network is trained (unset: datrig's defaults for a task)."""

    hidden: tuple[int, ...] = (32, 16)
    compensation_hidden: tuple[int, ...] = (8, 4)
    bits: int | str = 8
    penalty: str | None = None  # None: ddt with protected and condition, else none
    lam: float | None = None
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 3e-3
    n_train: int | None = None  # None: every training candidate
    resource_lam: float | None = None
    act_rounding: str = "round"  # hidden ReLUs: "round", or "floor" (one adder level less)
    lr_schedule: str = "cosine"


@dataclass(frozen=True)
class CalibrationSection:
    """The ABCD plane: the ID working point, the isolated region (below this quantile of the
    simulated signal's protected variable), the gap to the non-isolated one (in the protected
    variable's units; None: a tenth of the isolated range), the control band and the
    condition bins."""

    efficiency: float = 0.8
    isolated_quantile: float = 0.9
    gap: float | None = None
    control_efficiency: float = 0.998
    condition_bins: int = 3


@dataclass(frozen=True)
class TaskConfig:
    name: str
    kind: str
    sources: dict[str, SourceSpec]
    inputs: tuple[InputDef, ...]
    label: str | None = None
    weight: str | None = None
    protected: str | None = None
    condition: str | None = None
    target: str | None = None
    reference: str | None = None
    selection: str | None = None
    nonfinite: str = "refuse"
    units: dict[str, str] = field(default_factory=dict)
    model: ModelSection = field(default_factory=ModelSection)
    firmware: dict[str, Any] | str | None = None
    calibration: CalibrationSection = field(default_factory=CalibrationSection)
    seed: int = 0
    base_dir: Path = field(default=Path("."), compare=False)
    # the simulated dataset a ``toy`` source reads (set by the command that runs the task)
    toy_dir: Path | None = field(default=None, compare=False)

    @property
    def uses_toy(self) -> bool:
        return any(s.toy is not None for s in self.sources.values())

    # -- what the task reads --------------------------------------------------------------
    @property
    def label_expr(self) -> Expression | None:
        return None if self.label is None else parse(self.label, "label")

    @property
    def selection_expr(self) -> Expression | None:
        return None if self.selection is None else parse(self.selection, "selection")

    @property
    def input_columns(self) -> list[str]:
        return [i.column for i in self.inputs]

    def stored_columns(self) -> list[str]:
        """The source columns a task dataset keeps: inputs, protected, condition, target and
        reference (unique, in that order)."""
        cols = [*self.input_columns]
        for extra in (self.protected, self.condition, self.target, self.reference):
            if extra is not None:
                cols.append(extra)
        return list(dict.fromkeys(cols))

    def source_columns(self, domain: str) -> list[str]:
        """Every column read from the ``domain`` source (labels and weights only in sim, or
        in data marked ``truth``)."""
        cols = self.stored_columns()
        if self.selection_expr is not None:
            cols += list(self.selection_expr.columns)
        labelled = domain == "sim" or self.sources[domain].truth
        if labelled and self.label_expr is not None:
            cols += list(self.label_expr.columns)
        if domain == "sim" and self.weight is not None:
            cols.append(self.weight)
        if domain == "data" and self.kind == "regression":
            cols = [c for c in cols if c != self.target or self.sources[domain].truth]
        return list(dict.fromkeys(cols))

    def files(self, domain: str) -> list[Path]:
        """The ``domain`` source's files, resolved inside the task file's folder; the toy's
        file of the default dataset (``data/default``, simulated on first use) for a ``toy``
        source."""
        spec = self.sources[domain]
        if spec.toy is not None:
            from datrig.data.manifest import dataset_file

            if self.toy_dir is None:
                raise DatrigError("internal error: the toy's dataset folder was not resolved")
            return [dataset_file(self.toy_dir, spec.toy, domain)]
        return [
            resolve_inside(self.base_dir, f, f"sources.{domain}.files")
            for f in self.sources[domain].files
        ]

    # -- serialisation ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The task as plain JSON (recorded in runs and projects; base_dir excluded)."""
        doc = {
            "name": self.name,
            "kind": self.kind,
            "sources": {d: s.to_json() for d, s in self.sources.items()},
            "inputs": [_input_json(i) for i in self.inputs],
            "label": self.label,
            "weight": self.weight,
            "protected": self.protected,
            "condition": self.condition,
            "target": self.target,
            "reference": self.reference,
            "selection": self.selection,
            "nonfinite": self.nonfinite,
            "units": dict(self.units),
            "model": {k: _plain(v) for k, v in dataclasses.asdict(self.model).items()},
            "firmware": self.firmware,
            "calibration": dataclasses.asdict(self.calibration),
            "seed": self.seed,
        }
        return doc

    def digest(self) -> str:
        """sha256 of the task's JSON: what a task dataset or run was made from."""
        text = json.dumps(self.to_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, doc: Any, base_dir: str | os.PathLike[str], source: str) -> TaskConfig:
        """A task recorded in a run or project (its paths are not opened from there)."""
        return parse_task(doc, Path(base_dir), source, check_paths=False)


def _input_json(i: InputDef) -> dict[str, Any]:
    out: dict[str, Any] = {"column": i.column, "transform": i.transform}
    if i.scale is not None:
        out["scale"], out["offset"] = i.scale, i.offset or 0.0
    return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def load_task(path: str | os.PathLike[str]) -> TaskConfig:
    """Read and validate a task file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"task file {path} not found")
    return parse_task(load_yaml(path), path.resolve().parent, str(path))


# --- validation ------------------------------------------------------------------------------

TOP_KEYS = {
    "name",
    "kind",
    "sources",
    "inputs",
    "label",
    "weight",
    "protected",
    "condition",
    "target",
    "reference",
    "selection",
    "nonfinite",
    "units",
    "model",
    "firmware",
    "calibration",
    "seed",
}
SOURCE_KEYS = {"files", "tree", "table", "collection", "truth", "toy"}
TOY_SAMPLES = {"photons": "candidates", "diphoton": "events"}


def parse_task(raw: Any, base_dir: Path, source: str, check_paths: bool = True) -> TaskConfig:
    """A TaskConfig from a YAML/JSON mapping; one SchemaError line per mistake."""

    def bad(what: str) -> SchemaError:
        return SchemaError(f"{source}: {what}")

    if not isinstance(raw, dict):
        raise bad("a task file is a mapping of keys (name, kind, sources, inputs, ...)")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "kind", "sources", "inputs"):
        if key not in raw:
            raise bad(f"missing key {key!r}")
    try:
        name = safe_name(raw["name"], "name")
    except DatrigError as exc:
        raise bad(str(exc)) from None
    kind = raw["kind"]
    if kind not in KINDS:
        raise bad(f"kind must be one of {', '.join(KINDS)}, got {short(kind)}")
    sources = _sources(raw["sources"], base_dir, bad, check_paths)
    inputs = _inputs(raw["inputs"], bad)
    strings = {}
    for key in ("label", "weight", "protected", "condition", "target", "reference", "selection"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise bad(f"{key} must be a column name (or an expression), got {short(value)}")
        strings[key] = value
    for key in ("weight", "protected", "condition", "target", "reference"):
        if strings[key] is not None and not _is_column(strings[key]):
            raise bad(f"{key} must be one column name, got {short(strings[key])}")
    for key in ("label", "selection"):
        if strings[key] is not None:
            try:
                parse(strings[key], key)
            except SchemaError as exc:
                raise bad(str(exc)) from None
    if kind == "classification" and strings["label"] is None:
        raise bad("a classification task needs a label (a 0/1 column or a comparison)")
    if kind == "regression":
        for key in ("target", "reference"):
            if strings[key] is None:
                raise bad(f"a regression task needs {key} (the network predicts target/reference)")
    nonfinite = raw.get("nonfinite", "refuse")
    if nonfinite not in NONFINITE:
        raise bad(f"nonfinite must be one of {', '.join(NONFINITE)}, got {short(nonfinite)}")
    units = raw.get("units", {}) or {}
    if not isinstance(units, dict) or not all(isinstance(v, str) for v in units.values()):
        raise bad("units must map column names to unit strings")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise bad(f"seed must be an integer >= 0, got {short(seed)}")
    firmware = raw.get("firmware")
    if firmware is not None and not isinstance(firmware, (str, dict)):
        raise bad("firmware must be a firmware config file (relative path) or a mapping")
    if isinstance(firmware, str) and check_paths:
        try:  # the config is kept in the task's record, so runs and projects carry it
            firmware = load_yaml(resolve_inside(base_dir, firmware, "firmware"))
        except DatrigError as exc:
            raise bad(str(exc)) from None
        if not isinstance(firmware, dict):
            raise bad("the firmware config file must hold a mapping")
    reserved = {"label", "weight", "domain", "file", "entry", "index"}  # the dataset's own
    columns = [i.column for i in inputs] + [
        strings[k] for k in ("protected", "condition", "target", "reference") if strings[k]
    ]
    clash = sorted(reserved & set(columns))
    if clash:
        raise bad(
            f"column(s) {', '.join(clash)} would clash with the task dataset's own fields "
            f"({', '.join(sorted(reserved))}); rename them in your files"
        )
    return TaskConfig(
        name=name,
        kind=kind,
        sources=sources,
        inputs=inputs,
        nonfinite=nonfinite,
        units={str(k): v for k, v in units.items()},
        model=_section(ModelSection, raw.get("model"), "model", bad),
        firmware=firmware,
        calibration=_section(CalibrationSection, raw.get("calibration"), "calibration", bad),
        seed=seed,
        base_dir=base_dir,
        **strings,
    )


def _is_column(text: str) -> bool:
    try:
        expr = parse(text, "column")
    except SchemaError:
        return False
    return expr.columns == (text.strip(),)


def _sources(raw: Any, base_dir: Path, bad, check_paths: bool) -> dict[str, SourceSpec]:
    if not isinstance(raw, dict) or "sim" not in raw:
        raise bad("sources must map sim (and optionally data) to {files: [...], ...}")
    unknown = sorted(set(map(str, raw)) - set(DOMAINS))
    if unknown:
        raise bad(f"sources: unknown domain(s) {', '.join(unknown)}; use sim and data")
    out = {}
    for domain, spec in raw.items():
        where = f"sources.{domain}"
        if not isinstance(spec, dict):
            raise bad(f"{where} must be a mapping with files: [...]")
        extra = sorted(set(map(str, spec)) - SOURCE_KEYS)
        if extra:
            raise bad(
                f"{where}: unknown key(s) {', '.join(extra)}; valid: "
                f"{', '.join(sorted(SOURCE_KEYS))}"
            )
        toy = spec.get("toy")
        if toy is not None:
            if toy not in TOY_SAMPLES or "files" in spec:
                raise bad(f"{where}.toy must be one of {', '.join(TOY_SAMPLES)} (the embedded "
                          "toy's sample, instead of files)")  # fmt: skip
            truth = spec.get("truth", domain == "data")
            out[domain] = SourceSpec(("toy",), table=TOY_SAMPLES[toy], truth=bool(truth), toy=toy)
            continue
        files = spec.get("files")
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise bad(f"{where}.files must be a non-empty list of paths")
        for f in files:
            try:
                if check_paths:
                    resolve_inside(base_dir, f, f"{where}.files")
                file_format(f)
            except DatrigError as exc:
                raise bad(str(exc)) from None
        for key in ("tree", "table", "collection"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise bad(f"{where}.{key} must be a name, got {short(spec[key])}")
        truth = spec.get("truth", False)
        if not isinstance(truth, bool) or (truth and domain == "sim"):
            raise bad(f"{where}.truth is a yes/no for the data source (labels kept for closure)")
        out[domain] = SourceSpec(
            tuple(files), spec.get("tree"), spec.get("table"), spec.get("collection"), truth
        )
    return out


def _inputs(raw: Any, bad) -> tuple[InputDef, ...]:
    if not isinstance(raw, list) or not raw:
        raise bad("inputs must be a non-empty list of column names or {column, transform}")
    out = []
    for k, item in enumerate(raw):
        if isinstance(item, str):
            item = {"column": item}
        if not isinstance(item, dict) or "column" not in item:
            raise bad(f"inputs[{k}] must be a column name or a mapping with column:")
        extra = sorted(set(item) - {"column", "transform", "scale", "offset"})
        if extra:
            raise bad(f"inputs[{k}]: unknown key(s) {', '.join(extra)}")
        column, transform = item["column"], item.get("transform", "identity")
        if not isinstance(column, str) or not _is_column(column):
            raise bad(f"inputs[{k}].column must be a column name, got {short(column)}")
        if transform not in TRANSFORMS:
            raise bad(
                f"inputs[{k}].transform {short(transform)} is not one of {', '.join(TRANSFORMS)}"
            )
        scale, offset = item.get("scale"), item.get("offset")
        for key, value in (("scale", scale), ("offset", offset)):
            if value is not None and (not _number(value) or (key == "scale" and value <= 0)):
                raise bad(f"inputs[{k}].{key} must be a finite number{' > 0' * (key == 'scale')}")
        if (scale is None) != (offset is None) and scale is None:
            raise bad(f"inputs[{k}]: offset needs a scale")
        out.append(
            InputDef(
                column,
                transform,
                None if scale is None else float(scale),
                None if scale is None else float(offset or 0.0),
            )
        )
    names = [i.column for i in out]
    if len(set(names)) != len(names):
        raise bad("inputs list a column twice")
    fixed = {i.scale is None for i in out}
    if len(fixed) > 1:
        raise bad("give scale (and offset) for every input or for none")
    return tuple(out)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _section(cls: type, raw: Any, name: str, bad) -> Any:
    """A dataclass section from a mapping, strictly typed (an int is a float, not vice versa)."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise bad(f"{name} must be a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, raw)) - set(known))
    if unknown:
        raise bad(f"{name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    values = {}
    for key, value in raw.items():
        default = known[key].default
        where = f"{name}.{key}"
        if value is None and default is None:  # an optional setting left unset
            values[key] = None
            continue
        if key in ("hidden", "compensation_hidden"):
            if (
                not isinstance(value, list)
                or not all(
                    isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 4096 for w in value
                )
                or (key == "hidden" and not value)
            ):
                raise bad(f"{where} must be a list of widths from 1 to 4096")
            value = tuple(value)
        elif key == "bits":
            if value != "auto" and not (isinstance(value, int) and 2 <= value <= 16):
                raise bad(f"{where} must be an integer from 2 to 16, or auto")
        elif key == "penalty":
            if not isinstance(value, str):
                raise bad(f"{where} must be a penalty name")
        elif key in ("act_rounding", "lr_schedule"):
            allowed = ("round", "floor") if key == "act_rounding" else ("constant", "cosine")
            if value not in allowed:
                raise bad(f"{where} must be one of {', '.join(allowed)}")
        elif key == "gap" or key in ("lam", "resource_lam", "n_train"):
            if value is not None and not _number(value):
                raise bad(f"{where} must be a number")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"{where} must be a positive integer, got {short(value)}")
        elif isinstance(default, float):
            if not _number(value) or value <= 0:
                raise bad(f"{where} must be a positive number, got {short(value)}")
            value = float(value)
        values[key] = value
    section = cls(**values)
    if isinstance(section, CalibrationSection):
        for key in ("efficiency", "isolated_quantile", "control_efficiency"):
            if not 0 < getattr(section, key) < 1:
                raise bad(f"calibration.{key} must be a fraction between 0 and 1")
    if isinstance(section, ModelSection) and section.n_train is not None and section.n_train < 10:
        raise bad("model.n_train must be at least 10")
    return section
