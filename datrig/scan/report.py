"""A scan's results: the trials table, the Pareto front, plots and a recommendation.

``trials.csv`` (and ``trials.parquet``) hold one row per trial with every parameter and
metric; ``front.json`` the non-dominated trials; ``report.md`` names a recommended model for a
stated preference and the commands that reproduce it. ``scan.json`` is written last: its
presence means the scan finished.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import ArtefactKind, atomic_path, write_json
from datrig.scan.objectives import Objective, dominates, pareto_front
from datrig.validate.plots import new_figure, save_png

SCAN = ArtefactKind("scan", "scan.json", "scan")
NONCLOSURE_PREFERENCE = 0.10  # a calibration right to 10 % without correcting for R


def write_table(rows: list[dict[str, Any]], out: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    with atomic_path(out / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(out / "trials.parquet") as tmp:
        frame.to_parquet(tmp, index=False)


def recommend(
    rows: list[dict[str, Any]], front: list[int], objectives: tuple[Objective, ...]
) -> tuple[int | None, str]:
    """The front trial a trigger physicist would pick, and the stated preference."""
    if not front:
        return None, "no trial finished"
    primary, decorrelation, cost = objectives
    allowed = [
        i
        for i in front
        if rows[i].get(decorrelation.metric, math.inf) <= NONCLOSURE_PREFERENCE
        and rows[i].get("budget_pass", True)
    ]
    sign = 1 if primary.mode == "max" else -1
    if allowed:
        best = max(allowed, key=lambda i: (sign * rows[i][primary.metric], -rows[i][cost.metric]))
        return best, (
            f"the best {primary.metric} among front trials with {decorrelation.metric} <= "
            f"{NONCLOSURE_PREFERENCE:g} that fit the firmware budget (ties: fewer LUT)"
        )
    dsign = 1 if decorrelation.mode == "min" else -1
    best = min(front, key=lambda i: dsign * rows[i][decorrelation.metric])
    return best, (
        f"no front trial reaches {decorrelation.metric} <= {NONCLOSURE_PREFERENCE:g}: the one "
        "closest to it"
    )


def unranked(rows: list[dict[str, Any]], objectives: tuple[Objective, ...]) -> list[str]:
    """Why each finished trial without a finite value of every objective cannot be ranked
    (a trial's own reason when it recorded one: e.g. too few events for the ABCD regions)."""
    reasons = []
    for r in rows:
        if r.get("status") != "ok":
            continue
        missing = [o.metric for o in objectives if not _finite(r.get(o.metric))]
        if missing:
            why = r.get("calibration_error") if "abcd_nonclosure" in missing else None
            reasons.append(
                f"{r['trial']}: {', '.join(missing)} undefined"
                + (f" ({why}; use more test events, e.g. a larger n_train/--data)" if why else "")
            )
    return reasons


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def reference_comparison(
    rows: list[dict[str, Any]],
    front: list[int],
    reference: str,
    objectives: tuple[Objective, ...],
) -> dict[str, Any]:
    """Does the front contain a trial that dominates ``reference`` (today's shipped model)?"""
    ref = next((r for r in rows if r["trial"] == reference and r.get("status") == "ok"), None)
    if ref is None:
        return {"reference": reference, "in_scan": False}
    better = [rows[i]["trial"] for i in front if dominates(rows[i], ref, objectives)]
    return {"reference": reference, "in_scan": True, "dominated_by": better}


def plot_front(
    rows: list[dict[str, Any]],
    front: list[int],
    objectives: tuple[Objective, ...],
    out: Path,
    reference: str | None,
    bound: float | None,
) -> list[str]:
    primary, decorrelation, cost = objectives
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok"]
    names = []
    for name, x_obj in (
        ("rejection_vs_decorrelation.png", decorrelation),
        ("rejection_vs_lut.png", cost),
    ):
        fig, axes = new_figure()
        ax = axes[0, 0]
        x = np.array([rows[i][x_obj.metric] for i in ok], dtype=float)
        y = np.array([rows[i][primary.metric] for i in ok], dtype=float)
        c = np.array([rows[i][cost.metric] for i in ok], dtype=float)
        points = ax.scatter(x, y, c=c, cmap="viridis", s=30, label="trials")
        fig.colorbar(points, ax=ax, label="LUT")
        f = [ok.index(i) for i in front if i in ok]
        order = np.argsort(x[f])
        ax.plot(
            x[f][order],
            y[f][order],
            "o",
            mfc="none",
            mec="red",
            ms=11,
            label="Pareto front (all objectives)",
        )
        ref = next((k for k, i in enumerate(ok) if rows[i]["trial"] == reference), None)
        if ref is not None:
            ax.plot(x[ref], y[ref], "*", color="black", ms=14, label=f"shipped: {reference}")
        if bound is not None and math.isfinite(bound):
            ax.axhline(
                bound, ls="--", color="gray", label="bound: isolation-independent at fixed pT"
            )
        ax.set_xlabel(x_obj.label)
        ax.set_ylabel(primary.label)
        if x_obj is cost:
            ax.set_xscale("log")
        ax.set_title(f"scan: {primary.metric} vs {x_obj.metric}")
        ax.legend(fontsize=7)
        save_png(fig, out / name)
        names.append(name)
    return names


def write_report(
    out: Path,
    rows: list[dict[str, Any]],
    objectives: tuple[Objective, ...],
    *,
    model: str,
    command: str,
    reference: str | None,
    bound: float | None,
    meta: dict[str, Any],
) -> Path:
    ok_rows = [r for r in rows if r.get("status") == "ok"]
    ok_index = [i for i, r in enumerate(rows) if r.get("status") == "ok"]
    front = [ok_index[i] for i in pareto_front(ok_rows, objectives)]
    best, preference = recommend(rows, front, objectives)
    comparison = reference_comparison(rows, front, reference, objectives) if reference else {}
    write_table(rows, out)
    write_json(
        out / "front.json",
        {"objectives": [o.metric for o in objectives], "front": [rows[i] for i in front]},
    )
    figures = plot_front(rows, front, objectives, out, reference, bound)
    lines = [
        f"# datrig scan: {model}",
        "",
        f"Command: `{command}`",
        "",
        f"{len(rows)} trials ({len(ok_rows)} finished, {len(rows) - len(ok_rows)} failed). "
        f"Objectives: " + ", ".join(f"{o.mode} {o.metric}" for o in objectives) + ". "
        "Every metric is measured on the firmware (the bit-exact emulator of each trial's "
        "verified project); LUT/latency from da4ml's cost model unless marked measured.",
        "",
        "## Pareto front",
        "",
        "| trial | " + " | ".join(o.metric for o in objectives) + " | LUT (yosys) | latency ns |",
        "|---|" + "---|" * (len(objectives) + 2),
    ]
    for i in front:
        r = rows[i]
        values = " | ".join(_fmt(r.get(o.metric)) for o in objectives)
        lines.append(
            f"| {r['trial']} | {values} | {_fmt(r.get('lut_yosys'))} | "
            f"{_fmt(r.get('latency_ns'))} |"
        )
    not_ranked = unranked(rows, objectives)
    if not front:
        lines += ["", "The front is empty: " + (
            "no trial finished." if not ok_rows
            else "no finished trial has a finite value of every objective (below)."
        )]  # fmt: skip
    if not_ranked:
        lines += ["", "Finished trials that cannot be ranked:", ""]
        lines += [f"- {reason}" for reason in not_ranked]
    if best is not None:
        r = rows[best]
        lines += [
            "",
            "## Recommendation",
            "",
            f"Preference: {preference}.",
            "",
            f"**{r['trial']}**: "
            + ", ".join(f"{o.metric} = {_fmt(r.get(o.metric))}" for o in objectives)
            + ".",
            "",
            "Reproduce (export it as a normal run and project):",
            "",
            f"    datrig scan --model {model} --out {out} --pick {r['trial']}",
            "",
            "or train and export it from scratch:",
            "",
            f"    {_reproduce(model, r, meta)}",
        ]
    if comparison:
        lines += ["", "## Today's shipped model", ""]
        if comparison["in_scan"]:
            dom = comparison["dominated_by"]
            lines.append(
                f"`{reference}` is dominated by {len(dom)} front trial(s): "
                + (", ".join(f"`{d}`" for d in dom) if dom else "none")
            )
        else:
            lines.append(f"`{reference}` was not among the finished trials.")
    lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in figures]
    lines += [
        "",
        "- `rejection_vs_decorrelation.png`: each trial's primary figure against "
        "its decorrelation objective, coloured by LUT; red rings: the Pareto front; star: "
        "today's shipped configuration; dashed: the independence bound.",
        "- `rejection_vs_lut.png`: the same against LUT (firmware cost).",
        "",
    ]
    report = out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines))
    write_json(
        out / SCAN.marker,
        {
            "stage": SCAN.value,
            **meta,
            "n_trials": len(rows),
            "front": [rows[i]["trial"] for i in front],
            "recommended": None if best is None else rows[best]["trial"],
            "unranked": not_ranked,
            "shipped_comparison": comparison,
        },
    )
    return report


def _reproduce(model: str, r: dict[str, Any], meta: dict[str, Any]) -> str:
    hidden = str(r["hidden"]).replace("x", ",")
    lam = "" if r["penalty"] == "none" else f" --lam {r['lam']:g}"
    extra = "".join(
        f" --{key.replace('_', '-')} {meta[key]}" for key in ("epochs", "n_train") if meta.get(key)
    )
    out = f"runs/{model}/{r['trial']}"
    res = float(r.get("resource_lam") or 0.0)
    bits = f" --bits auto --resource-lam {res:g}" if res else " --bits 8"
    return (
        f"datrig qat --model {model} --da {r['penalty']}{lam}{bits} --weight-bits "
        f"{r['weight_bits']} --act-bits {r['act_bits']} --hidden {hidden} "
        f"--seed {r['seed']}{extra} "
        f"--data {meta.get('data', 'data/default')} --out {out} && "
        f"datrig export --model {model} --run {out}"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "-"
    return "-" if value is None else str(value)
