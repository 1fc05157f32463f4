"""Bit widths of a quantized network: one typed place, parsed once from the CLI/checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from datrig.errors import DatrigError

ACT_ROUNDINGS = ("round", "floor")


@dataclass(frozen=True)
class LayerBits:
    """Bit widths of one layer: weights, bias and the activation that follows it."""

    weight: int
    bias: int
    act: int
    learned: bool = False  # weight and activation bits are trained (start: weight, act)


@dataclass(frozen=True)
class QuantConfig:
    """Fixed-point widths for a whole model.

    Ranges (``*_max``) are in units of the tensor they quantize; scales are
    ``2**ceil(log2(max)) / 2**(bits-1)`` (signed) so every scale is an exact power of two and
    hls4ml maps it to ``ap_fixed<bits, ceil(log2(max))+1>`` without ApplyAlpha layers.
    """

    input_bits: int = 10
    input_max: float = 8.0  # normalised inputs live well inside +-8
    weight_bits: int = 8
    bias_bits: int = 12
    act_bits: int = 8
    act_max: float = 8.0  # initial ReLU range; the power-of-two radix point is learned
    output_bits: int = 16
    output_max: float = 32.0
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)
    # ``--bits auto``: weight and activation bits of every layer become trainable parameters
    # (Brevitas BitWidthImplType.PARAMETER), starting from weight_bits/act_bits and pulled down
    # by the training's resource term; scales stay powers of two
    learned_bits: bool = False
    # rounding of the hidden ReLU quantizers: "round" (half to even, ap_fixed RND_CONV) or
    # "floor" (truncation, AP_TRN). Truncation is free in distributed-arithmetic firmware, where
    # rounding costs one adder level per activation: measured on the compensated photon_id,
    # 21 -> 19 adder levels, i.e. 6 -> 5 clocks at 200 MHz.
    act_rounding: str = "round"

    def __post_init__(self) -> None:
        for name in ("input_bits", "weight_bits", "bias_bits", "act_bits", "output_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 2 <= value <= 32:
                raise DatrigError(f"quantization {name}={value!r} must be an integer in 2..32")
        if self.act_rounding not in ACT_ROUNDINGS:
            raise DatrigError(
                f"act_rounding must be one of {', '.join(ACT_ROUNDINGS)}, got {self.act_rounding!r}"
            )
        for layer, bits in self.overrides.items():
            unknown = set(bits) - {"weight", "bias", "act"}
            if unknown:
                raise DatrigError(
                    f"bit override for layer {layer!r} has unknown keys {sorted(unknown)}; "
                    "use weight, bias, act"
                )

    def layer(self, name: str) -> LayerBits:
        """Bits of layer ``name`` (e.g. ``"fc1"``), with per-layer overrides applied."""
        base = {"weight": self.weight_bits, "bias": self.bias_bits, "act": self.act_bits}
        base.update(self.overrides.get(name, {}))
        return LayerBits(**base, learned=self.learned_bits)

    def with_bits(self, bits: int) -> QuantConfig:
        """The ``--bits N`` shortcut: N-bit weights and activations, other widths kept."""
        return QuantConfig(**{**self.to_dict(), "weight_bits": bits, "act_bits": bits})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DatrigError(
                f"unknown quantization settings {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**data)
