"""Converted hls4ml ModelGraph -> datrig NetworkIR (what the emulator and RTL path consume).

Weights become exact integer mantissas of their weight_t/bias_t exactly as the C-simulation
sees them: hls4ml's writer prints each weight with ``precision_fmt`` (as many decimals as the
type has fractional bits) and C++ converts that literal with the type's rounding/overflow.
Every precision is read from the model; nothing is assumed. Unsupported layers are refused by
name and class.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from datrig.emulate import lut
from datrig.emulate.fixed import from_float
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR


def fixed_type(precision: Any, where: str) -> FixedType:
    """hls4ml precision object -> FixedType with explicit rounding/overflow."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    kind = type(precision).__name__
    if isinstance(precision, IntegerPrecisionType):
        return FixedType(int(precision.width), int(precision.width), bool(precision.signed))
    if not isinstance(precision, FixedPrecisionType):
        raise DatrigError(
            f"{where}: precision {precision} ({kind}) is not supported by the emulator"
        )
    rounding = Rounding[precision.rounding_mode.name] if precision.rounding_mode else Rounding.TRN
    overflow = (
        Overflow[precision.saturation_mode.name] if precision.saturation_mode else Overflow.WRAP
    )
    if precision.saturation_bits:
        raise DatrigError(
            f"{where}: {precision} uses saturation bits, which the emulator does not support"
        )
    return FixedType(
        int(precision.width), int(precision.integer), bool(precision.signed), rounding, overflow
    )


def _out_type(layer: Any) -> FixedType:
    return fixed_type(layer.get_output_variable().type.precision, f"layer {layer.name} result")


def _shape(layer: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in layer.get_output_variable().shape)


def weight_mantissas(var: Any, where: str) -> tuple[np.ndarray, FixedType]:
    """Mantissas of a weight variable as the compiled C-simulation holds them."""
    t = fixed_type(var.type.precision, where)
    fmt = var.precision_fmt
    if not fmt:
        raise DatrigError(f"{where}: weight precision is unspecified; set it in the config")
    flat = np.asarray(var.data, dtype=np.float64).ravel()
    printed = np.array([float(fmt.format(v)) for v in flat], dtype=np.float64)
    return from_float(printed, t).reshape(np.shape(var.data)), t


def _weights(layer: Any, **names: str) -> tuple[dict[str, np.ndarray], dict[str, FixedType]]:
    tensors, types = {}, {}
    for key, hls_name in names.items():
        var = layer.weights.get(hls_name)
        if var is None:
            raise DatrigError(f"layer {layer.name} has no {hls_name!r} weights")
        tensors[key], types[key] = weight_mantissas(var, f"layer {layer.name} {hls_name}")
    return tensors, types


def _accum(layer: Any) -> FixedType:
    return fixed_type(layer.get_attr("accum_t").precision, f"layer {layer.name} accum_t")


def _check_product(layer: Any) -> None:
    cfg = str(layer.get_attr("config_cpp") or "")
    if "product::" in cfg and "product::mult<" not in cfg:
        raise DatrigError(
            f"layer {layer.name} uses a binary/ternary/exponential product the emulator does "
            "not implement; use multi-bit fixed-point weights"
        )


def _check_strategy(layer: Any, accum: FixedType) -> None:
    strategy = str(layer.get_attr("strategy", "latency")).lower()
    if strategy not in ("latency", "resource"):
        raise DatrigError(f"layer {layer.name}: strategy {strategy!r} is not emulated")
    if strategy == "resource" and accum.overflow is not Overflow.WRAP:
        # The resource kernel sums in another order; only wrapping sums are order-free.
        raise DatrigError(
            f"layer {layer.name}: Resource strategy with a saturating accum_t is not emulated; "
            "use AP_WRAP for accum_t or the Latency strategy"
        )


def _dense(layer: Any) -> LayerIR:
    _check_product(layer)
    tensors, types = _weights(layer, weight="weight", bias="bias")
    n_in, n_out = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    tensors["weight"] = tensors["weight"].reshape(n_in, n_out)
    tensors["bias"] = tensors["bias"].reshape(n_out)
    accum = _accum(layer)
    _check_strategy(layer, accum)
    return _layer(layer, "dense", None, tensors, types, {"accum_t": accum})


def _conv1d(layer: Any) -> LayerIR:
    get = layer.get_attr
    geometry = (get("filt_width"), get("stride_width"), get("pad_left", 0), get("pad_right", 0))
    if tuple(int(g) for g in geometry) != (1, 1, 0, 0):
        raise DatrigError(
            f"layer {layer.name} ({layer.class_name}): only pointwise Conv1D (kernel 1, stride 1, "
            f"no padding) is emulated, got filt/stride/pad {geometry}"
        )
    if str(get("data_format", "channels_last")) != "channels_last":
        raise DatrigError(f"layer {layer.name}: channels_first Conv1D is not emulated")
    _check_product(layer)
    tensors, types = _weights(layer, weight="weight", bias="bias")
    n_chan, n_filt = int(get("n_chan")), int(get("n_filt"))
    tensors["weight"] = tensors["weight"].reshape(n_chan, n_filt)
    tensors["bias"] = tensors["bias"].reshape(n_filt)
    accum = _accum(layer)
    _check_strategy(layer, accum)
    return _layer(layer, "pointwise_conv1d", None, tensors, types, {"accum_t": accum})


