"""Which plots a model family gets, drawn from the evaluated columns of every DA method."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from datrig.validate import plots
from datrig.validate.evaluate import ID_EFFICIENCIES, ColumnResult


def primary_columns(columns: dict[tuple[str, str], ColumnResult]) -> dict[str, ColumnResult]:
    """Per method, the firmware column if present (the point of validation), else float;
    keyed "method (column)" so plots say which one they show."""
    chosen: dict[str, str] = {}
    for method, column in columns:
        if column == "firmware" or (column == "float" and method not in chosen):
            chosen[method] = column
    return {f"{m} ({c})": columns[(m, c)] for m, c in chosen.items()}


def model_figures(
    model: str,
    fam: str,
    columns: dict[tuple[str, str], ColumnResult],
    baseline: dict[str, Any],
    base_curves: dict[str, Any],
    fig_dir: Path,
) -> list[tuple[str, Path]]:
    shown = {k: v for k, v in columns.items() if k[1] in ("float", "firmware")}
    primary = primary_columns(columns)
    figs: list[tuple[str, Path]] = []

    def add(caption: str, path: Path) -> None:
        figs.append((caption, path))

    if fam in ("photon_id", "diphoton"):
        points = {}
        if fam == "photon_id":
            cut = baseline["cut_based"]
            for eff in ID_EFFICIENCIES:
                tag = round(eff * 100)
                rej = cut.get(f"rejection{tag}_sim")
                if rej and math.isfinite(rej):
                    points[f"cut-based ID ({tag}%)"] = (cut[f"eff_sig{tag}_sim"], 1.0 / rej)
        add(
            "ROC (sim): float vs firmware per DA method",
            plots.roc_plot(
                fig_dir / "roc.png",
                {k: v.curves["roc_sim"] for k, v in shown.items()},
                points,
                f"{model}: background rejection vs signal efficiency (sim)",
            ),
        )
        scores = {
            k: {d: v.curves[f"score_{d}"] for d in ("sim", "data") if f"score_{d}" in v.curves}
            for k, v in primary.items()
        }
        add(
            "Score distributions, sim vs data",
            plots.score_sim_data_plot(fig_dir / "score_sim_vs_data.png", scores, "score (logit)"),
        )
    if fam == "photon_id":
        series = {k: v.curves["bkg_eff_vs_iso_sim"] for k, v in shown.items()}
        if "bkg_eff_vs_iso_sim" in base_curves:
            series[("cut-based", "float")] = base_curves["bkg_eff_vs_iso_sim"]
        if "independence_bound" in base_curves:
            # lowest fake efficiency any classifier reaches in each bin: a flat (decorrelated)
            # classifier sits at or above the highest point of this curve
            series[("Neyman-Pearson optimum per bin", "estimate")] = base_curves[
                "independence_bound"
            ]
        add(
            "Background efficiency at 80% signal efficiency vs isolation (flatness)",
            plots.binned_efficiency_plot(
                fig_dir / "bkg_eff_vs_iso.png",
                series,
                "isolation [GeV] (equal-population bins, sim fakes)",
                f"{model}: fake efficiency vs isolation at ε_sig = 80%",
            ),
        )
        dev = "abcd_r_max_deviation_sim"
        pts = {
            k: (1.0 / v.metrics[dev], v.metrics["rejection80_sim"])
            for k, v in shown.items()
            if v.metrics.get(dev, 0) > 0 and math.isfinite(v.metrics["rejection80_sim"])
        }
        hlines = {}
        for key, text in (
            ("independence_bound", "bound: isolation-independent score"),
            ("independence_bound_pt", "bound: isolation-independent at fixed pT"),
        ):
            bound = baseline.get(key, {}).get("rejection80_sim")
            if bound is not None and math.isfinite(bound):
                hlines[text] = bound
        add(
            "Rejection at 80% vs decorrelation at fixed pT (1 / max |R - 1| over pT terciles)",
            plots.figure_of_merit_plot(
                fig_dir / "fom_rejection_vs_abcd.png",
                pts,
                "1 / max over pT terciles of |R - 1| (ABCD factor of fakes, sim)",
                "rejection at ε_sig = 80% (sim)",
                f"{model}: rejection vs decorrelation",
                hlines=hlines,
            ),
        )
    if fam == "diphoton":
        shapes = {k: v.curves["mgg_sim"] for k, v in primary.items()}
        add(
            "Background m_gg before/after the 50% cut",
            plots.mgg_plot(fig_dir / "mgg_shapes.png", shapes),
        )
        pts = {
            k: (v.metrics["inv_jsd50_sim"], v.metrics["rejection50_sim"])
            for k, v in shown.items()
            if math.isfinite(v.metrics["inv_jsd50_sim"])
            and math.isfinite(v.metrics["rejection50_sim"])
        }
        add(
            "Rejection at 50% vs 1/JSD (DisCo figure of merit)",
            plots.figure_of_merit_plot(
                fig_dir / "fom_rejection_vs_inv_jsd.png",
                pts,
                "1 / JSD(background m_γγ pass, fail)",
                "rejection at ε_sig = 50% (sim)",
                f"{model}: rejection vs mass sculpting",
                log_y=True,
            ),
        )
    if fam == "energy":
        for var, label in (("e", "E_true [GeV]"), ("eta", "|η|")):
            series = {}
            for name, res in [
                *primary.items(),
                *((n, ColumnResult(curves=c)) for n, c in base_curves.items()),
            ]:
                for d in ("sim", "data"):
                    if f"vs_{var}_{d}" in res.curves:
                        series[f"{name} ({d})"] = res.curves[f"vs_{var}_{d}"]
            add(
                f"Resolution vs {label}",
                plots.binned_response_plot(
                    fig_dir / f"resolution_vs_{var}.png",
                    series,
                    label,
                    "resolution",
                    f"{model}: resolution vs {label}",
                ),
            )
        ratios = {
            k: {d: v.curves[f"ratio_{d}"] for d in ("sim", "data") if f"ratio_{d}" in v.curves}
            for k, v in [
                *primary.items(),
                *((n, ColumnResult(curves=c)) for n, c in base_curves.items()),
            ]
        }
        add(
            "Energy response, sim vs data",
            plots.response_sim_data_plot(fig_dir / "response_sim_vs_data.png", ratios),
        )
        pts = {
            k: (abs(v.metrics["response_shift"]), v.metrics["resolution_sim"])
            for k, v in shown.items()
            if "response_shift" in v.metrics
        }
        if pts:
            add(
                "Resolution vs data/sim response shift",
                plots.figure_of_merit_plot(
                    fig_dir / "fom_resolution_vs_shift.png",
                    pts,
                    "|median response data − sim|",
                    "resolution IQR/2 (sim)",
                    f"{model}: resolution vs domain shift",
                ),
            )
    return figs
