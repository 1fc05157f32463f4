"""The measured float ceiling of a cell-level photon ID: do the cells carry what the shower
shapes carry?

Two float networks, trained the same way on the same simulated training candidates (the train
split of the run's own dataset) and measured on the same simulated test events as the runs:

* ``shower_shape_mlp``: the photon_id score branch's 13 inputs (the 11 shower shapes, log pT,
  |eta|; :func:`datrig.validate.peers.network_features`);
* ``cell_mlp``: the cell window the GNN reads (every stored cell's energy over the window's EM
  energy, plus log E_em; the ``window`` builder of :mod:`datrig.data.features`).

Neither is a firmware candidate: both are wider than the trigger networks and unquantized, so
the ratio of their R80 says whether the cells hold the shower shapes' information (issue 20
asks >= 90 %), independently of what the firmware budget then allows. Errors are bootstrap
standard deviations over the test events (the training is held fixed); the spread over
training seeds is larger and is quoted in the README.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datrig.errors import DatrigError
from datrig.metrics import classifier as m
from datrig.train.predictions import RunPredictions

CEILING_FRACTION = 0.9  # of the shower-shape MLP's R80 (issue 20)
N_BOOTSTRAP = 200


@dataclass(frozen=True)
class CeilingSettings:
    """One recipe for both networks (only the inputs differ)."""

    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 2e-3  # cosine-annealed to 0 over the epochs
    n_train: int = 300_000  # simulated training candidates (the GNN's default)
    clip: float = 20.0  # normalised inputs are clipped to +-clip


def _robust(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, centre, hi = np.quantile(x_train, [0.16, 0.5, 0.84], axis=0)
    width = (hi - lo) / 2.0
    spread = x_train.std(axis=0)
    width = np.where(width > 0, width, np.where(spread > 0, spread, 1.0))
    return centre, width


def fit_score(
    x_train: np.ndarray,
    label: np.ndarray,
    x_eval: np.ndarray,
    seed: int,
    settings: CeilingSettings,
) -> np.ndarray:
    """Train a float MLP classifier on (x_train, label); return its logits on ``x_eval``."""
    import torch

    from datrig.runtime import configure_torch

    configure_torch()
    centre, width = _robust(x_train)

    def norm(x: np.ndarray) -> torch.Tensor:
        z = np.clip((x - centre) / width, -settings.clip, settings.clip)
        return torch.from_numpy(z.astype(np.float32))

    x, y = norm(x_train), torch.from_numpy(label.astype(np.float32))
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    width_in = x.shape[1]
    for h in settings.hidden:
        layers += [torch.nn.Linear(width_in, h), torch.nn.ReLU()]
        width_in = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width_in, 1))
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.epochs)
    for epoch in range(settings.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(x))
        for lo in range(0, len(order), settings.batch_size):
            idx = torch.from_numpy(order[lo : lo + settings.batch_size])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(x[idx]).squeeze(1), y[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return net(norm(x_eval)).squeeze(1).numpy().astype(np.float64)


def rejection_with_error(
    score: np.ndarray, label: np.ndarray, seed: int, n_boot: int = N_BOOTSTRAP
) -> tuple[float, float]:
    """R80 and its bootstrap standard deviation over the events (threshold refitted each time)."""
    value = m.working_point(score, label, 0.8).rejection
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(score), len(score))
        boots.append(m.working_point(score[idx], label[idx], 0.8).rejection)
    boots_arr = np.asarray(boots)
    return float(value), float(np.std(boots_arr[np.isfinite(boots_arr)], ddof=1))


@dataclass(frozen=True)
class Ceiling:
    """The two float networks' R80 on the simulated test events, their ratio and what it
    was trained on."""

    shower_shape_mlp: tuple[float, float]  # (R80, error)
    cell_mlp: tuple[float, float]
    n_train: int
    n_test: int
    trained_on: str
    settings: CeilingSettings

    @property
    def ratio(self) -> float:
        return self.cell_mlp[0] / self.shower_shape_mlp[0]

    @property
    def ratio_err(self) -> float:
        (a, da), (b, db) = self.cell_mlp, self.shower_shape_mlp
        return self.ratio * math.hypot(da / a, db / b)

    def to_json(self) -> dict[str, Any]:
        return {
            "shower_shape_mlp": {"r80": self.shower_shape_mlp[0], "err": self.shower_shape_mlp[1]},
            "cell_mlp": {"r80": self.cell_mlp[0], "err": self.cell_mlp[1]},
            "ratio": self.ratio,
            "ratio_err": self.ratio_err,
            "required_ratio": CEILING_FRACTION,
            "reached": self.ratio >= CEILING_FRACTION,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "trained_on": self.trained_on,
            "settings": asdict(self.settings),
        }


def _window_inputs(cells: np.ndarray) -> np.ndarray:
    from datrig.data.features import window_fractions

    return window_fractions(cells)[:, 0, :]


def _sim_test_rows(preds: RunPredictions) -> int:
    domain = preds.field("domain")
    n_sim = int(np.count_nonzero(domain == 0))
    if np.any(domain[:n_sim] != 0):
        raise DatrigError(f"{preds.run_dir}: predictions are not sim rows first, then data")
    return n_sim


def measure_ceiling(
    preds: RunPredictions, seed: int, settings: CeilingSettings | None = None
) -> Ceiling:
    """Train both float networks on the run's dataset and measure them on its sim test events."""
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import read_cells, read_rows
    from datrig.train.runs import run_data_dir
    from datrig.validate.peers import network_features

    settings = settings or CeilingSettings()
    data_dir = run_data_dir(preds.run_dir)
    path = dataset_file(Path(data_dir), "photons", "sim")
    n_test = _sim_test_rows(preds)
    train = read_rows(path, "train", settings.n_train)
    test = read_rows(path, "test", n_test)
    expected = preds.events[:n_test]
    if len(test) != n_test or any(
        not np.array_equal(test[name], expected[name]) for name in ("pt", "eta", "label")
    ):
        raise DatrigError(
            f"{path}: its simulated test rows are not the events of {preds.run_dir}; the float "
            "ceiling needs the run's own dataset"
        )
    label = np.asarray(train["label"])
    test_label = np.asarray(test["label"])
    r80 = {}
    for name, x_train, x_test in (
        ("shower_shape_mlp", network_features(train), network_features(test)),
        (
            "cell_mlp",
            _window_inputs(read_cells(path, "train", settings.n_train)),
            _window_inputs(read_cells(path, "test", n_test)),
        ),
    ):
        score = fit_score(x_train, label, x_test, seed, settings)
        r80[name] = rejection_with_error(score, test_label, seed)
    return Ceiling(
        r80["shower_shape_mlp"], r80["cell_mlp"], len(train), n_test, str(data_dir), settings
    )


