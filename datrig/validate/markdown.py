"""report.md: conventions, summary table across DA methods, float-vs-firmware tables, figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from datrig.validate.compare import diff_metrics

SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "photon_id": (
        "auc_sim",
        "rejection80_sim",
        "rejection90_sim",
        "gain80_vs_cuts_sim",
        "abcd_r_max_deviation_sim",
        "abcd_r_max_deviation_data",
        "flatness_chi2_ndf_sim",
        "rank_dcor_ptbinned_sim",
        "rank_dcor_bkg_sim",
        "dcor_sigmoid_bkg_sim",
        "rejection80_data",
        "domain_auc",
    ),
    "energy": (
        "resolution_sim",
        "resolution_rel_sim",
        "response_sim",
        "resolution_data",
        "response_data",
        "resolution_shift",
        "response_shift",
        "domain_auc",
    ),
    "diphoton": (
        "auc_sim",
        "rejection50_sim",
        "inv_jsd50_sim",
        "dcor_bkg_sim",
        "z50_sim",
        "n_bkg_pass50_sim",
        "rejection50_data",
        "inv_jsd50_data",
        "domain_auc",
    ),
}


CONVENTIONS = """\
Columns: *float* = the float twin, *quant* = the Brevitas model as trained, *firmware* = the
bit-accurate emulator of the exported hls4ml project (equal to hls4ml's C-simulation bit for
bit); *diff* = firmware − float. Metric names end in `_sim` / `_data` for the domain measured.

- Working point: candidates pass when score ≥ threshold; the threshold is the signal score
  ranked ceil(ε·N_sig), so the signal efficiency is the smallest ≥ ε. Rejection = 1/ε_bkg.
- `gainXX_vs_cuts_sim`: relative gain in signal efficiency at the background efficiency of the
  rectangular cut-based ID tuned (cross-fitted on sim halves) to XX % signal efficiency.
- Decorrelation from isolation, primary figures (unchanged by any monotonic map of the score),
  with the working point (80 % of sim photons), the isolation cut (90 % of sim photons, non-
  isolated 2 GeV above it) and the pT terciles of sim fakes all defined on sim:
  `abcd_r_ptbins` = R = N_A N_D / (N_B N_C) of the fakes per pT tercile (A/B: pass, isolated /
  non-isolated; C/D: fail), `abcd_r_max_deviation` = max |R − 1|; `flatness_chi2_ndf` = χ²/ndf
  of the fake efficiency in 5 isolation bins per pT tercile against flat;
  `rank_dcor_bkg` (`rank_dcor_ptbinned`: per pT tercile) = distance correlation of the ranks.
- `dcor_sigmoid_bkg` (secondary, labelled): dCor of sigmoid(logit) and the protected variable
  among background events: what DisCo minimises; it moves when only the score's shape changes.
  `dcor_bkg` (diphoton): the same with m_γγ.
- `baseline: independence_bound_pt`: as `independence_bound`, for scores independent of
  isolation *at fixed pT* (per pT tercile; overall with the best split of the 80 % signal
  efficiency across terciles): the limit a calibration in pT bins allows.
- `baseline: independence_bound`: the highest rejection at 80 % any classifier of the shower
  shapes + pT, |η| can reach if its background score ignores isolation: the minimum over the 10
  isolation bins of the Neyman–Pearson optimum (signal vs that bin's fakes), estimated with a
  cross-fitted gradient-boosted classifier on sim that also sees the runs' own scores (a
  learned estimate: it can fall short of the true optimum, never of the trained networks).
- `flatness_std_over_mean`, `flatness_max_over_min`: background efficiency at ε_sig = 80 % in
  10 equal-population isolation bins (all pT).
- `jsd50`: Jensen–Shannon divergence (base 2, in [0, 1]) between background m_γγ histograms
  (105–160 GeV, 1 GeV bins) passing vs failing the 50 % cut; `inv_jsd50` = 1/JSD.
- `z50`: Asimov significance √(2((s+b)ln(1+s/b) − s)) with unweighted test-sample counts
  (`s50_window`, `b50_window`) in 120–130 GeV after the 50 % cut; null (inf) when b = 0.
  `n_bkg_pass50`: background events passing, i.e. the statistics behind `jsd50`.
- Energy: ratio E_pred/E_true; `response` = median, `resolution` = IQR/2, `resolution_rel` =
  IQR/2 / median; `*_shift` = data − sim. Baselines: raw cluster energy and a gradient-boosted
  regression on (E_raw, |η|, layer energies), cross-fitted on sim halves.
- `domain_auc`: AUC of the output alone separating sim from data, max(AUC, 1 − AUC).
"""


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "inf" if x > 0 else ("nan" if math.isnan(x) else "-inf")
        return f"{x:.4g}"
    return str(x)


def model_markdown(
    model: str, fam: str, result: dict[str, Any], figures: list[tuple[str, Path]], out_dir: Path
) -> str:
    keys = SUMMARY_KEYS[fam]
    methods = [k for k in result if k != "baseline"]
    column = "firmware" if any("firmware" in result[k] for k in methods) else "float"
    lines = [f"## {model}\n", f"Summary across DA methods ({column} outputs):\n"]
    lines.append("| method | " + " | ".join(keys) + " |")
    lines.append("|---" * (len(keys) + 1) + "|")
    for k in methods:
        vals = result[k].get(column, result[k]["float"])
        lines.append(f"| {k} | " + " | ".join(_fmt(vals.get(x)) for x in keys) + " |")
    for name, vals in result.get("baseline", {}).items():
        lines.append(f"| baseline: {name} | " + " | ".join(_fmt(vals.get(x)) for x in keys) + " |")
    lines.append("")
    for k in methods:
        entry = result[k]
        if "firmware" not in entry:
            lines.append(f"Float vs Brevitas, {k} (firmware not built: --no-firmware):\n")
            lines.append("| metric | float | quant | quant − float |")
            lines.append("|---|---|---|---|")
            diff = diff_metrics(entry["float"], entry["quant"])
            lines += [
                f"| {x} | {_fmt(entry['float'][x])} | {_fmt(entry['quant'].get(x))} | "
                f"{_fmt(diff.get(x))} |"
                for x in keys
                if x in entry["float"]
            ]
            lines.append("")
            continue
        lines.append(f"Float vs firmware, {k}:\n")
        lines.append("| metric | float | quant | firmware | firmware − float |")
        lines.append("|---|---|---|---|---|")
        for x in keys:
            if x in entry["float"]:
                lines.append(
                    f"| {x} | {_fmt(entry['float'].get(x))} | {_fmt(entry['quant'].get(x))} | "
                    f"{_fmt(entry['firmware'].get(x))} | {_fmt(entry['diff'].get(x))} |"
                )
        fq = entry["firmware_vs_quant"]
        lines.append(
            f"\nFirmware vs Brevitas outputs: {fq['n_events_differ']} events differ, "
            f"max |Δ| = {_fmt(fq['max_abs_diff'])}.\n"
        )
    for caption, path in figures:
        rel = path.relative_to(out_dir).as_posix()
        lines.append(f"![{caption}]({rel})\n")
    return "\n".join(lines) + "\n"
