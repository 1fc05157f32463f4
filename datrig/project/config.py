"""Typed firmware configuration, parsed and validated once from ``firmware_configs/<model>.yml``.

The YAML says how the hls4ml project is built (backend, FPGA part, clock, io_type, strategy,
reuse factor, per-layer precision overrides), what the trigger allows (latency, initiation
interval and resource budgets) and how many events the verification uses. Everything is
checked here, at load, so nothing later can abort inside the C-simulation: unknown keys,
precisions the emulator cannot represent (``fixed<0,0>``, ``fixed<2000,40>``), negative
budgets, an unknown FPGA part. Precisions become :class:`FixedType` here and nowhere else.

``rounding`` and ``overflow`` are the modes of every precision in the file that does not spell
its own out: ``fixed<16,6>`` means ``fixed<16,6,<rounding>,<overflow>>``. (Types datrig
derives itself are exact and never round; types from QONNX quantizers carry the quantizer's.)
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datrig.emulate.fixed import MAX_BITS
from datrig.errors import SchemaError, short
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.paths import firmware_config_path
from datrig.project.devices import Device, device_for_part
from datrig.yamlio import load_yaml

# Seeded inputs span +-input_range; beyond this they overflow every fixed-point conversion.
MAX_INPUT_RANGE = 1e6
BACKENDS = ("Vivado", "Vitis")
IO_TYPES = ("io_parallel",)
STRATEGIES = ("Latency", "Resource")
DEFAULT_PART = "xcvu13p-flga2577-2-e"
# hls4ml's fallback for layers datrig does not derive (ApplyAlpha, tables); never an input type
DEFAULT_PRECISION = FixedType(18, 8, True, Rounding.RND_CONV, Overflow.SAT)
UNCONSTRAINED_SLACK = -1  # adder_depth_slack "unconstrained": da4ml's hard_dc -1
_PRECISION = re.compile(r"^\s*(?P<kind>u?fixed|ap_u?fixed)\s*<(?P<args>[^>]*)>\s*$")


@dataclass(frozen=True)
class TriggerBudget:
    """What the trigger allows one model: latency in ns, initiation interval in clock cycles
    and FPGA resources (counts)."""

    latency_ns: float = 100.0
    ii: int = 1
    lut: int = 50_000
    ff: int = 50_000
    dsp: int = 500
    bram: int = 50


@dataclass(frozen=True)
class VerificationSettings:
    """Event counts for the bit-exact checks (export uses ``n_events``; ``make verify`` more)."""

    n_events: int = 2000
    input_range: float = 8.0  # half-width of seeded random inputs when no data is given
    # softmax classifiers: minimum fraction of events whose firmware argmax equals the float
    # argmax (ties inside one exp-table grid step are the expected exceptions)
    min_argmax_agreement: float = 0.95


@dataclass(frozen=True)
class FirmwareConfig:
    """How one model becomes firmware; every precision is a :class:`FixedType`."""

    model: str = "default"
    backend: str = "Vitis"
    part: str = DEFAULT_PART
    clock_period_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    rounding: Rounding = Rounding.RND_CONV
    overflow: Overflow = Overflow.SAT
    default_precision: FixedType = DEFAULT_PRECISION
    layer_precision: dict[str, dict[str, FixedType]] = field(default_factory=dict)
    budget: TriggerBudget = field(default_factory=TriggerBudget)
    verification: VerificationSettings = field(default_factory=VerificationSettings)
    # distributed-arithmetic RTL (datrig report without vendor tools): adder levels each
    # constant-matrix multiply may add beyond its shallowest tree (da4ml's ``hard_dc``).
    # 0 = shallowest trees, fewest pipeline stages (a trigger wants latency); "unconstrained"
    # in the YAML (UNCONSTRAINED_SLACK here) = the fewest adders (photon_id: 6 vs 4 stages for
    # ~4 % fewer LUTs)
    adder_depth_slack: int = 0

    @property
    def device(self) -> Device:
        return device_for_part(self.part)

    def with_events(self, n_events: int) -> FirmwareConfig:
        """The same config verifying on ``n_events`` events (``--events``)."""
        if n_events < 1:
            raise SchemaError(f"--events must be at least 1, got {n_events}")
        return dataclasses.replace(
            self, verification=dataclasses.replace(self.verification, n_events=n_events)
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (modes by name, precisions in hls4ml syntax with modes spelled out)."""
        obj = dataclasses.asdict(self)
        obj["rounding"] = self.rounding.name
        obj["overflow"] = self.overflow.name
        obj["default_precision"] = format_precision(self.default_precision)
        if self.adder_depth_slack == UNCONSTRAINED_SLACK:
            obj["adder_depth_slack"] = "unconstrained"
        obj["layer_precision"] = {
            layer: {name: format_precision(t) for name, t in types.items()}
            for layer, types in self.layer_precision.items()
        }
        return obj


