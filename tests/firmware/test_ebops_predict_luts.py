"""How well the training's resource proxy (EBOPs) predicts synthesised LUTs (issue 13).

Scans rank models by EBOPs without synthesis; this measures the proxy against yosys
``synth_xilinx`` on the distributed-arithmetic RTL of real exported projects of different
sizes and bit widths. Slow: one hls4ml export and one yosys run per model (~1 min each).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

# (hidden widths, weight bits, activation bits): 12 photon_id MLPs spanning ~30x in EBOPs
SHAPES = [
    ((8,), 4, 4), ((8,), 8, 8), ((16,), 4, 6), ((16,), 8, 8), ((16, 8), 4, 4), ((16, 8), 6, 6),
    ((16, 8), 8, 8), ((32, 16), 3, 4), ((32, 16), 4, 6), ((32, 16), 6, 8), ((32, 16), 8, 8),
    ((48, 24), 6, 6),
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from datrig.sim.simulate import simulate

    out = tmp_path_factory.mktemp("ebops_data")
    simulate(out, 2000, 200, seed=7, progress=False)
    return out


@pytest.mark.slow
def test_ebops_predict_yosys_luts(tiny_data, tmp_path):
    for tool in ("g++", "yosys"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    from datrig.export.project import export_checkpoint
    from datrig.firmware.backends import ReportOptions
    from datrig.firmware.report import build_report, report_target
    from datrig.firmware.report_types import MEASURED_SYNTH
    from datrig.project.config import FirmwareConfig, VerificationSettings
    from datrig.project.inputs import read_inputs
    from datrig.project.meta import FirmwareProject
    from datrig.quant.config import QuantConfig
    from datrig.train.config import TrainConfig
    from datrig.train.loop import train

    rows = []
    for hidden, w, a in SHAPES:
        name = f"h{'x'.join(map(str, hidden))}_w{w}a{a}"
        quant = QuantConfig(weight_bits=w, act_bits=a).to_dict()
        cfg = TrainConfig(model="photon_id", da="none", epochs=2, batch_size=128, n_train=1500,
                          n_test=300, data_dir=str(tiny_data), seed=1, hidden=list(hidden),
                          quant=quant)  # fmt: skip
        metrics = train(cfg, tmp_path / name / "run", progress=False)
        fw = FirmwareConfig(model="photon_id", verification=VerificationSettings(n_events=200))
        calib = read_inputs(tmp_path / name / "run" / "predictions_test.h5", limit=200)
        export_checkpoint(tmp_path / name / "run/checkpoint.pt", tmp_path / name / "prj", fw,
                          calib_inputs=calib)  # fmt: skip
        project = FirmwareProject.load(tmp_path / name / "prj")
        report = build_report(
            report_target(project),
            prefer="rtl",
            options=ReportOptions(simulate=False, n_events=200),
        )
        lut = report.get("lut")
        assert lut.source.kind == MEASURED_SYNTH, lut
        rows.append({"model": name, "ebops": metrics["resource"]["ebops"], "lut": lut.value})

    ebops = np.array([r["ebops"] for r in rows])
    luts = np.array([r["lut"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(ebops, luts, 1)
    fit = slope * ebops + intercept
    r2 = 1 - np.sum((luts - fit) ** 2) / np.sum((luts - luts.mean()) ** 2)
    rank = np.corrcoef(np.argsort(np.argsort(ebops)), np.argsort(np.argsort(luts)))[0, 1]
    summary = {"slope_lut_per_ebop": slope, "intercept_lut": intercept, "r2": r2,
               "spearman": rank, "max_rel_residual": float(np.max(np.abs(luts - fit) / luts)),
               "models": rows}  # fmt: skip
    print(json.dumps(summary, indent=1))
    _scatter(tmp_path / "ebops_vs_lut.png", ebops, luts, slope, intercept, r2)
    assert len(rows) >= 10
    assert r2 > 0.9 and rank > 0.9, summary


def _scatter(path, ebops, luts, slope, intercept, r2) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(ebops, luts)
    xs = np.linspace(0, ebops.max() * 1.05, 50)
    ax.plot(xs, slope * xs + intercept, "--", label=f"LUT = {slope:.3f} EBOPs + {intercept:.0f}"
            f" (R² {r2:.3f})")  # fmt: skip
    ax.set_xlabel("EBOPs (training's resource proxy)")
    ax.set_ylabel("LUT (yosys synth_xilinx, DA RTL)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