def ceiling_markdown(ceiling: Ceiling, runs: dict[str, dict[str, float]]) -> list[str]:
    """The section: both float networks, the ratio against the 90 % requirement, and every
    run's float twin and firmware R80 on the same events (``runs``: method -> column -> R80)."""
    c = ceiling
    verdict = "reached" if c.ratio >= CEILING_FRACTION else "NOT reached"
    lines = [
        "",
        "### Float ceiling: do the cells carry the shower shapes' information?",
        "",
        f"Two float MLPs {list(c.settings.hidden)}, {c.settings.epochs} epochs, trained alike on "
        f"the same {c.n_train:,} simulated candidates of `{c.trained_on}`, measured on the "
        f"{c.n_test:,} simulated test events of the runs (bootstrap errors):",
        "",
        "| network | inputs | R80 (sim, float) |",
        "|---|---|---|",
        f"| shower-shape MLP | 11 shower shapes, log pT, abs(eta) | "
        f"{c.shower_shape_mlp[0]:.2f} +- {c.shower_shape_mlp[1]:.2f} |",
        f"| cell MLP (ceiling) | the 108-cell window (fractions of E_em), log E_em | "
        f"{c.cell_mlp[0]:.2f} +- {c.cell_mlp[1]:.2f} |",
        "",
        f"Ceiling / shower-shape MLP = {c.ratio:.2f} +- {c.ratio_err:.2f} (required >= "
        f"{CEILING_FRACTION:.2f}: {verdict}).",
    ]
    if runs:
        lines += ["", "| run | R80 float twin | R80 firmware |", "|---|---|---|"]
        for name, cols in runs.items():
            fw = cols.get("firmware")
            fw_text = "-" if fw is None else f"{fw:.2f}"
            lines.append(f"| {name} | {cols.get('float', math.nan):.2f} | {fw_text} |")
    return lines
