"""A threshold table after a network's score, written into its QONNX graph with plain ops.

A designed decorrelation's table ``output = s - T[bin(condition)][bin(protected)]`` needs
comparators and a lookup, which neither ONNX-to-hls4ml nor da4ml offer as a layer. On the
quantized inputs it is exactly a small ReLU network with integer weights, so it goes into the
graph as three ``MatMul``/``Add``/``Relu``/``Quant`` layers and a ``Sub``, and every check
downstream (hls4ml conversion, the emulator, the QONNX-vs-C-sim and emulator-vs-C-sim
comparisons, da4ml's RTL) covers it with no code of its own:

1. indicators ``[x >= e]`` for every edge: with ``x`` on the input grid ``2**-f`` and ``e``
   on it too, ``z = x * 2**f - e * 2**f + 1`` is an integer, and ``Quant(Relu(z))`` with one
   unsigned bit (saturating) is 1 when ``z >= 1`` and 0 otherwise;
2. the products ``[c >= e_i] [p >= f_j]`` as ``Quant(Relu(a + b - 1))`` (same 1-bit
   quantizer), plus the indicators themselves passed through;
3. ``t = T[0][0] + sum_i R_i [c >= e_i] + sum_j C_j [p >= f_j] + sum_ij D_ij [..][..]`` with
   the table's first differences ``R``, ``C`` and mixed second differences ``D``: all on the
   score's grid, so ``t`` is the cell's threshold exactly; and ``s - t`` is the output.

The table's thresholds must be on the score's output grid and the edges on the input grid
(datrig's fit takes both from event values; see :mod:`datrig.models.threshold_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datrig.errors import DatrigError
from datrig.models import threshold_table as tt
from datrig.models.threshold_table import check_table

QONNX_DOMAIN = "qonnx.custom_op.general"
PREFIX = "datrig_map"


@dataclass(frozen=True)
class GraphThresholdMap:
    """A table over two flat network inputs, in input and score units (floats on the grids)."""

    condition_input: int
    protected_input: int
    condition_edges: np.ndarray
    protected_edges: np.ndarray
    table: np.ndarray  # (len(condition_edges) + 1, len(protected_edges) + 1)


def append_threshold_map(model: Any, tmap: GraphThresholdMap, source: str) -> Any:
    """Append ``tmap`` after the single output of a cleaned QONNX ``model`` (a ModelWrapper)
    whose input feeds one power-of-two ``Quant`` and whose output comes from one."""
    from onnx import helper, numpy_helper

    graph = model.graph
    in_quant = _only_input_quant(model, source)
    out_quant = model.find_producer(graph.output[0].name)
    step_in = _pot_scale(model, in_quant, source, "input")
    if out_quant is None or out_quant.op_type != "Quant":
        raise DatrigError(
            f"{source}: a threshold table needs the score's output quantizer (the last node is "
            f"{out_quant.op_type if out_quant is not None else 'missing'}, not Quant)"
        )
    step_out = _pot_scale(model, out_quant, source, "output")
    n_in = int(np.prod(model.get_tensor_shape(graph.input[0].name)[1:]))
    for index in (tmap.condition_input, tmap.protected_input):
        if not 0 <= index < n_in:
            raise DatrigError(f"{source}: table input {index} is not one of the {n_in} inputs")
    c_edges = _on_grid(tmap.condition_edges, step_in, source, "condition edges")
    p_edges = _on_grid(tmap.protected_edges, step_in, source, "protected edges")
    table = _on_grid(tmap.table, step_out, source, "thresholds")
    check_table(c_edges, p_edges, table, source)  # the model's own check: shape, ascending
    if table.size == 1:
        raise DatrigError(f"{source}: a one-cell table is an offset: fold it into the bias")

    nodes, inits = [], []
    counter = iter(range(1 << 20))

    def const(value: np.ndarray, stem: str) -> str:
        name = f"{PREFIX}_{stem}_{next(counter)}"
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(op: str, inputs: list[str], domain: str = "", **attrs: Any) -> str:
        name = f"{PREFIX}_{op}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [name + "_out"], name=name, domain=domain,
                                      **attrs))  # fmt: skip
        return name + "_out"

    def quant(x: str, scale: float, bits: int, signed: bool) -> str:
        args = [x, const(scale, "scale"), const(0.0, "zeropt"), const(float(bits), "bw")]
        return node("Quant", args, QONNX_DOMAIN, signed=int(signed), narrow=0,
                    rounding_mode="ROUND")  # fmt: skip

    def dense(x: str, w: np.ndarray, b: np.ndarray, scale: float) -> str:
        """x W + b with W and b exactly on ``scale``'s grid (Quant'd constants)."""
        wq = quant(const(w, "w"), scale, _bits(w / scale), signed=True)
        bq = quant(const(b, "b"), scale, _bits(b / scale), signed=True)
        return node("Add", [node("MatMul", [x, wq]), bq])

    def indicator(z: str) -> str:
        return quant(node("Relu", [z]), 1.0, 1, signed=False)

    xq = in_quant.output[0]
    inv_step = 1.0 / step_in
    if inv_step != round(inv_step):
        raise DatrigError(f"{source}: the input grid {step_in:g} is coarser than 1: no table")
    columns = [(tmap.condition_input, e) for e in c_edges]
    columns += [(tmap.protected_input, e) for e in p_edges]
    w1 = np.zeros((n_in, len(columns)))
    b1 = np.zeros(len(columns))
    for k, (index, edge) in enumerate(columns):
        w1[index, k] = inv_step
        b1[k] = 1.0 - edge * inv_step
    ind = indicator(dense(xq, w1, b1, 1.0))
    nc, n_p = len(c_edges), len(p_edges)
    pairs = [(i, j) for i in range(nc) for j in range(n_p)]
    diff = np.diff(np.diff(table, axis=0, prepend=0.0), axis=1, prepend=0.0)
    w3_rows = [diff[i + 1, 0] for i in range(nc)] + [diff[0, j + 1] for j in range(n_p)]
    if pairs:
        w2 = np.zeros((len(columns), len(columns) + len(pairs)))
        b2 = np.zeros(len(columns) + len(pairs))
        w2[np.arange(len(columns)), np.arange(len(columns))] = 1.0
        for m, (i, j) in enumerate(pairs):
            w2[i, len(columns) + m] = w2[nc + j, len(columns) + m] = 1.0
            b2[len(columns) + m] = -1.0
        ind = indicator(dense(ind, w2, b2, 1.0))
        w3_rows += [diff[i + 1, j + 1] for i, j in pairs]
    w3 = np.asarray(w3_rows, np.float64).reshape(-1, 1)
    threshold = dense(ind, w3, np.array([diff[0, 0]]), step_out)

    score = f"{PREFIX}_score"
    out_name = graph.output[0].name
    out_quant.output[0] = score
    for consumer in model.find_consumers(out_name) or []:
        consumer.input[:] = [score if name == out_name else name for name in consumer.input]
    nodes.append(helper.make_node("Sub", [score, threshold], [out_name], name=f"{PREFIX}_Sub"))
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    return model


def model_threshold_map(model: Any) -> GraphThresholdMap | None:
    """The fitted threshold table a trained datrig model carries, or None."""
    if not getattr(model, "has_table", False) or not tt.is_fitted(model):
        return None
    condition, protected = model.branches.compensation_inputs
    return GraphThresholdMap(condition, protected, *tt.table_arrays(model))


def _only_input_quant(model: Any, source: str) -> Any:
    consumers = model.find_consumers(model.graph.input[0].name) or []
    if len(consumers) != 1 or consumers[0].op_type != "Quant":
        raise DatrigError(
            f"{source}: a threshold table compares quantized inputs, so the graph input must "
            "feed exactly one input Quant"
        )
    return consumers[0]


def _pot_scale(model: Any, quant: Any, source: str, what: str) -> float:
    scale, zero = (model.get_initializer(quant.input[i]) for i in (1, 2))
    if scale is None or zero is None or np.size(scale) != 1 or np.any(np.asarray(zero) != 0):
        raise DatrigError(f"{source}: the {what} quantizer needs one constant scale, zero point 0")
    value = float(np.asarray(scale).reshape(()))
    if not (value > 0 and np.log2(value) == np.round(np.log2(value))):
        raise DatrigError(f"{source}: the {what} quantizer's scale {value} is not a power of two")
    return value


def _on_grid(values: np.ndarray, step: float, source: str, what: str) -> np.ndarray:
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)) or not np.array_equal(v / step, np.round(v / step)):
        raise DatrigError(f"{source}: the table's {what} are not on the quantizer grid {step:g}")
    return v


def _bits(mantissas: np.ndarray) -> int:
    """Signed bits that hold every integer of ``mantissas`` (at least 2)."""
    m = int(np.max(np.abs(np.asarray(mantissas, np.float64)), initial=0))
    return max(2, m.bit_length() + 1)
