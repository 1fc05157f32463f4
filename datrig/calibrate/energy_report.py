"""energy_calibration.json, per_event.h5, PNG plots and report.md of an in-situ energy
calibration (docs/artefacts.md section 5); the artefact's marker is written last by
:func:`datrig.calibrate.report.write_marker`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.calibrate.energy_evaluate import DOMAINS, EnergyCalibration
from datrig.calibrate.energy_scale import median_with_error
from datrig.calibrate.report import project_record
from datrig.data.schema import DOMAINS as DOMAIN_CODES
from datrig.faults import pause_point
from datrig.runtime import hdf5_writing

RESULT_FILE = "energy_calibration.json"
CLOSURE_TARGET = 0.001  # |data - sim| median response after the correction, per |eta| bin


def calibration_doc(cal: EnergyCalibration, project: Path, out: Path) -> dict[str, Any]:
    """The JSON record: settings, scales and category fits, closure per bin, summary."""
    settings = cal.scale.settings
    after = [b.diff_after for b in cal.bins]
    before = [b.diff_before for b in cal.bins]
    totals = {}
    for domain in DOMAINS:
        p = cal.photons[domain]
        totals[domain] = median_with_error(cal.e_corrected[domain] / p.e_true)
    return {
        "method": cal.method,
        "run": str(cal.run_dir),
        **project_record(project, out),
        "n_photons": {d: int(cal.photons[d].e_true.size) for d in DOMAINS},
        "settings": {
            "eta_bins": [list(b) for b in settings.eta_bins],
            "window_log_mass": settings.window,
            "max_shift": settings.max_shift,
            "min_events": settings.min_events,
        },
        "categories": [c.to_json() for c in cal.scale.categories],
        "bins": [b.to_json() for b in cal.bins],
        "summary": {
            "max_abs_data_minus_sim_before": float(max(abs(v) for v, _ in before)),
            "max_abs_data_minus_sim_after": float(max(abs(v) for v, _ in after)),
            "max_abs_pull_after": float(max(abs(v) / e for v, e in after if e > 0)),
            "target": CLOSURE_TARGET,
            "closes": bool(all(abs(v) <= CLOSURE_TARGET for v, _ in after)),
            "median_response_corrected": {
                d: {"value": v, "err": e} for d, (v, e) in totals.items()
            },
        },
    }


def write_per_event(cal: EnergyCalibration, path: Path) -> None:
    """One row per photon (sim first, then data; rows 2k, 2k+1 of a domain = event k):
    ``e_true``, ``e_firmware``, ``e_corrected`` [GeV], ``eta``, ``domain`` (0 sim, 1 data),
    ``eta_bin`` (-1: crack)."""
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("e_true", "e_firmware", "e_corrected", "eta", "domain", "eta_bin")
    }
    for domain in DOMAINS:
        p = cal.photons[domain]
        columns["e_true"].append(p.e_true)
        columns["e_firmware"].append(p.e_firmware)
        columns["e_corrected"].append(cal.e_corrected[domain])
        columns["eta"].append(p.eta)
        columns["domain"].append(np.full(p.eta.size, DOMAIN_CODES[domain], dtype=np.int8))
        columns["eta_bin"].append(p.bins.astype(np.int8))
    with hdf5_writing(path), atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs["method"] = cal.method
        fh.attrs["run"] = str(cal.run_dir)
        fh.attrs["units"] = '{"e_true": "GeV", "e_firmware": "GeV", "e_corrected": "GeV"}'
        for name, parts in columns.items():
            values = np.concatenate(parts)
            if values.dtype.kind == "f":
                values = values.astype(np.float32)
            fh.create_dataset(name, data=values, compression="gzip")


def _pm(v: dict[str, float], scale: float = 100.0, digits: int = 3) -> str:
    return f"{v['value'] * scale:+.{digits}f} ± {v['err'] * scale:.{digits}f}"


CONVENTIONS = """\
The resonance photons of both domains are calibrated by the *firmware* energy regression
(bit-exact emulator of the exported project). In each category of the two photons' |eta|
bins, the simulated mass distribution, shifted by alpha and smeared, is fitted to the data's;
the per-bin log scales a_i solve alpha_ij = (a_i + a_j) / 2 (weighted least squares). Data
energies are divided by exp(a_i); simulation is the reference and stays as it is. The fit
reads from data only the photons' firmware energies and directions. *Closure*: median response
E/E_true per |eta| bin (the toy's truth), data - simulation before and after the correction,
in %, with statistical errors (order statistics; after: with the scale's fit error). Target:
|data - sim| <= 0.1 % after the correction in every bin.
"""


def markdown(doc: dict[str, Any], figures: list[str]) -> str:
    s = doc["summary"]
    lines = ["# datrig in-situ energy scale (resonance peak)", "", CONVENTIONS]
    lines += [
        f"Run `{doc['run']}` ({doc['method']}), {doc['n_photons']['sim']:,} simulated and "
        f"{doc['n_photons']['data']:,} data photons. Largest |data - sim|: before "
        f"{s['max_abs_data_minus_sim_before']:.3%}, after {s['max_abs_data_minus_sim_after']:.3%} "
        f"(target {s['target']:.1%}: {'met' if s['closes'] else 'NOT met'}).",
        "",
        "| |eta| bin | photons data | scale exp(a) - 1 [%] | median E/E_true sim | data before | "
        "data after | data - sim before [%] | data - sim after [%] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in doc["bins"]:
        scale = {**b["scale"], "value": b["scale"]["value"] - 1.0}
        lines.append(
            f"| {b['label']} | {b['n_data']:,} | {_pm(scale)} "
            f"| {b['median_response_sim']['value']:.5f} "
            f"| {b['median_response_data_before']['value']:.5f} "
            f"| {b['median_response_data_after']['value']:.5f} "
            f"| {_pm(b['data_minus_sim_before'])} | {_pm(b['data_minus_sim_after'])} |"
        )
    lines += [
        "",
        "## Category fits",
        "",
        "| bins | pairs data | alpha [%] | smearing [%] | chi2 / ndf |",
    ]
    lines += ["|---|---|---|---|---|"]
    for c in doc["categories"]:
        alpha = (
            "—" if c["alpha"] != c["alpha"] else _pm({"value": c["alpha"], "err": c["alpha_err"]})
        )
        smear = "—" if c["smearing"] != c["smearing"] else f"{c['smearing']:.2%}"
        lines.append(
            f"| {c['bins'][0]}, {c['bins'][1]} | {c['n_data']:,} | {alpha} | {smear} "
            f"| {c['chi2']:.0f} / {c['ndf']} |"
        )
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    lines += ["", "Per photon: `per_event.h5` (e_true, e_firmware, e_corrected, eta, domain).", ""]
    return "\n".join(lines)


def write_energy_calibration(cal: EnergyCalibration, out: Path, final: Path) -> Path:
    """Write the calibration's files into the staging folder ``out`` (paths recorded name
    ``final``); returns the final report path. The marker is the caller's, written last."""
    from datrig.calibrate.energy_plots import plot_closure, plot_mass

    doc = calibration_doc(cal, Path(cal.project), out)
    write_json(out / RESULT_FILE, doc)
    write_per_event(cal, out / "per_event.h5")
    pause_point("calibrate:wrote-per-event")
    figures = [
        plot_closure(doc, out / "energy_closure.png"),
        plot_mass(cal, out / "energy_mass.png"),
    ]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(markdown(doc, figures))
    return final / "report.md"
