"""The parts of a task file below its top level: its sources, inputs and the typed
``model`` and ``calibration`` sections, each checked into one :class:`SchemaError` line
(``bad`` builds it with the file's name)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datrig.data.expr import parse
from datrig.data.features import TRANSFORMS
from datrig.data.sources import SourceSpec, file_format
from datrig.errors import DatrigError, SchemaError, short
from datrig.paths import resolve_inside

DOMAINS = ("sim", "data")
SOURCE_KEYS = {"files", "tree", "table", "collection", "truth", "toy"}
TOY_SAMPLES = {"photons": "candidates", "diphoton": "events"}


@dataclass(frozen=True)
class InputDef:
    """One network input: a column, its transform and, optionally, a fixed affine map
    (``(transform(x) - offset) / scale``; unset: fitted on the simulation, as datrig's own)."""

    column: str
    transform: str = "identity"
    scale: float | None = None
    offset: float | None = None


TASK_EPOCHS = 30  # a task's training length when its model section gives none


@dataclass(frozen=True)
class ModelSection:
    """How the task's network (or tree ensemble) is trained (unset: datrig's defaults)."""

    kind: str = "network"  # or "bdt": a boosted tree ensemble, exported with conifer
    trees: int = 60  # bdt: number of trees ...
    depth: int = 4  # ... and their depth
    hidden: tuple[int, ...] = (32, 16)
    compensation_hidden: tuple[int, ...] = (8, 4)
    bits: int | str = 8
    penalty: str | None = None  # None: ddt with protected and condition, else none
    lam: float | None = None
    epochs: int | None = None  # None: TASK_EPOCHS, unless updates is given
    # the training length in updates instead (over the simulated training candidates): as
    # many epochs as give this many, so a smaller sample is optimised as far as a larger one
    updates: int | None = None
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


def is_column(text: str) -> bool:
    try:
        expr = parse(text, "column")
    except SchemaError:
        return False
    return expr.columns == (text.strip(),)


def parse_sources(raw: Any, base_dir: Path, bad, check_paths: bool) -> dict[str, SourceSpec]:
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


def parse_inputs(raw: Any, bad) -> tuple[InputDef, ...]:
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
        if not isinstance(column, str) or not is_column(column):
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


def parse_section(cls: type, raw: Any, name: str, bad) -> Any:
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
        elif key in ("act_rounding", "lr_schedule", "kind"):
            allowed = {
                "act_rounding": ("round", "floor"),
                "lr_schedule": ("constant", "cosine"),
                "kind": ("network", "bdt"),
            }[key]
            if value not in allowed:
                raise bad(f"{where} must be one of {', '.join(allowed)}")
        elif key in ("epochs", "updates"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"{where} must be a positive integer, got {short(value)}")
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
    if isinstance(section, ModelSection) and None not in (section.epochs, section.updates):
        raise bad("model: give the training length as epochs or as updates, not both")
    return section
