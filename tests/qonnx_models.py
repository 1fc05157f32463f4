"""QONNX graphs in the style of third-party exports, built here so no test depends on files
outside the repository.

``../shared/refmodels`` holds the real models (the QKeras jet tagger of the hls4ml tutorial,
FINN's TFC MNIST nets, qonnx's fp8 test graph) for research and test use only: its manifest
forbids redistributing them inside the project. These builders reproduce the graph patterns
those files exercise, node for node (QKeras/qonnx ``from_keras`` layout: weights and biases
through ``Quant`` nodes, ``MatMul`` + ``Add``, ``Relu`` then an unsigned ``Quant``, a final
``Softmax``; FINN's ``BipolarQuant`` and ``BatchNormalization``; a ``FloatQuant`` node). Tests
also run on the real files when ``../shared/refmodels`` is present.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX_DOMAIN = "qonnx.custom_op.general"
REFMODELS = Path(__file__).resolve().parents[2] / "shared" / "refmodels"


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def const(self, value: np.ndarray, stem: str) -> str:
        self.n += 1
        name = f"{stem}_{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attrs) -> str:
        self.n += 1
        out = f"{op}_{self.n}_out"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"{op}_{self.n}", domain=domain, **attrs)
        )
        return out

    def quant(self, x: str, scale: float, bits: int, signed: bool) -> str:
        """QONNX ``Quant``: round half to even (``ROUND``), saturate, zero point 0."""
        inputs = [x, self.const(scale, "scale"), self.const(0.0, "zeropt"), self.const(bits, "bw")]
        return self.node(
            "Quant", inputs, QONNX_DOMAIN, signed=int(signed), narrow=0, rounding_mode="ROUND"
        )

    def save(self, path: Path, n_in: tuple[int, ...], out: str, n_out: int) -> Path:
        graph = helper.make_graph(
            self.nodes,
            "datrig_test",
            [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [1, *n_in])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, n_out])],
            self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid(QONNX_DOMAIN, 1)]
        )
        onnx.save(model, str(path))
        return path


def qkeras_style_jet_tagger(path: Path, seed: int = 0) -> Path:
    """16-64-32-32-5 MLP as qonnx converts the QKeras jet tagger: 6-bit signed weights and
    biases (scale 2**-5), 6-bit unsigned ReLU outputs (scale 2**-6), softmax; no input
    quantizer. Weight spreads per layer follow the tutorial's trained tagger."""
    rng = np.random.default_rng(seed)
    g = _Graph()
    x = "global_in"
    widths = (16, 64, 32, 32, 5)
    weight_sd = (0.22, 0.12, 0.20, 0.8)  # last: a little wider, so near-tied logits are rare
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        w = np.clip(rng.normal(0, weight_sd[i], (n_in, n_out)), -1.0, 1.0)
        b = rng.normal(0, 0.13, n_out)
        wq = g.quant(g.const(w, "w"), 2.0**-5, 6, signed=True)
        bq = g.quant(g.const(b, "b"), 2.0**-5, 6, signed=True)
        x = g.node("Add", [g.node("MatMul", [x, wq]), bq])
        if i < len(widths) - 2:
            x = g.quant(g.node("Relu", [x]), 2.0**-6, 6, signed=False)
    out = g.node("Softmax", [x], axis=-1)
    return g.save(path, (16,), out, 5)


def fp8_linear(path: Path, seed: int = 0) -> Path:
    """A 3 -> 16 linear layer with FP8 (e4m3) ``FloatQuant`` on input and weight, as Brevitas
    exports it: hls4ml has no FloatQuant support."""
    rng = np.random.default_rng(seed)
    g = _Graph()

    def float_quant(x: str) -> str:
        consts = [g.const(v, s) for v, s in ((1.0, "scale"), (4, "exp"), (3, "mant"), (7, "bias"))]
        consts.append(g.const(448.0, "max"))
        return g.node(
            "FloatQuant",
            [x, *consts],
            QONNX_DOMAIN,
            has_inf=0,
            has_nan=1,
            has_subnormal=1,
            rounding_mode="ROUND",
            saturation=1,
        )

    w = float_quant(g.const(rng.normal(0, 0.5, (3, 16)), "w"))
    out = g.node("MatMul", [float_quant("global_in"), w])
    return g.save(path, (3,), out, 16)


def finn_style_mlp(
    path: Path, seed: int = 0, *, binary_weights: bool = True, binary_acts: bool = True
) -> Path:
    """784-64-10 MLP in FINN's TFC style: weights through ``BipolarQuant`` (1 bit) or a 2-bit
    ``Quant`` with a non-power-of-two scale, BatchNorm, then ``BipolarQuant`` or a 2-bit
    unsigned ``Quant`` activation (1W1A, 1W2A and 2W2A like TFC_1W1A/1W2A/2W2A)."""
    rng = np.random.default_rng(seed)
    g = _Graph()
    x = "global_in"
    for i, (n_in, n_out) in enumerate(((784, 64), (64, 10))):
        w = g.const(rng.normal(0, 1, (n_in, n_out)), "w")
        wq = (
            g.node("BipolarQuant", [w, g.const(1.0, "scale")], QONNX_DOMAIN)
            if binary_weights
            else g.quant(w, 0.37, 2, signed=True)  # per-tensor, not a power of two
        )
        x = g.node("MatMul", [x, wq])
        bn = [g.const(v, s) for v, s in (
            (rng.uniform(0.5, 2, n_out), "gamma"), (rng.normal(0, 1, n_out), "beta"),
            (rng.normal(0, 1, n_out), "mean"), (rng.uniform(0.5, 2, n_out), "var"),
        )]  # fmt: skip
        x = g.node("BatchNormalization", [x, *bn], epsilon=1e-4)
        if i == 0:
            x = (
                g.node("BipolarQuant", [x, g.const(1.0, "scale")], QONNX_DOMAIN)
                if binary_acts
                else g.quant(g.node("Relu", [x]), 0.61, 2, signed=False)
            )
    return g.save(path, (784,), x, 10)


def real_refmodel(relative: str) -> Path | None:
    """A third-party reference file of ``../shared/refmodels`` when this machine has it."""
    path = REFMODELS / relative
    return path if path.is_file() else None
