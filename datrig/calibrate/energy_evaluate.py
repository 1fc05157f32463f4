"""From an energy-regression run to its in-situ calibration: firmware energies of the
resonance photons of both domains, the scale fit, the corrected energies and the closure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.calibrate.energy_closure import BinClosure, closure
from datrig.calibrate.energy_scale import (
    Pairs,
    ScaleResult,
    ScaleSettings,
    fit_scales,
    opening_cosine,
)
from datrig.data.manifest import dataset_file
from datrig.data.reader import read_columns
from datrig.errors import DatrigError
from datrig.metrics.energy_bins import eta_bin
from datrig.project.protocol import Firmware

CHUNK = 200_000  # photons per emulation step (bounded memory)
DOMAINS = ("sim", "data")


@dataclass
class ResonancePhotons:
    """One domain's resonance photons, flat (rows 2k, 2k+1 = event k): the firmware energy
    [GeV], true energy (closure only), eta, phi and |eta| bin."""

    e_firmware: np.ndarray
    e_true: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    bins: np.ndarray

    def pairs(self, energy: np.ndarray | None = None) -> Pairs:
        e = self.e_firmware if energy is None else energy
        return Pairs(
            energy=e.reshape(-1, 2),
            cos_angle=opening_cosine(self.eta.reshape(-1, 2), self.phi.reshape(-1, 2)),
            bins=self.bins.reshape(-1, 2),
        )


@dataclass
class EnergyCalibration:
    """One run's in-situ calibration."""

    method: str
    run_dir: Path
    project: Path
    photons: dict[str, ResonancePhotons]
    scale: ScaleResult
    e_corrected: dict[str, np.ndarray]  # data: corrected; sim: unchanged (the reference)
    bins: list[BinClosure]


def energy_project(run_dir: Path, out_dir: Path, seed: int, method: str) -> Firmware:
    """The run's verified project (``hls_projects/<model>`` when current, else exported into
    ``out_dir/firmware/<method>``); energy regressions only."""
    from datrig.firmware.run_firmware import shipped_or_exported
    from datrig.models.registry import get_model_spec
    from datrig.train.predictions import load_predictions

    preds = load_predictions(run_dir)
    if preds.model not in _energy_models() or get_model_spec(preds.model).family != "energy":
        raise DatrigError(
            f"{run_dir} is a {preds.model} run; calibrate --energy measures the energy scale "
            "of an energy regression (photon_energy)"
        )
    return shipped_or_exported(preds, out_dir, seed, method, "calibrate")


def _energy_models() -> list[str]:
    from datrig.models.registry import MODELS

    return [name for name, spec in MODELS.items() if spec.family == "energy"]


def resonance_photons(
    project: Firmware, path: Path, eta_bins: tuple[tuple[float, float], ...]
) -> ResonancePhotons:
    """Firmware energies (bit-exact emulator, E = e_raw x correction) of every photon of a
    resonance file, through the project's own input definition."""
    spec = project.meta.inputs
    if spec is None or spec.kind != "photons" or spec.normalisation.uses_cells:
        raise DatrigError(
            f"project {project.path} does not read photon columns; the resonance sample holds "
            "the photon columns of an energy regression"
        )
    x = np.asarray(spec.normalisation.network_inputs(path), dtype=np.float64)
    out = np.concatenate([project.emulate(x[i : i + CHUNK])[:, 0] for i in range(0, len(x), CHUNK)])
    cols = read_columns(path, ["e_raw", "e_true", "eta", "phi"])
    eta = cols["eta"].astype(np.float64)
    return ResonancePhotons(
        e_firmware=cols["e_raw"].astype(np.float64) * out,
        e_true=cols["e_true"].astype(np.float64),
        eta=eta,
        phi=cols["phi"].astype(np.float64),
        bins=eta_bin(np.abs(eta), eta_bins),
    )


def calibrate_energy(
    photons: dict[str, ResonancePhotons], settings: ScaleSettings
) -> tuple[ScaleResult, dict[str, np.ndarray], list[BinClosure]]:
    """Fit the scale on the firmware energies (no truth of data), correct the data, close."""
    sim, data = photons["sim"], photons["data"]
    scale = fit_scales(sim.pairs(), data.pairs(), settings)
    corrected = {"sim": sim.e_firmware, "data": data.e_firmware * scale.correction(data.bins)}
    bins = closure(
        scale,
        sim.e_firmware / sim.e_true,
        sim.bins,
        data.e_firmware / data.e_true,
        corrected["data"] / data.e_true,
        data.bins,
    )
    return scale, corrected, bins


def evaluate_energy_run(
    run_dir: Path, method: str, data_dir: Path | None, out_dir: Path, settings: ScaleSettings
) -> EnergyCalibration:
    """The whole in-situ calibration of one run on the resonance files of ``data_dir`` (default:
    the run's own dataset)."""
    from datrig.train.runs import run_data_dir

    run_dir = Path(run_dir)
    data_dir = Path(data_dir) if data_dir is not None else run_data_dir(run_dir)
    files = {d: dataset_file(data_dir, "resonance", d) for d in DOMAINS}  # before any export
    project = energy_project(run_dir, out_dir, settings.seed, method)
    photons = {d: resonance_photons(project, files[d], settings.eta_bins) for d in DOMAINS}
    scale, corrected, bins = calibrate_energy(photons, settings)
    return EnergyCalibration(method, run_dir, project.path, photons, scale, corrected, bins)
