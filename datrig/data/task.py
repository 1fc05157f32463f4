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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datrig.data.expr import Expression, parse
from datrig.data.sources import SourceSpec
from datrig.data.task_sections import (
    CalibrationSection,
    InputDef,
    ModelSection,
    is_column,
    parse_inputs,
    parse_section,
    parse_sources,
)
from datrig.errors import DatrigError, SchemaError, short
from datrig.paths import resolve_inside, safe_name
from datrig.yamlio import load_yaml

KINDS = ("classification", "regression")
NONFINITE = ("refuse", "drop")


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
    sources = parse_sources(raw["sources"], base_dir, bad, check_paths)
    inputs = parse_inputs(raw["inputs"], bad)
    strings = {}
    for key in ("label", "weight", "protected", "condition", "target", "reference", "selection"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise bad(f"{key} must be a column name (or an expression), got {short(value)}")
        strings[key] = value
    for key in ("weight", "protected", "condition", "target", "reference"):
        if strings[key] is not None and not is_column(strings[key]):
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
        model=parse_section(ModelSection, raw.get("model"), "model", bad),
        firmware=firmware,
        calibration=parse_section(CalibrationSection, raw.get("calibration"), "calibration", bad),
        seed=seed,
        base_dir=base_dir,
        **strings,
    )
