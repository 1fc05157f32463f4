"""Typed firmware configuration, parsed once from ``firmware_configs/<model>.yml``.

The YAML says how the hls4ml project is built (backend, FPGA part, clock, io_type, strategy,
reuse factor, default rounding/overflow modes, per-layer precision overrides), what the trigger
allows (latency and resource budgets) and how many events the verification uses. Unknown keys
are errors: a typo must never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datrig.emulate.ir import FixedType, Overflow, Rounding
from datrig.errors import SchemaError
from datrig.paths import firmware_config_path

BACKENDS = ("Vivado", "Vitis")
IO_TYPES = ("io_parallel",)
STRATEGIES = ("Latency", "Resource")
DEFAULT_PART = "xcvu13p-flga2577-2-e"


@dataclass(frozen=True)
class TriggerBudget:
    """What the trigger allows one model: latency in ns and FPGA resources (counts)."""

    latency_ns: float = 100.0
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
    """How one model becomes firmware. Precision strings use hls4ml's ``fixed<W,I,RND,OVF>``."""

    model: str = "default"
    backend: str = "Vitis"
    part: str = DEFAULT_PART
    clock_period_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    rounding: Rounding = Rounding.RND_CONV
    overflow: Overflow = Overflow.SAT
    default_precision: str = "fixed<18,8,RND_CONV,SAT>"
    layer_precision: dict[str, dict[str, str]] = field(default_factory=dict)
    budget: TriggerBudget = field(default_factory=TriggerBudget)
    verification: VerificationSettings = field(default_factory=VerificationSettings)

    def to_json(self) -> dict[str, Any]:
        """The resolved config as plain JSON (enum modes by name), for project sidecars."""
        obj = dataclasses.asdict(self)
        obj["rounding"] = self.rounding.name
        obj["overflow"] = self.overflow.name
        return obj


def load_firmware_config(path: str | os.PathLike[str]) -> FirmwareConfig:
    """Read and validate a firmware YAML; every problem is a :class:`SchemaError`."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"firmware config {path} not found; create it or pass --config")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SchemaError(f"firmware config {path} is not valid YAML: {exc}") from None
    return parse_firmware_config(raw, source=str(path))


def config_for_model(model: str, path: str | os.PathLike[str] | None = None) -> FirmwareConfig:
    """The config for ``model``: ``path`` if given, else ``firmware_configs/<model>.yml``."""
    cfg = load_firmware_config(path or firmware_config_path(model))
    return dataclasses.replace(cfg, model=model)


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
    cfg = FirmwareConfig(**kwargs)
    _validate(cfg, source)
    return cfg


def _check_keys(raw: Any, cls: type, source: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    valid = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: section for {cls.__name__} must be a mapping")
    for key in raw:
        if key not in valid:
            raise SchemaError(
                f"{source}: unknown key {key!r} in {cls.__name__}; valid keys: {', '.join(valid)}"
            )
    return {k: v for k, v in raw.items() if k not in exclude}


def _parse_mode(value: Any, enum: type[Rounding] | type[Overflow], key: str, source: str) -> Any:
    text = str(value).upper().removeprefix("AP_")
    try:
        return enum[text]
    except KeyError:
        valid = ", ".join(m.name for m in enum)
        raise SchemaError(f"{source}: {key} {value!r} is not one of {valid}") from None


def _validate(cfg: FirmwareConfig, source: str) -> None:
    def bad(msg: str) -> SchemaError:
        return SchemaError(f"{source}: {msg}")

    if cfg.backend not in BACKENDS:
        raise bad(f"backend {cfg.backend!r} is not one of {', '.join(BACKENDS)}")
    if cfg.io_type not in IO_TYPES:
        raise bad(f"io_type {cfg.io_type!r} is not supported; use one of {', '.join(IO_TYPES)}")
    if cfg.strategy not in STRATEGIES:
        raise bad(f"strategy {cfg.strategy!r} is not one of {', '.join(STRATEGIES)}")
    if not isinstance(cfg.reuse_factor, int) or cfg.reuse_factor < 1:
        raise bad(f"reuse_factor must be a positive integer, got {cfg.reuse_factor!r}")
    if not float(cfg.clock_period_ns) > 0:
        raise bad(f"clock_period_ns must be positive, got {cfg.clock_period_ns!r}")
    if cfg.verification.n_events < 1:
        raise bad("verification.n_events must be at least 1")
    if not 0.0 <= float(cfg.verification.min_argmax_agreement) <= 1.0:
        raise bad("verification.min_argmax_agreement must be a fraction in [0, 1]")
    precisions = {"default_precision": cfg.default_precision}
    if not isinstance(cfg.layer_precision, dict):
        raise bad("layer_precision must map layer names to {type_name: precision}")
    for layer, types in cfg.layer_precision.items():
        if not isinstance(types, dict):
            raise bad(f"layer_precision.{layer} must map type names (result, accum, ...) to types")
        for name, text in types.items():
            precisions[f"layer_precision.{layer}.{name}"] = text
    for where, text in precisions.items():
        try:
            FixedType.parse(str(text))
        except ValueError:
            raise bad(
                f"{where}: {text!r} is not a fixed-point type like fixed<16,6,RND,SAT>"
            ) from None
