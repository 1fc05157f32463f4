"""Open-source RTL path: trace a :class:`NetworkIR` into da4ml and write pipelined Verilog.

This is a *different implementation* of the same quantized network than hls4ml's HLS: every
constant matrix-vector product becomes an adder tree (distributed arithmetic, no DSPs). Its
numbers are therefore estimates for the hls4ml design, but exact for what they describe.

The tracer replays each layer on da4ml's symbolic fixed-point variables with the same
rounding/overflow casts the emulator applies, so the traced logic is bit-exact with
``datrig.emulate`` (checked by :func:`check_interpreter` and, in RTL, by ``rtl_sim``).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from datrig.emulate.fixed import quantize as quantize_const
from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware import trace_tables
from datrig.firmware.trace_cast import UnsupportedLayerError, cast, kif, symbols
from datrig.ir.fixed import FixedType, Overflow
from datrig.ir.network import LayerIR, NetworkIR

# da4ml's delay model counts one carry-chain adder level as one unit. On UltraScale+ a
# ~16-bit carry chain plus routing takes roughly 1 ns, so we allow one level per ns of clock
# period (da4ml's own default is 5 levels, i.e. its default 200 MHz clock). Timing closure is
# NOT checked (no place and route on this path); the report says so.
ADDER_LEVELS_PER_NS = 1.0


@dataclass
class TracedNetwork:
    """A network as da4ml combinational logic, plus the fixed-point types at its edges."""

    name: str
    comb: Any  # da4ml.types.CombLogic
    input_type: FixedType
    input_shape: tuple[int, ...]
    output_type: FixedType
    output_shape: tuple[int, ...]
    trace_seconds: float
    # the deepest path from the input to the output, as (layer name, adder levels it adds),
    # in da4ml's delay model (one unit per carry-chain adder): what sets the pipeline depth
    critical_path: tuple[tuple[str, float], ...] = ()

    @property
    def adder_levels(self) -> float:
        """Adder levels from the input to the deepest output bit (combinational)."""
        return sum(levels for _, levels in self.critical_path)

    @property
    def estimated_lut(self) -> float:
        """da4ml's own LUT estimate of the combinational logic (its cost model)."""
        return float(self.comb.cost)


@dataclass
class RTLDesign:
    """Pipelined Verilog written to ``out_dir/src`` with top module ``top``."""

    traced: TracedNetwork
    out_dir: Path
    top: str
    clock_period_ns: float
    latency_cutoff: float
    n_stages: int
    reg_bits: int
    input_fields: list[tuple[int, int, int]]  # per flat input: (bit offset, width, frac bits)
    output_fields: list[tuple[int, int, int, bool]]  # (offset, width, frac bits, signed)

    @property
    def input_width(self) -> int:
        return sum(w for _, w, _ in self.input_fields)

    @property
    def output_width(self) -> int:
        return sum(w for _, w, _, _ in self.output_fields)

    def sources(self) -> list[Path]:
        """Verilog files in dependency-free order (iverilog and yosys accept any order)."""
        src = self.out_dir / "src"
        files = sorted(src.glob("*.v")) + sorted((src / "static").glob("*.v"))
        skip = {f"{self.top}_wrapper.v"}
        if not self.has_tables:  # its default parameter names a memory file that does not exist
            skip.add("lookup_table.v")
        return [f for f in files if f.name not in skip]

    @property
    def has_tables(self) -> bool:
        """Lookup tables read ``src/memfiles/*.mem`` relative to the simulator's directory."""
        return any((self.out_dir / "src" / "memfiles").glob("*.mem"))


def da4ml_version() -> str:
    try:
        return metadata.version("da4ml")
    except metadata.PackageNotFoundError:
        return "not installed"


def latency_cutoff_for(clock_period_ns: float) -> float:
    """Adder levels per pipeline stage for a clock period (see ADDER_LEVELS_PER_NS)."""
    return max(1.0, float(round(clock_period_ns * ADDER_LEVELS_PER_NS)))


# ---------------------------------------------------------------------------------------------
# Tracing: one function per layer kind, replaying the emulator's arithmetic on symbols.


def _values(layer: LayerIR, name: str) -> np.ndarray:
    """Exact float64 values of an integer-mantissa tensor (exact while < 2**53)."""
    mant = np.asarray(layer.tensors[name], dtype=np.int64)
    t = layer.tensor_types[name]
    return np.ldexp(mant.astype(np.float64), -t.fractional)


def _max_abs_mantissa(x: Any, frac: int) -> np.ndarray:
    low, high, _ = x.lhs
    return np.ldexp(np.maximum(np.abs(low), np.abs(high)).astype(np.float64), frac)


