"""Calibration plots: R per pT bin, closure pulls, ID-efficiency scale factors (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datrig.calibrate.evaluate import MethodCalibration
from datrig.validate.plots import method_color, new_figure, save_png

R_TOLERANCE = 0.10  # the band drawn around R = 1


def _centres(cal: MethodCalibration) -> tuple[np.ndarray, np.ndarray]:
    edges = cal.result.binnings["pt"].pt_edges
    return 0.5 * (edges[:-1] + edges[1:]), 0.5 * (edges[1:] - edges[:-1])


def plot_r_vs_pt(results: list[MethodCalibration], path: Path) -> Path:
    """ABCD factor R of the fakes per pT bin, simulation and data (truth), per method."""
    fig, axes = new_figure(2, 1, width=5.2)
    for col, (domain, key) in enumerate((("sim", "sim"), ("data", "data_truth"))):
        ax = axes[0, col]
        for i, cal in enumerate(results):
            x, half = _centres(cal)
            r = [b["abcd_r"][key] for b in cal.result.bins["pt"]]
            ax.errorbar(
                x + (i - len(results) / 2) * 0.05 * half,
                [v["value"] for v in r],
                yerr=[v["err"] for v in r],
                xerr=half,
                fmt="o",
                capsize=3,
                color=method_color(cal.method, i),
                label=cal.method,
            )
        ax.axhspan(1 - R_TOLERANCE, 1 + R_TOLERANCE, color="green", alpha=0.12, label="1 ± 0.1")
        ax.axhline(1.0, color="green", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("candidate pT [GeV] (terciles of simulated fakes)")
        ax.set_ylabel("R = N_A N_D / (N_B N_C) among fakes")
        ax.set_title(f"ABCD factor per pT bin, {domain}")
        ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_closure_pulls(results: list[MethodCalibration], path: Path) -> Path:
    """(estimate/truth - 1)/sigma of the fake yield in A, every bin of every binning."""
    fig, axes = new_figure(2, 1, width=6.0)
    for col, variant in enumerate(("uncorrected", "corrected_with_sim_r")):
        ax = axes[0, col]
        labels: list[str] = []
        for i, cal in enumerate(results):
            bins = [b for name in ("pt", "pt_eta", "cluster") for b in cal.result.bins[name]]
            labels = [b["label"] for b in bins]
            pulls = [b["closure"][variant]["pull"] for b in bins]
            ax.plot(
                pulls,
                np.arange(len(bins)) + 0.1 * i,
                "o",
                color=method_color(cal.method, i),
                label=cal.method,
            )
        ax.axvspan(-2, 2, color="green", alpha=0.12, label="|pull| < 2")
        ax.axvline(0, color="green", lw=1)
        ax.set_yticks(np.arange(len(labels)), labels, fontsize=6)
        ax.set_xlabel("closure pull (estimate / truth - 1) / sigma")
        ax.set_title(f"fakes in A, {'R = 1' if variant == 'uncorrected' else 'R from sim'}")
        ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_scale_factors(results: list[MethodCalibration], path: Path) -> Path:
    """Data/sim ID-efficiency scale factor per pT bin: measured (data-driven) and truth."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    for i, cal in enumerate(results):
        x, half = _centres(cal)
        sf = [b["scale_factor"] for b in cal.result.bins["pt"]]
        color = method_color(cal.method, i)
        shift = (i - len(results) / 2) * 0.05 * half
        ax.errorbar(
            x + shift,
            [s["measured"]["value"] for s in sf],
            yerr=[s["measured"]["err"] for s in sf],
            xerr=half,
            fmt="o",
            capsize=3,
            color=color,
            label=f"{cal.method}: measured",
        )
        ax.plot(
            x + shift,
            [s["truth"]["value"] for s in sf],
            "_",
            markersize=18,
            color=color,
            label=f"{cal.method}: truth",
        )
    ax.set_xscale("log")
    ax.set_xlabel("candidate pT [GeV]")
    ax.set_ylabel("ID efficiency scale factor data / sim")
    ax.set_title("photon ID efficiency scale factors")
    ax.legend(fontsize=8)
    return save_png(fig, path)