def _table_activation(layer: Any, name: str) -> LayerIR:
    """sigmoid / tanh: the table as hls4ml's init_*_table fills it, in table_t."""
    table_t = fixed_type(layer.get_attr("table_t").precision, f"layer {layer.name} table_t")
    n_table = int(layer.get_attr("table_size"))
    build = lut.sigmoid_table if name == "sigmoid" else lut.tanh_table
    tensors = {"table": build(n_table, table_t)}
    return _layer(layer, name, {"table_size": n_table}, tensors, {"table": table_t})


def _leaky_relu(layer: Any) -> LayerIR:
    """alpha is printed into the C++ call as a double literal and cast to param_t."""
    param_t = fixed_type(layer.get_attr("param_t").precision, f"layer {layer.name} param_t")
    alpha = from_float(np.array([float(layer.get_attr("activ_param"))]), param_t)
    return _layer(layer, "leaky_relu", {}, {"alpha": alpha}, {"alpha": param_t})


_ACTIVATIONS: dict[str, Callable[[Any], LayerIR]] = {
    "linear": lambda layer: _layer(layer, "linear"),
    "relu": lambda layer: _layer(layer, "relu"),
    "sigmoid": lambda layer: _table_activation(layer, "sigmoid"),
    "tanh": lambda layer: _table_activation(layer, "tanh"),
    "leakyrelu": _leaky_relu,
    "softmax": lambda layer: _softmax(layer),
}


def _activation(layer: Any) -> LayerIR:
    name = str(layer.get_attr("activation")).lower()
    if name not in _ACTIVATIONS:
        raise DatrigError(
            f"layer {layer.name} ({layer.class_name}): activation {name!r} is not emulated "
            f"(supported: {', '.join(sorted(_ACTIVATIONS))})"
        )
    return _ACTIVATIONS[name](layer)


ACTIV_CONFIG_TABLE_T = FixedType(18, 8)  # nnet::activ_config::table_t in nnet_activation.h


def _config_entry(layer: Any, pattern: str, what: str) -> str:
    """One value of the C++ config struct hls4ml generated for the layer (the ground truth:
    the templates adjust some values, e.g. the stable softmax's table size and inp_norm_t)."""
    match = re.search(pattern, str(layer.get_attr("config_cpp") or ""))
    if match is None:
        raise DatrigError(f"layer {layer.name}: cannot read {what} from hls4ml's C++ config")
    return match.group(1).strip()


def _config_type(layer: Any, typedef: str) -> FixedType:
    """Resolve ``typedef NAME typedef;`` of the config to a FixedType."""
    name = _config_entry(layer, rf"typedef\s+(.+?)\s+{typedef}\s*;", typedef)
    where = f"layer {layer.name} {typedef}"
    for named in layer.types.values():
        if named.name == name:
            return fixed_type(named.precision, where)
    if name == "model_default_t":
        cfg = layer.model.config
        return fixed_type(
            cfg.backend.convert_precision_string(cfg.model_precision["default"]), where
        )
    try:
        return FixedType.parse(name)
    except ValueError:
        raise DatrigError(f"{where}: unknown type {name!r} in hls4ml's C++ config") from None


def _softmax(layer: Any) -> LayerIR:
    """Softmax over the last axis: tables for the chosen implementation, types from the config."""

    def number(key: str) -> str:
        return _config_entry(layer, rf"{key}\s*=\s*([^;]+);", key)

    impl = number("implementation").rsplit("::", 1)[-1]
    n_in = int(number("n_in"))
    if int(number("n_slice")) != n_in:
        raise DatrigError(f"layer {layer.name}: multi-dimensional softmax is not emulated")
    n_exp, n_inv = int(number("exp_table_size")), int(number("inv_table_size"))
    where = f"layer {layer.name}"
    attrs: dict[str, Any] = {"implementation": impl}
    if impl == "legacy":
        # The softmax config struct declares no table_t: the legacy kernel gets the one of the
        # nnet::activ_config base struct, ap_fixed<18,8>, whatever the layer's table_t says.
        cfg = str(layer.get_attr("config_cpp") or "")
        table_t = (
            _config_type(layer, "table_t")
            if re.search(r"\btable_t\s*;", cfg)
            else (ACTIV_CONFIG_TABLE_T)
        )
        tensors = {
            "exp_table": lut.legacy_exp_table(n_exp, table_t),
            "inv_table": lut.legacy_invert_table(n_inv, table_t),
        }
        return _layer(
            layer, "softmax", attrs, tensors, {"exp_table": table_t, "inv_table": table_t}
        )
    if impl not in ("latency", "stable"):
        raise DatrigError(f"{where}: softmax implementation {impl!r} is not emulated")
    for n in (n_exp, n_inv):
        if n & (n - 1):
            raise DatrigError(f"{where}: softmax table size {n} is not a power of two")
    exp_t, inv_t = _config_type(layer, "exp_table_t"), _config_type(layer, "inv_table_t")
    inv_inp_t = _config_type(layer, "inv_inp_t")
    arith = {"accum_t": _config_type(layer, "accum_t"), "inv_inp_t": inv_inp_t}
    exp_scale = float(number("exp_scale").rstrip("f"))
    if impl == "stable":
        addr_t = _config_type(layer, "inp_norm_t")
        arith["inp_norm_t"] = addr_t
    else:
        addr_t = fixed_type(layer.get_input_variable().type.precision, f"{where} input")
    tensors = {
        "exp_table": lut.exp_table(n_exp, addr_t, exp_t, exp_scale, negative=impl == "stable"),
        "inv_table": lut.invert_table(n_inv, inv_inp_t, inv_t),
    }
    tables = {"exp_table": exp_t, "inv_table": inv_t}
    return _layer(layer, "softmax", attrs, tensors, tables, arith)


