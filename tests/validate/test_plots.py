"""Each plot writes a complete, decodable PNG (and nothing else) at the requested path."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from datrig.validate import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".datrig-tmp-")]


def test_all_plots_write_valid_pngs(tmp_path, rng):
    roc = {"eff_sig": np.linspace(0.01, 1, 50), "eff_bkg": np.linspace(0.001, 1, 50) ** 2}
    _assert_png(
        plots.roc_plot(
            tmp_path / "roc.png",
            {("none", "float"): roc, ("none", "firmware"): roc},
            {"cut-based ID (80%)": (0.8, 0.1)},
            "ROC",
        )
    )
    scores = {
        "none": {
            d: {"signal": rng.normal(1, 1, 300), "background": rng.normal(-1, 1, 300)}
            for d in ("sim", "data")
        }
    }
    _assert_png(plots.score_sim_data_plot(tmp_path / "score.png", scores, "logit"))
    series = {
        ("disco", "float"): {
            "edges": np.arange(6.0),
            "eff": np.full(5, 0.1),
            "err": np.full(5, 0.01),
        }
    }
    _assert_png(plots.binned_efficiency_plot(tmp_path / "eff.png", series, "iso [GeV]", "flat"))
    edges = np.linspace(105, 160, 56)
    shapes = {
        "none": {
            "edges": edges,
            "all": np.ones(55),
            "pass": np.arange(55.0),
            "fail": np.arange(55.0)[::-1],
        }
    }
    _assert_png(plots.mgg_plot(tmp_path / "mgg.png", shapes))
    points = {("none", "float"): (5.0, 10.0), ("none", "firmware"): (5.5, 9.0)}
    _assert_png(
        plots.figure_of_merit_plot(tmp_path / "fom.png", points, "1/JSD", "rejection", "fom", True)
    )
    binned = {
        "none (sim)": {
            "edges": [0.0, 20.0, 1e4],
            "resolution": [0.02, 0.01],
            "response": [1.0, 1.0],
        }
    }
    _assert_png(
        plots.binned_response_plot(tmp_path / "res.png", binned, "E [GeV]", "resolution", "r")
    )
    ratios = {"none": {"sim": rng.normal(1, 0.03, 500), "data": rng.normal(1.01, 0.03, 500)}}
    _assert_png(plots.response_sim_data_plot(tmp_path / "resp.png", ratios))