def _trace_input(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """The RTL input port carries mantissas already in the input type: declare its bits."""
    k, i, f = kif(layer.result_t)
    return inputs[0].quantize(k, i, f, "WRAP", "TRN")


def _used_fractional_bits(mantissas: np.ndarray, frac: int) -> int:
    """Fractional bits the weight *values* use (e.g. an averaging matrix of 2**-5 in a type
    with 11 fractional bits uses 5): products are exact in accum_t if it keeps these."""
    nonzero = np.abs(mantissas[mantissas != 0])
    if nonzero.size == 0:
        return frac
    lowest_set_bit = int(np.min(nonzero & -nonzero))
    return frac - (lowest_set_bit.bit_length() - 1)


def _trace_dense(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """y = x @ W + b over the last axis (also pointwise conv1d), with accum_t semantics.

    hls4ml casts every product, the bias and every partial sum to accum_t. With exact products
    and a wrapping accum_t this equals one wrap of the exact sum (wrapping is modular); with
    any other accum_t we trace only if the bound on every partial sum fits, so no cast acts.
    """
    x = inputs[0]
    w_mant = np.asarray(layer.tensors["weight"], dtype=np.int64)
    if w_mant.ndim != 2:
        raise UnsupportedLayerError(f"layer {layer.name!r}: weight must be 2-D (n_in, n_out)")
    wt, bt = layer.tensor_types["weight"], layer.tensor_types["bias"]
    acc_t = layer.types["accum_t"]
    x_frac = int(np.max(x.kif[2]))
    prod_frac = x_frac + _used_fractional_bits(w_mant, wt.fractional)
    if acc_t.fractional < prod_frac:
        raise UnsupportedLayerError(
            f"layer {layer.name!r}: accum_t {acc_t.to_hls()} rounds each product; the RTL path "
            "traces only exact products"
        )
    bias_acc = quantize_const(
        np.asarray(layer.tensors["bias"], dtype=np.int64), bt.fractional, acc_t
    )
    y = x @ np.ldexp(w_mant.astype(np.float64), -wt.fractional)
    y = y + np.ldexp(bias_acc.astype(np.float64), -acc_t.fractional)
    # worst-case partial sum (in accum_t LSBs): |bias| + sum |x| |w|
    x_max = _max_abs_mantissa(x, acc_t.fractional - wt.fractional)
    bound = np.abs(bias_acc) + x_max.reshape(-1, w_mant.shape[0]) @ np.abs(w_mant)
    if float(np.max(bound)) > acc_t.max_mantissa:
        if acc_t.overflow is not Overflow.WRAP:
            raise UnsupportedLayerError(
                f"layer {layer.name!r}: partial sums can overflow the saturating accum_t "
                f"{acc_t.to_hls()}; the RTL path cannot replay per-step saturation"
            )
        y = cast(y, acc_t, f"{layer.name} accum_t")
    return cast(y, layer.result_t, layer.name)


def _trace_relu(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    return cast(inputs[0].relu(), layer.result_t, layer.name)


def _trace_linear(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    return cast(inputs[0], layer.result_t, layer.name)


def _trace_batchnorm(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """res = (res_T)(x * scale + bias), product and sum exact."""
    x = inputs[0]
    shape = tuple(layer.shape)
    scale = np.broadcast_to(_values(layer, "scale").reshape(-1), (int(np.prod(shape)),))
    bias = np.broadcast_to(_values(layer, "bias").reshape(-1), (int(np.prod(shape)),))
    y = x.reshape((-1,)) * scale.reshape(-1) + bias.reshape(-1)
    return cast(y.reshape(shape), layer.result_t, layer.name)


def _trace_reshape(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    return cast(inputs[0].reshape(tuple(layer.shape)), layer.result_t, layer.name)


def _trace_transpose(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    perm = tuple(int(p) for p in layer.attrs["perm"])
    return cast(inputs[0].transpose(perm), layer.result_t, layer.name)


def _trace_leaky_relu(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """res = x > 0 ? (res_T) x : (res_T)(alpha * x), the product exact (a sign-bit mux)."""
    x = inputs[0]
    pos = cast(x, layer.result_t, layer.name)
    neg = cast(x * float(_values(layer, "alpha").reshape(())), layer.result_t, layer.name)
    flat = []
    for v, p, n in zip(x._vars.ravel(), pos._vars.ravel(), neg._vars.ravel(), strict=True):
        if float(v.low) >= 0:
            flat.append(p)
        elif float(v.high) < 0:
            flat.append(n)
        else:
            flat.append(v.msb_mux(n, p))
    return symbols(x, flat)


def _trace_merge(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """kernels.merge: the exact element-wise operation (or concatenation), then the cast."""
    op = layer.attrs["op"]
    if op == "concatenate":
        axis = int(layer.attrs["axis"])
        parts = [cast(x, layer.result_t, layer.name)._vars for x in inputs]
        data = np.concatenate(parts, axis=axis)
        return symbols(inputs[0], data.ravel(), data.shape)
    if len(inputs) != 2:
        raise UnsupportedLayerError(f"merge layer {layer.name} expects 2 inputs")
    a, b = inputs
    if op in ("maximum", "minimum"):
        pick = "max_of" if op == "maximum" else "min_of"
        flat = [getattr(u, pick)(v) for u, v in zip(a._vars.ravel(), b._vars.ravel(), strict=True)]
        y = symbols(a, flat)
    else:
        ops = {
            "add": lambda: a + b,
            "subtract": lambda: a - b,
            "multiply": lambda: a * b,
            "average": lambda: (a + b) * 0.5,
        }
        if op not in ops:
            raise UnsupportedLayerError(f"merge layer {layer.name}: operation {op!r}")
        y = ops[op]()
    return cast(y, layer.result_t, layer.name)


Tracer = Callable[[LayerIR, list[Any], list[FixedType]], Any]

# Kind names and semantics follow datrig.emulate.kinds.LAYER_KINDS (the source of truth).
# A tracer gets the layer, its input symbols and the input layers' result types.
TRACERS: dict[str, Tracer] = {
    "input": _trace_input,
    "dense": _trace_dense,
    "pointwise_conv1d": _trace_dense,
    "linear": _trace_linear,
    "relu": _trace_relu,
    "batchnorm": _trace_batchnorm,
    "reshape": _trace_reshape,
    "transpose": _trace_transpose,
    "leaky_relu": _trace_leaky_relu,
    "merge": _trace_merge,
    "sigmoid": trace_tables.trace_sigmoid,
    "tanh": trace_tables.trace_tanh,
    "softmax": trace_tables.trace_softmax,
}


def unsupported_layers(ir: NetworkIR) -> list[str]:
    """``name (kind)`` of every layer without an RTL tracer."""
    return [f"{layer.name} ({layer.kind})" for layer in ir.layers if layer.kind not in TRACERS]


def trace_network(
    ir: NetworkIR, *, latency_cutoff: float = -1.0, depth_slack: int = -1
) -> TracedNetwork:
    """Replay ``ir`` on da4ml symbols and return its combinational logic.

    ``latency_cutoff`` (adder levels per pipeline stage) is recorded in the symbols so that
    later pipelining can cut at stage boundaries; ``-1`` means purely combinational.
    ``depth_slack`` is da4ml's ``hard_dc``: how many adder levels a constant-matrix multiply
    may add beyond its shallowest tree to share more adders (-1: unconstrained).
    """
    try:
        from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    except ImportError:
        raise ToolMissingError("da4ml is not installed; run `pip install da4ml==0.6.0`") from None
    missing = unsupported_layers(ir)
    if missing:
        raise UnsupportedLayerError(
            f"no RTL tracer for layer(s) {', '.join(missing)}; supported kinds: {sorted(TRACERS)}"
        )
    if len(ir.outputs) != 1:
        raise UnsupportedLayerError(f"the RTL path supports one output, {ir.name} has {ir.outputs}")
    first = ir.layers[0]
    if first.kind != "input":
        raise UnsupportedLayerError(
            f"{ir.name}: layers[0] must be the input layer, got {first.kind}"
        )

    start = time.perf_counter()
    symbols = FixedVariableArrayInput(
        tuple(first.shape),
        hwconf=HWConfig(1, -1, latency_cutoff),
        solver_options={"hard_dc": int(depth_slack)},
    )
    values: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # da4ml prints progress
        for layer in ir.layers:
            ins = [symbols] if layer is first else [values[name] for name in layer.inputs]
            in_types = [ir.layer(name).result_t for name in layer.inputs]
            values[layer.name] = TRACERS[layer.kind](layer, ins, in_types)
        out = values[ir.outputs[0]]
        comb = comb_trace(symbols, out)
    last = ir.layer(ir.outputs[0])
    path = _critical_path(ir, {name: _deepest(value) for name, value in values.items()})
    return TracedNetwork(
        name=ir.name,
        comb=comb,
        input_type=first.result_t,
        input_shape=tuple(first.shape),
        output_type=last.result_t,
        output_shape=tuple(last.shape),
        trace_seconds=time.perf_counter() - start,
        critical_path=path,
    )


def _deepest(value: Any) -> float:
    """The largest da4ml latency among a traced layer's output variables (0 for constants)."""
    latency = getattr(value, "latency", None)
    return float(np.max(latency)) if latency is not None and np.size(latency) else 0.0


def _critical_path(ir: NetworkIR, depth: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """Walk back from the output through each layer's deepest input; keep the layers that add
    adder levels, with how many (input first)."""
    path = []
    layer = ir.layer(ir.outputs[0])
    while True:
        before = max((depth[name] for name in layer.inputs), default=0.0)
        if depth[layer.name] > before:
            path.append((layer.name, depth[layer.name] - before))
        if not layer.inputs:
            break
        layer = ir.layer(max(layer.inputs, key=lambda name: depth[name]))
    return tuple(reversed(path))


def interpret(traced: TracedNetwork, input_mantissas: np.ndarray) -> np.ndarray:
    """Run da4ml's C++ interpreter on input mantissas; return output mantissas (int64)."""
    x = np.asarray(input_mantissas, dtype=np.int64)
    n = x.shape[0]
    values = np.ldexp(x.reshape(n, -1).astype(np.float64), -traced.input_type.fractional)
    out = traced.comb.predict(values, n_threads=1)
    mant = np.ldexp(np.asarray(out, dtype=np.float64), traced.output_type.fractional)
    if not np.array_equal(mant, np.round(mant)):
        raise DatrigError("da4ml output is off the output type's grid; report this as a bug")
    return mant.astype(np.int64).reshape((n, *traced.output_shape))


def check_interpreter(
    traced: TracedNetwork, input_mantissas: np.ndarray, expected: np.ndarray
) -> int:
    """Number of events where da4ml's interpreter differs from ``expected`` mantissas."""
    got = interpret(traced, input_mantissas)
    expected = np.asarray(expected, dtype=np.int64).reshape(got.shape)
    return int(np.count_nonzero(np.any((got != expected).reshape(len(got), -1), axis=1)))


def write_verilog(
    traced: TracedNetwork, out_dir: str | Path, *, clock_period_ns: float
) -> RTLDesign:
    """Pipeline the traced logic for the clock and write Verilog under ``out_dir``."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import to_pipeline
    from da4ml.types import minimal_kif

    cutoff = latency_cutoff_for(clock_period_ns)
    out_dir = Path(out_dir)
    top = _module_name(traced.name)
    with contextlib.redirect_stdout(io.StringIO()):
        pipe = to_pipeline(traced.comb, cutoff, verbose=False)
        model = VerilogModel(
            pipe, top, out_dir, latency_cutoff=cutoff, clock_period=clock_period_ns
        )
        model.write()
    rom = out_dir / "src" / "static" / "lookup_table.v"
    if rom.exists():
        rom.write_text(LOOKUP_TABLE_V)
    for mem in (out_dir / "src" / "memfiles").glob("*.mem"):
        text = mem.read_text()
        if text and not text.endswith("\n"):  # Verilator's $readmemh drops an unended last word
            mem.write_text(text + "\n")
    return RTLDesign(
        traced=traced,
        out_dir=out_dir,
        top=top,
        clock_period_ns=clock_period_ns,
        latency_cutoff=cutoff,
        n_stages=len(pipe.solutions),
        reg_bits=int(pipe.reg_bits),
        input_fields=_fields([minimal_kif(q) for q in pipe.inp_qint])[0],
        output_fields=_fields([minimal_kif(q) for q in pipe.out_qint])[1],
    )


# da4ml 0.6.0's lookup_table.v with a constant rom_style: its attribute is an expression of
# BW_IN, which Icarus Verilog refuses ("not a constant expression"). Same ports, same ROM.
LOOKUP_TABLE_V = """`timescale 1ns / 1ps
// A ROM of 2**BW_IN words read from MEM_FILE (written by datrig for da4ml's designs).
module lookup_table #(
    parameter BW_IN = 8,
    parameter BW_OUT = 8,
    parameter MEM_FILE = "whatever.mem"
) (
    input [BW_IN-1:0] in,
    output [BW_OUT-1:0] out
);
  (* rom_style = "distributed" *) reg [BW_OUT-1:0] lut_rom [0:(1<<BW_IN)-1];
  initial begin
    $readmemh(MEM_FILE, lut_rom);
  end
  assign out = lut_rom[in];
endmodule
"""


def _fields(kifs: list[Any]) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int, bool]]]:
    """Bit fields of da4ml's packed ports: element 0 at the LSB, widths k+i+f (0 = absent)."""
    plain, signed = [], []
    offset = 0
    for k, i, f in kifs:
        width = max(0, int(k) + int(i) + int(f))
        plain.append((offset, width, int(f)))
        signed.append((offset, width, int(f), bool(k)))
        offset += width
    return plain, signed


def _module_name(name: str) -> str:
    clean = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "net"
    return clean if clean[0].isalpha() else f"m_{clean}"