def _batchnorm(layer: Any) -> LayerIR:
    tensors, types = _weights(layer, scale="scale", bias="bias")
    tensors = {k: v.ravel() for k, v in tensors.items()}
    return _layer(layer, "batchnorm", {"n_filt": int(layer.get_attr("n_filt", -1))}, tensors, types)


def _merge(layer: Any) -> LayerIR:
    if layer.class_name == "Concatenate":
        return _layer(layer, "merge", {"op": "concatenate", "axis": int(layer.get_attr("axis"))})
    return _layer(layer, "merge", {"op": str(layer.get_attr("op")).lower()})


def _transpose(layer: Any) -> LayerIR:
    return _layer(layer, "transpose", {"perm": [int(p) for p in layer.get_attr("perm")]})


def _layer(
    layer: Any,
    kind: str,
    attrs: dict[str, Any] | None = None,
    tensors: dict[str, np.ndarray] | None = None,
    types: dict[str, FixedType] | None = None,
    arithmetic: dict[str, FixedType] | None = None,
) -> LayerIR:
    return LayerIR(
        name=layer.name,
        kind=kind,
        inputs=[],  # filled in by network_ir_from_hls4ml (needs the whole graph)
        result_t=_out_type(layer),
        shape=_shape(layer),
        attrs=attrs or {},
        tensors=tensors or {},
        tensor_types=types or {},
        types=arithmetic or {},
    )


CONVERTERS: dict[str, Callable[[Any], LayerIR]] = {
    "Input": lambda layer: _layer(layer, "input"),
    "Dense": _dense,
    "Conv1D": _conv1d,
    "PointwiseConv1D": _conv1d,
    "Activation": _activation,
    "ReLU": _activation,
    "Softmax": _activation,
    "ParametrizedActivation": _activation,
    "LeakyReLU": _activation,
    "BatchNormalization": _batchnorm,
    "ApplyAlpha": _batchnorm,
    "Merge": _merge,
    "Concatenate": _merge,
    "Reshape": lambda layer: _layer(layer, "reshape"),
    "Transpose": _transpose,
}


def network_ir_from_hls4ml(hls_model: Any, name: str | None = None) -> NetworkIR:
    """Build the emulator IR from a converted (io_parallel) hls4ml ModelGraph."""
    io_type = str(hls_model.config.get_config_value("IOType"))
    if io_type != "io_parallel":
        raise DatrigError(f"io_type {io_type!r} is not emulated; use io_parallel")
    layers: list[LayerIR] = []
    producer: dict[str, str] = {}  # output variable name -> layer name
    for hls_layer in hls_model.get_layers():
        cls = hls_layer.class_name
        convert = CONVERTERS.get(cls)
        if convert is None:
            raise DatrigError(
                f"layer {hls_layer.name} of class {cls} is not supported by the emulator "
                f"(supported: {', '.join(sorted(CONVERTERS))})"
            )
        ir_layer = convert(hls_layer)
        ir_layer.inputs = [producer[v] for v in hls_layer.inputs if v in producer]
        if ir_layer.kind != "input" and len(ir_layer.inputs) != len(hls_layer.inputs):
            raise DatrigError(f"layer {hls_layer.name}: cannot resolve inputs {hls_layer.inputs}")
        for out in hls_layer.outputs:
            producer[out] = hls_layer.name
        layers.append(ir_layer)
    if not layers or layers[0].kind != "input":
        raise DatrigError("the hls4ml model does not start with an input layer")
    if len(hls_model.inputs) != 1:
        raise DatrigError(f"models with {len(hls_model.inputs)} inputs are not emulated")
    outputs = [producer[v] for v in hls_model.outputs]
    project = name or str(hls_model.config.get_project_name())
    return NetworkIR(project, layers, outputs, {"source": "hls4ml", "io_type": io_type})
