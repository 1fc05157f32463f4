"""Validation plots as PNG, written atomically. Each one stands alone: title, axis labels
with units, and a legend that names method and column (float / firmware).

Uses matplotlib's object API with the Agg canvas directly, so no global backend is set.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from datrig.atomic import atomic_path

COLUMN_STYLE = {"float": "-", "firmware": "--", "quant": ":"}
COLUMN_MARKER = {"float": "o", "firmware": "s", "quant": "^", "estimate": "D"}
DPI = 110
X_MIN_ROC = 0.3  # signal efficiencies below this are not working points anyone uses


def method_color(method: str, index: int) -> str:
    """A penalty's own colour (``Penalty.plot_color``); peers and others by position."""
    from datrig.da.registry import PENALTIES

    penalty = PENALTIES.get(method)
    color = penalty.plot_color if penalty is not None else None
    return color or f"C{(index + 4) % 10}"


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 4.8):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_png(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return path


def roc_plot(
    path: Path,
    curves: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
    points: Mapping[str, tuple[float, float]],
    title: str,
) -> Path:
    """Background rejection vs signal efficiency; curves keyed by (method, column)."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    methods = sorted({m for m, _ in curves})
    for (method, column), c in curves.items():
        eff_bkg = np.asarray(c["eff_bkg"], dtype=float)
        with np.errstate(divide="ignore"):
            rej = np.where(eff_bkg > 0, 1.0 / np.maximum(eff_bkg, 1e-300), np.nan)
        ax.plot(
            c["eff_sig"],
            rej,
            COLUMN_STYLE.get(column, "-"),
            color=method_color(method, methods.index(method)),
            label=f"{method} ({column})",
        )
    for i, (name, (eff_sig, eff_bkg)) in enumerate(points.items()):
        if eff_bkg > 0:
            ax.plot(eff_sig, 1.0 / eff_bkg, "*PXD"[i % 4], color="black", markersize=11, label=name)
    ax.set_yscale("log")
    ax.set_xlim(X_MIN_ROC, 1.0)
    visible = [
        1.0
        / np.asarray(c["eff_bkg"])[
            (np.asarray(c["eff_sig"]) >= X_MIN_ROC) & (np.asarray(c["eff_bkg"]) > 0)
        ]
        for c in curves.values()
    ]
    top = max((v.max() for v in visible if v.size), default=10.0)
    top = max([float(top)] + [1.0 / b for _, b in points.values() if b > 0])
    ax.set_ylim(0.9, top * 1.5)
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background rejection 1/ε_bkg")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_png(fig, path)


def score_sim_data_plot(
    path: Path, scores: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]], xlabel: str
) -> Path:
    """Score distributions, sim (filled) vs data (line), signal and background, per method."""
    fig, axes = new_figure(ncols=len(scores), width=4.8)
    for ax, (method, by_domain) in zip(axes[0], scores.items(), strict=True):
        every = np.concatenate([np.asarray(v) for d in by_domain.values() for v in d.values()])
        lo, hi = np.quantile(every, [0.001, 0.999]) if every.size else (0.0, 1.0)
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 50)
        for cls, color in (("signal", "tab:blue"), ("background", "tab:red")):
            if "sim" in by_domain:
                ax.hist(
                    by_domain["sim"][cls],
                    bins=bins,
                    density=True,
                    alpha=0.3,
                    color=color,
                    label=f"{cls}, sim",
                )
            if "data" in by_domain:
                ax.hist(
                    by_domain["data"][cls],
                    bins=bins,
                    density=True,
                    histtype="step",
                    color=color,
                    linewidth=1.5,
                    label=f"{cls}, data",
                )
        ax.set_title(f"{method}: score, sim vs data")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("normalised events")
        ax.legend(fontsize=8)
    return save_png(fig, path)


def binned_efficiency_plot(
    path: Path, series: Mapping[tuple[str, str], Mapping[str, np.ndarray]], xlabel: str, title: str
) -> Path:
    """Background efficiency at the working point in bins of the protected variable.

    The bins are equal-population, so their widths span orders of magnitude (isolation has a
    long tail): the x axis is the bin number, labelled with each bin's range, and the series
    are offset slightly so error bars do not hide each other. A flat line is a decorrelated
    classifier.
    """
    fig, axes = new_figure(width=7.6)
    ax = axes[0, 0]
    methods = sorted({m for m, _ in series})
    edges = None
    for i, ((method, column), s) in enumerate(series.items()):
        edges = np.asarray(s["edges"], dtype=float)
        x = np.arange(len(edges) - 1) + 0.08 * (i - 0.5 * (len(series) - 1))
        ax.errorbar(
            x,
            s["eff"],
            yerr=s["err"],
            fmt=COLUMN_MARKER.get(column, "o"),
            linestyle="-" if column == "firmware" else ":",
            color=method_color(method, methods.index(method)),
            label=f"{method} ({column})",
            capsize=2,
            markersize=4,
        )
    if edges is not None:
        ax.set_xticks(np.arange(len(edges) - 1))
        ax.set_xticklabels(
            [f"{lo:.3g}–{hi:.3g}" for lo, hi in itertools.pairwise(edges)],
            rotation=40,
            ha="right",
            fontsize=8,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("background efficiency")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2)
    return save_png(fig, path)


def mgg_plot(path: Path, shapes: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Normalised background m_gg: all, passing and failing the cut, per method."""
    fig, axes = new_figure(ncols=len(shapes), width=4.8)
    for ax, (method, h) in zip(axes[0], shapes.items(), strict=True):
        edges = np.asarray(h["edges"], dtype=float)
        for key, color in (("all", "black"), ("pass", "tab:blue"), ("fail", "tab:orange")):
            counts = np.asarray(h[key], dtype=float)
            if counts.sum() > 0:
                ax.stairs(counts / counts.sum(), edges, color=color, label=f"background, {key}")
        ax.set_title(f"{method}: background m_γγ vs cut")
        ax.set_xlabel("m_γγ [GeV]")
        ax.set_ylabel("fraction of events / bin")
        ax.legend(fontsize=8)
    return save_png(fig, path)


def figure_of_merit_plot(
    path: Path,
    points: Mapping[tuple[str, str], tuple[float, float]],
    xlabel: str,
    ylabel: str,
    title: str,
    log_y: bool = False,
    hlines: Mapping[str, float] | None = None,
) -> Path:
    """One point per (method, column): e.g. rejection vs 1/JSD; float→firmware joined by a line.

    ``hlines`` draws labelled horizontal reference lines (e.g. a bound on the y quantity)."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    for i, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, linestyle="--", color=("0.3", "0.6")[i % 2], label=f"{name}: {y:.3g}")
    methods = sorted({m for m, _ in points})
    for method in methods:
        color = method_color(method, methods.index(method))
        pts = {c: xy for (m, c), xy in points.items() if m == method}
        if "float" in pts and "firmware" in pts:
            (x0, y0), (x1, y1) = pts["float"], pts["firmware"]
            ax.plot([x0, x1], [y0, y1], "-", color=color, alpha=0.5)
        for column, (x, y) in pts.items():
            ax.plot(
                x,
                y,
                COLUMN_MARKER.get(column, "o"),
                color=color,
                markersize=9,
                label=f"{method} ({column})",
            )
    if log_y:
        ax.set_yscale("log")
    xs = [x for x, _ in points.values() if np.isfinite(x)]
    if xs and min(xs) > 0 and max(xs) > 20 * min(xs):  # 1/JSD spans decades (DisCo paper)
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def binned_response_plot(
    path: Path, series: Mapping[str, Mapping[str, Any]], xlabel: str, key: str, title: str
) -> Path:
    """Resolution (IQR/2) or response vs a binned variable, one line per label."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    for i, (label, s) in enumerate(series.items()):
        edges = np.asarray(s["edges"], dtype=float)
        hi = edges[-1] if np.isfinite(edges[-1]) and edges[-1] < 1e3 else edges[-2] * 1.5
        edges = np.append(edges[:-1], hi)
        centres = 0.5 * (edges[1:] + edges[:-1])
        style = "--" if "data" in label else "-"
        ax.plot(centres, s[key], style, marker="o", color=f"C{i // 2}", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(
        {"resolution": "resolution IQR/2 of E_pred/E_true", "response": "median E_pred/E_true"}.get(
            key, key
        )
    )
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_png(fig, path)


def response_sim_data_plot(path: Path, ratios: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """E_pred/E_true distributions, sim (filled) vs data (line), per method or baseline."""
    fig, axes = new_figure(ncols=len(ratios), width=4.8)
    bins = np.linspace(0.7, 1.3, 61)
    for ax, (name, by_domain) in zip(axes[0], ratios.items(), strict=True):
        if "sim" in by_domain:
            ax.hist(by_domain["sim"], bins=bins, density=True, alpha=0.35, label="sim")
        if "data" in by_domain:
            ax.hist(
                by_domain["data"],
                bins=bins,
                density=True,
                histtype="step",
                linewidth=1.5,
                label="data",
            )
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(f"{name}: energy response")
        ax.set_xlabel("E_pred / E_true")
        ax.set_ylabel("normalised events")
        ax.legend(fontsize=8)
    return save_png(fig, path)
