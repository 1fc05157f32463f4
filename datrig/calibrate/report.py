"""calibration.json, per_event.h5, PNG plots and report.md of a calibration (report.md last)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py

from datrig.atomic import atomic_path, write_json
from datrig.calibrate.analysis import Settings
from datrig.calibrate.evaluate import MethodCalibration
from datrig.calibrate.peers import PeerScores, PeerSet, plane_points
from datrig.calibrate.plots import plot_closure_pulls, plot_r_vs_pt, plot_scale_factors
from datrig.faults import pause_point
from datrig.provenance import sidecar
from datrig.runtime import hdf5_writing
from datrig.train.runs import model_file
from datrig.validate.plane import PlanePoint, plane_table, plot_plane


def plane_text() -> str:
    """What the plane compares, the peers described by their registry entries."""
    from datrig.validate.peers import PEERS

    peers = "; ".join(f"`{p.name}`: {p.description}" for p in PEERS.values())
    return (
        "Runs (networks and tree ensembles): their firmware scores. Peers (fitted on the "
        f"simulated events of the runs' training sample, never on data): {peers}. R per pT "
        "tercile of the simulated fakes, R data with the toy's truth labels, statistical "
        "(Poisson) errors. Peer scores per candidate: `per_event.h5` `peers/<name>/`."
    )


MARKER = "calibrate.json"  # the calibration artefact's marker (datrig.calibrate.artefact)

PER_EVENT_FIELDS = ("pt", "eta", "iso_calo", "domain", "label")


def summary(cal: MethodCalibration) -> dict[str, Any]:
    """The headline numbers of one method: worst bins of the pT binning."""
    bins = cal.result.bins["pt"]

    def worst(path: tuple[str, ...], centre: float) -> float:
        values = [_get(b, path)["value"] for b in bins]
        return float(max(abs(v - centre) for v in values))

    return {
        "abcd_r_max_abs_dev_sim": worst(("abcd_r", "sim"), 1.0),
        "abcd_r_max_abs_dev_data": worst(("abcd_r", "data_truth"), 1.0),
        "closure_uncorrected_max_abs_dev": worst(("closure", "uncorrected"), 1.0),
        "closure_corrected_max_abs_dev": worst(("closure", "corrected_with_sim_r"), 1.0),
        "sf_measured_over_truth_max_abs_dev": worst(("scale_factor", "measured_over_truth"), 1.0),
        "sf_max_abs_pull": float(
            max(abs(b["scale_factor"]["measured_over_truth"]["pull"]) for b in bins)
        ),
    }


def _get(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def write_calibration(
    results: list[MethodCalibration],
    out: Path,
    *,
    seed: int,
    final: Path | None = None,
    peers: PeerSet | None = None,
    settings: Settings | None = None,
) -> Path:
    """Write the calibration's files into ``out``: the staging folder of the calibration
    artefact (:mod:`datrig.calibrate.artefact`) that will be swapped into ``final``, so paths
    recorded inside it name ``final``. ``calibrate.json`` (the marker) is written last."""
    out = Path(out)
    final = out if final is None else Path(final)
    peer_set = peers or PeerSet([], {})
    peers = peer_set.scores
    settings = settings or Settings(seed=seed)
    planes = {
        "control_band": plane_points(results, peers, settings, control=True),
        "fail_id": plane_points(results, peers, settings, control=False),
    }
    doc: dict[str, Any] = {}
    for cal in results:
        r = cal.result.regions
        doc[cal.method] = {
            "run": str(cal.run_dir),  # informational: never read back
            **project_record(Path(cal.project), out),
            "n_events": {d: len(s.events) for d, s in cal.samples.items()},
            "regions": {
                "pass_threshold": r.pass_threshold,
                "control_threshold": r.control_threshold,
                "iso_cut_gev": r.iso_cut,
                "iso_gap_gev": r.iso_gap,
            },
            "binnings": {name: b.to_json() for name, b in cal.result.binnings.items()},
            "bins": cal.result.bins,
            "summary": summary(cal),
        }
    doc["plane"] = {k: [p.to_json() for p in v] for k, v in planes.items()}
    doc["peers"] = {p.name: {"training": str(p.training), "candidates_of": p.events_of}
                    for p in peers}  # fmt: skip
    doc["peers_not_measured"] = peer_set.skipped
    write_json(out / "calibration.json", doc)
    _write_per_event(results, peers, out / "per_event.h5")
    pause_point("calibrate:wrote-per-event")
    figures = {
        "calibration_plane.png": plot_plane(
            planes["control_band"],
            out / "calibration_plane.png",
            "firmware networks and peers on the same candidates (control-band ABCD)",
        ),
        "abcd_r_vs_pt.png": plot_r_vs_pt(results, out / "abcd_r_vs_pt.png"),
        "closure_pulls.png": plot_closure_pulls(results, out / "closure_pulls.png"),
        "scale_factors.png": plot_scale_factors(results, out / "scale_factors.png"),
    }
    report = out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text(_markdown(results, doc, figures, planes, peer_set.skipped))
    inputs = {f"{c.method}/model": model_file(c.run_dir) for c in results}
    write_json(out / MARKER, sidecar(stage="calibrate", seed=seed, inputs=inputs))  # last
    return final / report.name


def _write_per_event(results: list[MethodCalibration], peers: list[PeerScores], path: Path) -> None:
    with hdf5_writing(path), atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        for peer in peers:  # the candidates of ``candidates_of``, in the same order
            group = fh.require_group("peers").create_group(peer.name)
            group.attrs["candidates_of"] = peer.events_of
            group.attrs["training"] = str(peer.training)
            for domain, score in peer.scores.items():
                group.create_dataset(f"{domain}/score", data=score, compression="gzip")
        for cal in results:
            group = fh.create_group(cal.method)
            group.attrs["run"] = str(cal.run_dir)
            for domain, sample in cal.samples.items():
                g = group.create_group(domain)
                g.create_dataset("score", data=sample.score, compression="gzip")
                g.create_dataset("region", data=cal.result.region_of[domain], compression="gzip")
                for name in PER_EVENT_FIELDS:
                    g.create_dataset(name, data=sample.events[name], compression="gzip")
                for name, bins in cal.result.bin_of[domain].items():
                    g.create_dataset(f"bin_{name}", data=bins, compression="gzip")


def _fmt(v: dict[str, float], digits: int = 3) -> str:
    return f"{v['value']:.{digits}f} ± {v['err']:.{digits}f}"


CONVENTIONS = """\
Regions (defined on simulation, applied unchanged to data): the tight ID passes 80 % of
simulated photons; the control band holds the scores below the 99.8 % photon-efficiency point;
isolated: `iso_calo` below the 90 % quantile of simulated photons, non-isolated: 2 GeV above.
A = tight & isolated (the signal region), B = tight & non-isolated, C = control & isolated,
D = control & non-isolated. R = N_A N_D / (N_B N_C) among fakes (R = 1: no correction needed).
The measurement reads only the candidates' scores, isolation and kinematics in `data`; photon
leakage fractions and the corrected variant's R come from simulation. *Closure* = estimate /
truth (the toy's labels, never used by the measurement). Uncertainties: bootstrap (Poisson
weights per candidate), statistical only. Scores are the firmware's (bit-exact emulator).
"""


def _markdown(
    results: list[MethodCalibration],
    doc: dict[str, Any],
    figures: dict,
    planes: dict[str, list[PlanePoint]],
    skipped: dict[str, str],
) -> str:
    lines = ["# datrig calibration: ABCD fake yield and photon ID efficiency", "", CONVENTIONS]
    lines += ["## Every method on the same candidates", "", plane_text(), ""]
    lines += [f"- {name}: not measured ({why})" for name, why in skipped.items()]
    lines += ["C, D in the control band (the calibration's regions):", ""]
    lines += plane_table(planes["control_band"])
    lines += ["", "C, D = every candidate failing the ID:", ""]
    lines += plane_table(planes["fail_id"])
    lines += ["", "![calibration_plane.png](calibration_plane.png)", ""]
    lines += ["## Summary (pT terciles)", ""]
    lines += [
        "| method | events sim / data | max abs(R-1) sim | data | closure uncorr. | "
        "closure with sim R | SF meas/truth |",
        "|---|---|---|---|---|---|---|",
    ]
    for cal in results:
        s, n = doc[cal.method]["summary"], doc[cal.method]["n_events"]
        lines.append(
            f"| {cal.method} | {n['sim']:,} / {n['data']:,} | {s['abcd_r_max_abs_dev_sim']:.3f} "
            f"| {s['abcd_r_max_abs_dev_data']:.3f} | {s['closure_uncorrected_max_abs_dev']:.3f} "
            f"| {s['closure_corrected_max_abs_dev']:.3f} "
            f"| {s['sf_measured_over_truth_max_abs_dev']:.4f} |"
        )
    lines += ["", "## Firmware cost (each method's project report)", ""]
    lines += ["| method | latency | LUT | FF | DSP |", "|---|---|---|---|---|"]
    for cal in results:
        cost = firmware_cost(cal.project)
        if cost is None:
            lines.append(f"| {cal.method} | not measured (`datrig report` on its project) |||| ")
            continue
        lines.append(
            f"| {cal.method} | {cost['latency_ns']:g} ns | {cost['lut']:,} | {cost['ff']:,} "
            f"| {cost['dsp']} |"
        )
    for cal in results:
        for binning in ("pt", "pt_eta", "cluster"):
            lines += ["", f"## {cal.method}: {binning} bins", ""]
            lines += [
                "| bin | R sim | R data (truth) | closure uncorr. | closure with sim R | "
                "eff. data meas. | eff. data truth | SF meas. | SF truth |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for b in doc[cal.method]["bins"][binning]:
                lines.append(
                    f"| {b['label']} | {_fmt(b['abcd_r']['sim'], 2)} "
                    f"| {_fmt(b['abcd_r']['data_truth'], 2)} "
                    f"| {_fmt(b['closure']['uncorrected'])} "
                    f"| {_fmt(b['closure']['corrected_with_sim_r'])} "
                    f"| {_fmt(b['efficiency']['data_measured'], 4)} "
                    f"| {_fmt(b['efficiency']['data_truth'], 4)} "
                    f"| {_fmt(b['scale_factor']['measured'], 4)} "
                    f"| {_fmt(b['scale_factor']['truth'], 4)} |"
                )
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    lines += ["", "Per-candidate firmware scores, regions and bins: `per_event.h5`.", ""]
    return "\n".join(lines)


def firmware_cost(project: Path) -> dict[str, Any] | None:
    """Latency and resources from a project's ``report.json`` (a network's or a tree
    ensemble's), or None when the project has not been measured."""
    try:
        doc = json.loads((Path(project) / "report.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        if "quantities" in doc:  # a network's report
            q = doc["quantities"]
            values = {k: q[k]["value"] for k in ("latency_ns", "lut", "ff", "dsp")}
        else:  # a tree ensemble's
            r = doc["resources"] or {}
            values = {
                "latency_ns": doc["latency_ns"],
                **{k: r.get(k) for k in ("lut", "ff", "dsp")},
            }
    except (KeyError, TypeError):
        return None
    if any(not isinstance(v, (int, float)) for v in values.values()):
        return None
    return {k: int(v) if k != "latency_ns" else float(v) for k, v in values.items()}


def project_record(project: Path, out: Path) -> dict[str, str]:
    """A project inside the calibration as a path relative to it; one elsewhere (the shipped
    hls_projects/) as an informational path that datrig never reads back."""
    if project.resolve().is_relative_to(out.resolve()):
        return {"project": str(project.resolve().relative_to(out.resolve()))}
    return {"project_outside": str(project)}
