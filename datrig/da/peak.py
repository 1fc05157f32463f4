"""peak: the resonance peak in unlabelled data must look like the simulated one.

The in-situ energy scale (:mod:`datrig.calibrate.energy_scale`) corrects data by the shift
between the data and simulated mass peaks of the resonance sample; it closes only as well as
the data response has the simulated response's *shape*. This penalty asks for that during
training: each step draws resonance photon pairs from both domains of the run's dataset (their
``train`` split; data pairs carry no truth, only their inputs and directions), computes the
reconstructed mass m = sqrt(2 E1 E2 (1 - cos)) from the network's energies, and adds the
1-Wasserstein distance between the log-mass distributions of the two domains, matched within
categories of the photons' |eta| bins (the simulated pairs are drawn to the data pairs'
category counts, so sorting ``category + log m`` aligns the quantiles of each category).
The true mass distribution is the same in both domains, so a network that calibrates data as
well as simulation makes it zero; a global scale error of x % costs x / 100.

Energy regressions only (``energy_correction`` outputs). Cost: one extra forward pass over
``pairs`` x 2 photons x 2 domains per step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from datrig.da.base import Penalty, PenaltyInputs, RunData
from datrig.errors import DatrigError
from datrig.metrics.energy_bins import ETA_BINS, eta_bin

DOMAINS = ("sim", "data")
CATEGORY_GAP = 10.0  # added per category to log m [ln GeV]: beyond any log-mass spread (e^10)


class ResonancePairs:
    """One domain's resonance pairs for training: network inputs of both photons, their raw
    energies, the angular factor ln(2 (1 - cos)) and the |eta| category of the pair."""

    def __init__(self, run: RunData, domain: str, max_pairs: int | None) -> None:
        from datrig.data.manifest import dataset_file
        from datrig.data.reader import read_columns

        try:
            path = dataset_file(run.data_dir, "resonance", domain)
        except DatrigError as exc:
            raise DatrigError(f"penalty 'peak' trains on the resonance sample: {exc}") from None
        x = run.normalisation.network_inputs(path, "train")
        cols = read_columns(path, ["e_raw", "eta", "phi"], "train")
        n = (len(x) // 2) * 2  # a split boundary may cut a pair
        if max_pairs is not None:
            n = min(n, 2 * max_pairs)
        if n < 2:
            raise DatrigError(f"penalty 'peak': {path} has no resonance pair in its train split")
        eta = cols["eta"][:n].astype(np.float64).reshape(-1, 2)
        phi = cols["phi"][:n].astype(np.float64).reshape(-1, 2)
        cos = np.tanh(eta[:, 0]) * np.tanh(eta[:, 1]) + np.cos(phi[:, 0] - phi[:, 1]) / (
            np.cosh(eta[:, 0]) * np.cosh(eta[:, 1])
        )
        bins = eta_bin(np.abs(eta), ETA_BINS)
        lo, hi = bins.min(axis=1), bins.max(axis=1)
        keep = lo >= 0
        self.category = (lo * len(ETA_BINS) + hi)[keep]
        rows = np.flatnonzero(np.repeat(keep, 2))
        self.inputs = torch.from_numpy(np.ascontiguousarray(x[:n][rows], dtype=np.float32))
        self.e_raw = torch.from_numpy(cols["e_raw"][:n][rows].astype(np.float32))
        self.log_angle = torch.from_numpy(np.log(np.clip(2.0 * (1.0 - cos[keep]), 1e-9, None)))

    def __len__(self) -> int:
        return int(self.category.size)

    def log_mass(self, model: torch.nn.Module, pairs: np.ndarray) -> torch.Tensor:
        """ln m of the chosen pairs from the network's energies (E = e_raw x output)."""
        rows = torch.from_numpy(np.stack([2 * pairs, 2 * pairs + 1], axis=1).reshape(-1))
        out = model(self.inputs[rows]).reshape(-1, 2)
        # float64: the category offsets below must not eat the log masses' precision
        energy = out.double().clamp_min(1e-2) * self.e_raw[rows].double().reshape(-1, 2)
        log_e = torch.log(energy).sum(dim=1)
        return 0.5 * (log_e + self.log_angle[torch.from_numpy(pairs)])


class PeakPenalty(Penalty):
    """W1 between the data and simulated log-mass distributions of resonance pairs, within
    |eta| categories (see the module docstring)."""

    name = "peak"
    plot_color = "tab:pink"
    toy_samples = ("resonance",)
    output_kinds = ("energy_correction",)
    # lam scan on the default data (photon_energy, 3 seeds): see README, "DA that helps the
    # scale"
    default_lam: ClassVar[dict[str, float]] = {"photon_energy": 0.1}

    def __init__(self, pairs: int = 256, **options: Any) -> None:
        super().__init__(**options)
        self.pairs = pairs
        self.epoch = 0
        self.step = 0
        self.samples: dict[str, ResonancePairs] = {}
        self.seed = 0

    @classmethod
    def check_model(cls, model: str, condition: str | None, compensated: bool = False) -> None:
        from datrig.models.registry import get_model_spec

        super().check_model(model, condition, compensated)
        if get_model_spec(model).output_kind not in cls.output_kinds:
            raise DatrigError(
                f"penalty {cls.name!r} matches the resonance peak of predicted energies; model "
                f"{model} predicts no energy"
            )

    def attach(self, run: RunData) -> None:
        self.samples = {d: ResonancePairs(run, d, run.n_train) for d in DOMAINS}
        self.seed = run.seed
        sim = self.samples["sim"].category
        order = np.argsort(sim, kind="stable")
        self._sim_by_category = order
        n_cat = len(ETA_BINS) ** 2
        counts = np.bincount(sim, minlength=n_cat)
        self._sim_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._sim_count = counts
        data = self.samples["data"].category
        usable = self._sim_count[data] > 0
        if not usable.any():
            raise DatrigError("penalty 'peak': no |eta| category has pairs in both domains")
        self._data_usable = np.flatnonzero(usable)

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch, self.step = epoch, 0

    def _draw(self) -> tuple[np.ndarray, np.ndarray]:
        """Data pairs at random, and for each a simulated pair of the same category."""
        rng = np.random.default_rng([self.seed, self.epoch, self.step])
        self.step += 1
        data = self._data_usable[rng.integers(0, self._data_usable.size, self.pairs)]
        cat = self.samples["data"].category[data]
        pick = (rng.random(self.pairs) * self._sim_count[cat]).astype(np.int64)
        sim = self._sim_by_category[self._sim_start[cat] + pick]
        return sim, data

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        if batch.model is None or not self.samples:
            raise DatrigError("penalty 'peak' needs the network and its resonance sample")
        sim, data = self._draw()
        sorted_logm = []
        for domain, pairs in (("sim", sim), ("data", data)):
            sample = self.samples[domain]
            key = sample.log_mass(batch.model, pairs) + CATEGORY_GAP * torch.from_numpy(
                sample.category[pairs].astype(np.float64)
            )
            sorted_logm.append(torch.sort(key).values)
        return (sorted_logm[1] - sorted_logm[0]).abs().mean().float()

    def checkpoint_state(self) -> dict[str, Any]:
        return {"module": self.state_dict(), "epoch": self.epoch, "step": self.step}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["module"])
        self.epoch, self.step = int(state.get("epoch", 0)), int(state.get("step", 0))