def load_firmware_config(path: str | os.PathLike[str]) -> FirmwareConfig:
    """Read and validate a firmware YAML; every problem is a :class:`SchemaError`."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"firmware config {path} not found; create it or pass --config")
    raw = load_yaml(path)
    if raw is None or raw == {}:
        raise SchemaError(
            f"firmware config {path} is empty: it would silently get default budgets; start "
            "from firmware_configs/default.yml and set the part, clock and budget"
        )
    return parse_firmware_config(raw, source=str(path))


def config_for_model(model: str, path: str | os.PathLike[str] | None = None) -> FirmwareConfig:
    """The config for ``model``: ``path`` if given, else ``firmware_configs/<model>.yml``."""
    cfg = load_firmware_config(path or firmware_config_path(model))
    return dataclasses.replace(cfg, model=model)


def config_for_run(
    model: str, task: dict[str, Any] | None, path: str | os.PathLike[str] | None = None
) -> FirmwareConfig:
    """The firmware config of a run: ``path`` if given; for a task, the task's own
    ``firmware`` mapping, else ``firmware_configs/<task>.yml`` when it exists, else the
    default config (firmware_configs/default.yml); for a named model, its own file."""
    if path is not None or task is None:
        return config_for_model(model, path)
    firmware = task.get("firmware")
    if isinstance(firmware, dict):
        cfg = parse_firmware_config(firmware, source=f"the firmware section of task {model}")
        return dataclasses.replace(cfg, model=model)
    own = firmware_config_path(model)
    return config_for_model(model, own if own.is_file() else firmware_config_path("default"))


def parse_firmware_config(raw: Any, source: str = "<config>") -> FirmwareConfig:
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: expected a mapping at the top level")
    kwargs = _check_keys(raw, FirmwareConfig, source, exclude=("budget", "verification"))
    if "budget" in raw:
        kwargs["budget"] = TriggerBudget(**_check_keys(raw["budget"], TriggerBudget, source))
    if "verification" in raw:
        kwargs["verification"] = VerificationSettings(
            **_check_keys(raw["verification"], VerificationSettings, source)
        )
    for key, enum in (("rounding", Rounding), ("overflow", Overflow)):
        if key in kwargs:
            kwargs[key] = _parse_mode(kwargs[key], enum, key, source)
    if "adder_depth_slack" in kwargs:
        kwargs["adder_depth_slack"] = _depth_slack(kwargs["adder_depth_slack"], source)
    rounding = kwargs.get("rounding", Rounding.RND_CONV)
    overflow = kwargs.get("overflow", Overflow.SAT)
    if "default_precision" in kwargs:
        kwargs["default_precision"] = parse_precision(
            kwargs["default_precision"], rounding, overflow, f"{source}: default_precision"
        )
    if "layer_precision" in kwargs:
        kwargs["layer_precision"] = _layer_precisions(
            kwargs["layer_precision"] or {}, rounding, overflow, source
        )
    cfg = FirmwareConfig(**kwargs)
    _validate(cfg, source)
    return cfg


def format_precision(t: FixedType) -> str:
    """A type in this file's (and hls4ml's) precision syntax, e.g. ``fixed<8,3,RND_CONV,SAT>``:
    the inverse of :func:`parse_precision`, modes always spelled out."""
    base = "fixed" if t.signed else "ufixed"
    rnd = t.rounding.value.removeprefix("AP_")
    ovf = t.overflow.value.removeprefix("AP_")
    return f"{base}<{t.width},{t.integer},{rnd},{ovf}>"


def parse_precision(text: Any, rounding: Rounding, overflow: Overflow, where: str) -> FixedType:
    """``fixed<W,I[,RND[,OVF]]>`` (or ``ufixed``, ``ap_fixed``) -> FixedType; missing modes
    come from the config's ``rounding``/``overflow``; widths the emulator cannot hold fail."""
    if isinstance(text, FixedType):
        return text
    match = _PRECISION.match(str(text))
    args = [a.strip() for a in match["args"].split(",")] if match else []
    if not match or len(args) not in (2, 3, 4) or not all(args):
        raise SchemaError(
            f"{where}: {short(text)} is not a fixed-point type like fixed<16,6,RND,SAT>"
        )
    try:
        width, integer = int(args[0]), int(args[1])
    except ValueError:
        raise SchemaError(
            f"{where}: {short(text)}: width and integer bits must be integers"
        ) from None
    if not 1 <= width <= MAX_BITS:
        raise SchemaError(
            f"{where}: {short(text)} has width {width}; datrig supports 1..{MAX_BITS} bits (the "
            "bit-exact emulator's int64 limit)"
        )
    if abs(integer) > MAX_BITS:
        raise SchemaError(
            f"{where}: {short(text)} has {integer} integer bits; use |I| <= {MAX_BITS}"
        )
    if len(args) > 2:
        rounding = _parse_mode(args[2], Rounding, "rounding", where)
    if len(args) > 3:
        overflow = _parse_mode(args[3], Overflow, "overflow", where)
    signed = not match["kind"].removeprefix("ap_").startswith("u")
    return FixedType(width, integer, signed, rounding, overflow)


