"""Resolution per pT x |eta| bin in both domains: firmware against the standard regression
and the measured ceiling, with bootstrap errors.

For every output (baselines and each method's firmware energy) and bin: IQR/2 of E/E_true.
``gain`` = 1 - resolution / resolution(standard regression): how much better than today's
calibration; ``ceiling_fraction`` = gain / gain(ceiling): the share of what the inputs allow
that the firmware reaches. Errors come from resampling the events of each bin (the outputs are
resampled together, so differences between them keep their correlation).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from datrig.metrics.energy_bins import ETA_BINS, PT_EDGES, eta_bin, eta_label, pt_bin, pt_label

REFERENCE = "standard_regression"
CEILING = "ceiling"
N_REPLICAS = 50
MIN_EVENTS = 50  # a bin with fewer events has no resolution (null)
DOMAINS = {"sim": 0, "data": 1}


def _iqr_half(x: np.ndarray) -> np.ndarray:
    """IQR/2 along the last axis."""
    q25, q75 = np.quantile(x, [0.25, 0.75], axis=-1)
    return (q75 - q25) / 2.0


def _bin_entry(ratios: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, Any]:
    """Resolutions, gains and ceiling fractions (value, err) of one bin's responses."""
    names = list(ratios)
    stack = np.stack([ratios[n] for n in names])  # (outputs, events)
    n = stack.shape[1]
    entry: dict[str, Any] = {"n": int(n)}
    if n < MIN_EVENTS:
        return entry
    idx = rng.integers(0, n, size=(N_REPLICAS, n))
    res = np.concatenate([_iqr_half(stack)[None, :], _iqr_half(stack[:, idx]).T], axis=0)
    by_name = {name: res[:, i] for i, name in enumerate(names)}  # row 0: observed

    def pair(x: np.ndarray) -> dict[str, float]:
        return {"value": float(x[0]), "err": float(np.std(x[1:], ddof=1))}

    entry["resolution"] = {name: pair(v) for name, v in by_name.items()}
    if REFERENCE in by_name:
        ref = by_name[REFERENCE]
        gains = {name: 1.0 - v / ref for name, v in by_name.items() if name != REFERENCE}
        entry["gain"] = {name: pair(g) for name, g in gains.items()}
        if CEILING in gains:
            ceiling = gains[CEILING]
            entry["ceiling_fraction"] = {
                name: pair(g / ceiling) for name, g in gains.items() if name != CEILING
            }
    return entry


def resolution_table(
    events: np.ndarray, outputs: dict[str, np.ndarray], seed: int
) -> dict[str, Any]:
    """Per domain: the inclusive entry and one per (pT, |eta|) bin, for ``outputs`` (name ->
    E_pred [GeV] of every event)."""
    e_true = np.asarray(events["e_true"], dtype=np.float64)
    ratios = {name: np.asarray(e, dtype=np.float64) / e_true for name, e in outputs.items()}
    domain = np.asarray(events["domain"])
    pt_idx = pt_bin(np.asarray(events["pt"], dtype=np.float64))
    eta_idx = eta_bin(np.abs(np.asarray(events["eta"], dtype=np.float64)))
    rng = np.random.default_rng(seed)
    table: dict[str, Any] = {"pt_edges": list(PT_EDGES), "eta_bins": [list(b) for b in ETA_BINS]}
    for dname, code in DOMAINS.items():
        sel = domain == code
        if not sel.any():
            continue
        rows = [{"pt": "all", "eta": "all", **_bin_entry(_take(ratios, sel), rng)}]
        for p, (plo, phi) in enumerate(itertools.pairwise(PT_EDGES)):
            for k, (elo, ehi) in enumerate(ETA_BINS):
                in_bin = sel & (pt_idx == p) & (eta_idx == k)
                entry = _bin_entry(_take(ratios, in_bin), rng)
                rows.append({"pt": pt_label(plo, phi), "eta": eta_label(elo, ehi), **entry})
        table[dname] = rows
    return table


def _take(ratios: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {name: r[mask] for name, r in ratios.items()}


def _pct(v: dict[str, float] | None) -> str:
    if v is None or not math.isfinite(v["value"]):
        return "—"
    return f"{100 * v['value']:.1f} ± {100 * v['err']:.1f}"


def _res(v: dict[str, float] | None) -> str:
    return "—" if v is None else f"{v['value']:.5f}"


def table_markdown(table: dict[str, Any], methods: list[str], how: str) -> str:
    """One table per domain: resolutions of the standard regression, the ceiling and each
    method's firmware, the ceiling's gain and each method's gain and share of it."""
    lines = [
        "",
        "### Energy resolution per pT x |eta| bin (firmware) against the measured ceiling",
        "",
        f"IQR/2 of E/E_true. Standard regression and ceiling trained on the {how} (sim only). "
        "gain = 1 - IQR/standard (%); share = gain / ceiling gain (%); bootstrap errors.",
    ]
    for dname in DOMAINS:
        if dname not in table:
            continue
        head = ["pT [GeV]", "|eta|", "events", "standard", "ceiling", "ceiling gain"]
        for m in methods:
            head += [m, f"{m} gain", f"{m} share"]
        lines += ["", f"**{dname}**", "", "| " + " | ".join(head) + " |"]
        lines.append("|---" * len(head) + "|")
        for row in table[dname]:
            res, gain = row.get("resolution", {}), row.get("gain", {})
            share = row.get("ceiling_fraction", {})
            cells = [row["pt"], row["eta"], f"{row['n']:,}", _res(res.get(REFERENCE)),
                     _res(res.get(CEILING)), _pct(gain.get(CEILING))]  # fmt: skip
            for m in methods:
                cells += [_res(res.get(m)), _pct(gain.get(m)), _pct(share.get(m))]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
