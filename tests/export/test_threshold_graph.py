"""A threshold table appended to a QONNX score network: the same bits in the QONNX executor,
hls4ml's C-simulation, datrig's emulator and da4ml's RTL logic, and exactly the table.

The score network is a five-input MLP written here (not a datrig model, not the toy): the
table reads inputs 3 and 0, with edges that are values of the input grid, and the checked
events include inputs exactly on every edge and one grid step below it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from datrig.da.threshold_map import ThresholdMap
from datrig.errors import DatrigError
from datrig.export import qonnx as qx
from datrig.export.threshold_graph import GraphThresholdMap, append_threshold_map
from datrig.project.config import FirmwareConfig, VerificationSettings
from tests.qonnx_models import _Graph

STEP_IN, STEP_OUT = 2.0**-4, 2.0**-5
TMAP = GraphThresholdMap(
    condition_input=3,
    protected_input=0,
    condition_edges=np.array([-1.5, 0.25, 0.3125, 2.0]),
    protected_edges=np.array([-0.75, 1.0]),
    table=np.array(
        [
            [0.5, -0.25, -1.0],
            [0.0, 0.125, -2.5],
            [1.0, 0.96875, 0.0],
            [-0.5, -0.75, 3.0],
            [0.03125, 0.0, -0.0625],
        ]
    ),
)


def score_network(path: Path, *, output_quant: bool = True, input_quant: bool = True) -> Path:
    rng = np.random.default_rng(11)
    g = _Graph()
    x = g.quant("global_in", STEP_IN, 9, signed=True) if input_quant else "global_in"
    w1, b1 = rng.normal(0, 0.5, (5, 6)), rng.normal(0, 0.2, 6)
    h = g.node("Add", [g.node("MatMul", [x, g.quant(g.const(w1, "w"), 2**-5, 6, True)]),
                       g.quant(g.const(b1, "b"), 2**-5, 6, True)])  # fmt: skip
    h = g.quant(g.node("Relu", [h]), 2**-4, 6, signed=False)
    w2 = rng.normal(0, 0.6, (6, 1))
    s = g.node("Add", [g.node("MatMul", [h, g.quant(g.const(w2, "w"), 2**-5, 6, True)]),
                       g.quant(g.const([0.1], "b"), 2**-5, 6, True)])  # fmt: skip
    if output_quant:
        s = g.quant(s, STEP_OUT, 10, signed=True)
    return g.save(path, (5,), s, 1)


def events() -> np.ndarray:
    """Random inputs, plus inputs on every edge and one input step below it."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-3.0, 3.0, (3000, 5))
    special = []
    for col, edges in ((3, TMAP.condition_edges), (0, TMAP.protected_edges)):
        for e in edges:
            for v in (e, e - STEP_IN):
                row = rng.uniform(-3.0, 3.0, 5)
                row[col] = v
                special.append(row)
    return np.concatenate([np.asarray(special), x])


def quantized(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x / STEP_IN), -256, 255) * STEP_IN


@pytest.fixture(scope="module")
def table_project(tmp_path_factory: pytest.TempPathFactory):
    if shutil.which("g++") is None:
        pytest.skip("hls4ml's C-simulation needs g++")
    from datrig.export.project import export_qonnx_model

    tmp = tmp_path_factory.mktemp("threshold_graph")
    plain = qx.load_qonnx(score_network(tmp / "score.onnx"))
    model = append_threshold_map(qx.load_qonnx(tmp / "score.onnx"), TMAP, "test")
    model.save(str(tmp / "table.onnx"))
    fw = FirmwareConfig(verification=VerificationSettings(n_events=len(events())))
    result = export_qonnx_model(tmp / "table.onnx", "table_net", tmp / "prj", fw,
                                inputs=events())  # fmt: skip
    return plain, model, result


def test_the_graph_computes_score_minus_the_cells_threshold(table_project) -> None:
    plain, model, _ = table_project
    x = events()
    score = qx.execute_qonnx(plain, x).reshape(-1)
    got = qx.execute_qonnx(model, x).reshape(-1).astype(np.float64)
    xq = quantized(x)
    table = ThresholdMap(TMAP.condition_edges, TMAP.protected_edges, TMAP.table, 0.0)
    expected = table.apply(score, xq[:, TMAP.condition_input], xq[:, TMAP.protected_input])
    assert np.count_nonzero(got != expected) == 0, f"{np.count_nonzero(got != expected)} differ"
    rows = np.searchsorted(TMAP.condition_edges, xq[:, 3], side="right")
    assert set(rows) == set(range(len(TMAP.condition_edges) + 1))  # every row is reached


def test_the_project_is_verified_bit_exact_through_the_table(table_project) -> None:
    _, _, result = table_project
    for check in result.comparisons:
        assert check.ok and check.n_mismatch == 0, check.message()
    kinds = [layer.kind for layer in _ir(result.project_dir).layers]
    assert "merge" in kinds  # s - t is in the firmware, not applied afterwards


def test_da4ml_logic_equals_the_emulator_through_the_table(table_project) -> None:
    pytest.importorskip("da4ml")
    from datrig.emulate.runner import emulate
    from datrig.firmware.rtl import check_interpreter, trace_network

    _, _, result = table_project
    ir = _ir(result.project_dir)
    x = events()
    emulated = emulate(ir, x)
    step = ir.layers[0].result_t
    mantissas = np.round(quantized(x) * 2.0**step.fractional).astype(np.int64)
    n_bad = check_interpreter(trace_network(ir), mantissas, emulated.mantissas)
    assert n_bad == 0, f"{n_bad} of {len(x)} events differ"


def _ir(project: Path):
    from datrig.ir.io import load_ir

    return load_ir(project)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"condition_edges": np.array([-1.5, 0.26, 0.3125, 2.0])}, "not on the quantizer grid"),
        ({"table": TMAP.table + 0.01}, "not on the quantizer grid"),
        ({"table": TMAP.table[:, :2]}, "does not fit its edges"),
        ({"condition_edges": np.array([-1.5, 0.3125, 0.25, 2.0])}, "ascending"),
        ({"condition_input": 7}, "not one of the 5 inputs"),
        (
            {
                "condition_edges": np.zeros(0),
                "protected_edges": np.zeros(0),
                "table": np.ones((1, 1)),
            },
            "one-cell table",
        ),
    ],
)
def test_a_table_off_its_grids_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    tmap = GraphThresholdMap(**{**TMAP.__dict__, **change})
    with pytest.raises(DatrigError, match=message):
        append_threshold_map(qx.load_qonnx(score_network(tmp_path / "s.onnx")), tmap, "t")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"output_quant": False}, "output quantizer"), ({"input_quant": False}, "input Quant")],
)
def test_a_score_without_quantizers_is_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = score_network(tmp_path / "s.onnx", **kwargs)
    with pytest.raises(DatrigError, match=message):
        append_threshold_map(qx.load_qonnx(path), TMAP, "t")