def _layer_precisions(
    raw: Any, rounding: Rounding, overflow: Overflow, source: str
) -> dict[str, dict[str, FixedType]]:
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: layer_precision must map layer names to {{type: precision}}")
    out: dict[str, dict[str, FixedType]] = {}
    for layer, types in raw.items():
        if not isinstance(types, dict):
            raise SchemaError(
                f"{source}: layer_precision.{layer} must map type names (result, accum, ...) "
                "to precisions"
            )
        out[str(layer)] = {
            _type_key(str(name)): parse_precision(
                text, rounding, overflow, f"{source}: layer_precision.{layer}.{name}"
            )
            for name, text in types.items()
        }
    return out


_SLACK_RULE = "use an integer >= 0 (extra adder levels, 0: shallowest trees) or 'unconstrained'"


def _depth_slack(value: Any, source: str) -> int:
    """The YAML's adder_depth_slack: a count of levels, or "unconstrained" (never a negative
    number, which reads as fewer levels than the shallowest tree)."""
    if value == "unconstrained":
        return UNCONSTRAINED_SLACK
    if not _is_count(value) or value < 0:
        raise SchemaError(f"{source}: adder_depth_slack {short(value)} is invalid; {_SLACK_RULE}")
    return value


def _type_key(name: str) -> str:
    return name if name.endswith("_t") else f"{name}_t"


def _check_keys(raw: Any, cls: type, source: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    valid = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: section for {cls.__name__} must be a mapping")
    for key in raw:
        if key not in valid:
            raise SchemaError(
                f"{source}: unknown key {short(key)} in {cls.__name__}; valid "
                f"keys: {', '.join(valid)}"
            )
    return {k: v for k, v in raw.items() if k not in exclude}


def _parse_mode(value: Any, enum: type[Rounding] | type[Overflow], key: str, source: str) -> Any:
    if isinstance(value, enum):
        return value
    text = str(value).strip().upper().removeprefix("AP_")
    try:
        return enum[text]
    except KeyError:
        valid = ", ".join(m.name for m in enum)
        raise SchemaError(f"{source}: {key} {short(value)} is not one of {valid}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(cfg: FirmwareConfig, source: str) -> None:
    def bad(msg: str) -> SchemaError:
        return SchemaError(f"{source}: {msg}")

    if cfg.backend not in BACKENDS:
        raise bad(f"backend {short(cfg.backend)} is not one of {', '.join(BACKENDS)}")
    if cfg.io_type not in IO_TYPES:
        raise bad(
            f"io_type {short(cfg.io_type)} is not supported; use one of {', '.join(IO_TYPES)}"
        )
    if cfg.strategy not in STRATEGIES:
        raise bad(f"strategy {short(cfg.strategy)} is not one of {', '.join(STRATEGIES)}")
    if not _is_count(cfg.reuse_factor) or cfg.reuse_factor < 1:
        raise bad(f"reuse_factor must be a positive integer, got {short(cfg.reuse_factor)}")
    if not _is_number(cfg.clock_period_ns) or cfg.clock_period_ns <= 0:
        raise bad(f"clock_period_ns must be a positive number, got {short(cfg.clock_period_ns)}")
    try:
        device_for_part(cfg.part)
    except SchemaError as exc:
        raise bad(str(exc)) from None
    b = cfg.budget
    if not _is_number(b.latency_ns) or b.latency_ns <= 0:
        raise bad(f"budget.latency_ns must be a positive number of ns, got {short(b.latency_ns)}")
    if not _is_count(b.ii) or b.ii < 1:
        raise bad(f"budget.ii must be a positive number of clock cycles, got {short(b.ii)}")
    for name in ("lut", "ff", "dsp", "bram"):
        value = getattr(b, name)
        if not _is_count(value) or value < 0:
            raise bad(f"budget.{name} must be a non-negative integer count, got {short(value)}")
    slack = cfg.adder_depth_slack
    if not _is_count(slack) or (slack < 0 and slack != UNCONSTRAINED_SLACK):
        raise bad(f"adder_depth_slack {short(slack)} is invalid; {_SLACK_RULE}")
    v = cfg.verification
    if not _is_count(v.n_events) or v.n_events < 1:
        raise bad(f"verification.n_events must be a positive integer, got {short(v.n_events)}")
    if not _is_number(v.input_range) or not 0 < v.input_range <= MAX_INPUT_RANGE:
        raise bad(
            f"verification.input_range must be a positive number up to {MAX_INPUT_RANGE:g}, got "
            f"{short(v.input_range)}"
        )
    if not _is_number(v.min_argmax_agreement) or not 0.0 <= v.min_argmax_agreement <= 1.0:
        raise bad("verification.min_argmax_agreement must be a fraction in [0, 1]")
