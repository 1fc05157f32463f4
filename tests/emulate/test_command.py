"""`datrig emulate` end to end on a saved IR: .npy and .h5 inputs, errors as one line."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from datrig.cli import main
from datrig.emulate.io import save_ir
from datrig.emulate.ir import FixedType, LayerIR, NetworkIR, Overflow, Rounding
from datrig.emulate.runner import emulate


def tiny_ir() -> NetworkIR:
    t_in = FixedType(10, 4, True, Rounding.RND, Overflow.SAT)
    acc = FixedType(20, 8)
    return NetworkIR(
        "tiny",
        [
            LayerIR("in", "input", [], t_in, (3,)),
            LayerIR(
                "fc",
                "dense",
                ["in"],
                FixedType(12, 6, True, Rounding.RND_CONV, Overflow.SAT),
                (2,),
                attrs={"accum_t": acc.to_json()},
                tensors={"weight": np.array([[3, -1], [2, 5], [-7, 1]]), "bias": np.array([4, -4])},
                tensor_types={"weight": FixedType(5, 1), "bias": FixedType(8, 3)},
            ),
        ],
        ["fc"],
    )


def test_emulate_command_npy_and_h5(tmp_path: Path, capsys) -> None:
    ir = tiny_ir()
    save_ir(ir, tmp_path / "prj")
    x = np.random.default_rng(0).normal(0, 3, (100, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with h5py.File(tmp_path / "pred.h5", "w") as fh:
        fh["inputs"] = x
    expected = emulate(ir, x).output
    for name in ("x.npy", "pred.h5"):
        out = tmp_path / f"y_{name}.npy"
        args = ["emulate", "--project", str(tmp_path / "prj"), "--input", str(tmp_path / name)]
        assert main([*args, "--out", str(out), "--seed", "1"]) == 0
        np.testing.assert_array_equal(np.load(out), expected)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".datrig-tmp")) == []


def test_emulate_command_errors(tmp_path: Path, capsys) -> None:
    save_ir(tiny_ir(), tmp_path / "prj")
    np.save(tmp_path / "bad.npy", np.zeros((4, 7)))
    base = ["emulate", "--project", str(tmp_path / "prj"), "--out", str(tmp_path / "y.npy")]
    assert main([*base, "--input", str(tmp_path / "bad.npy")]) == 2
    assert "expects (n_events, 3)" in capsys.readouterr().err
    assert main([*base, "--input", str(tmp_path / "missing.npy")]) == 2
    assert main(["emulate", "--project", str(tmp_path), "--input", "x", "--out", "y.npy"]) == 2
    assert "datrig export" in capsys.readouterr().err
    np.save(tmp_path / "nan.npy", np.full((2, 3), np.nan))
    assert main([*base, "--input", str(tmp_path / "nan.npy")]) == 2
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "y.npy").exists()
