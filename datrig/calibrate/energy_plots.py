"""In-situ energy-scale plots: closure per |eta| bin, the mass peak before and after (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datrig.calibrate.energy_evaluate import EnergyCalibration
from datrig.validate.plots import new_figure, save_png

MASS_BINS = 80


def plot_closure(doc: dict[str, Any], path: Path) -> str:
    """data - sim median response per |eta| bin, before and after the correction (%)."""
    fig, axes = new_figure(1, 1, width=6.4)
    ax = axes[0, 0]
    x = np.arange(len(doc["bins"]))
    for offset, key, label, color in (
        (-0.1, "data_minus_sim_before", "before", "tab:red"),
        (0.1, "data_minus_sim_after", "after in-situ correction", "tab:blue"),
    ):
        ax.errorbar(
            x + offset,
            [100 * b[key]["value"] for b in doc["bins"]],
            yerr=[100 * b[key]["err"] for b in doc["bins"]],
            fmt="o",
            capsize=3,
            color=color,
            label=label,
        )
    target = 100 * doc["summary"]["target"]
    ax.axhspan(-target, target, color="green", alpha=0.12, label=f"±{target:g} %")
    ax.axhline(0.0, color="green", lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels([b["label"] for b in doc["bins"]])
    ax.set_xlabel("|eta| bin")
    ax.set_ylabel("median E/E_true: data - sim [%]")
    ax.set_title(f"in-situ energy scale closure ({doc['method']}, firmware)")
    ax.legend(fontsize=8)
    return save_png(fig, path).name


def plot_mass(cal: EnergyCalibration, path: Path) -> str:
    """The reconstructed mass of simulation and data, before and after the correction."""
    sim = cal.photons["sim"].pairs().mass()
    centre = float(np.median(sim))
    edges = np.linspace(0.85 * centre, 1.15 * centre, MASS_BINS + 1)
    fig, axes = new_figure(1, 1, width=6.4)
    ax = axes[0, 0]
    curves = (
        ("sim", sim, "black"),
        ("data", cal.photons["data"].pairs().mass(), "tab:red"),
        ("data corrected", cal.photons["data"].pairs(cal.e_corrected["data"]).mass(), "tab:blue"),
    )
    for label, mass, color in curves:
        h, _ = np.histogram(mass, bins=edges)
        ax.stairs(h / max(h.sum(), 1), edges, color=color, label=label)
    ax.set_xlabel("m [GeV] (firmware energies)")
    ax.set_ylabel("fraction of pairs")
    ax.set_title("resonance peak")
    ax.legend(fontsize=8)
    return save_png(fig, path).name
