"""Tiny synthetic QAT run directories in the artefacts.md format, built in milliseconds.

A plain module (not conftest.py) so tests and benchmarks import it by a unique name.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

SHAPES = ("Rhad", "Reta", "Rphi", "weta2", "ws3", "wstot", "Eratio", "DeltaE", "fside", "f1", "f3")
PHOTON_FIELDS = (
    *SHAPES,
    "pt",
    "eta",
    "phi",
    "e_true",
    "e_raw",
    "e_ps",
    "e_l1",
    "e_l2",
    "e_l3",
    "e_had",
    "iso_track",
    "iso_calo",
    "mu",
)


def photon_events(n: int, rng: np.random.Generator) -> np.ndarray:
    """Candidates where fakes with larger isolation also look less photon-like."""
    dtype = [(f, "f4") for f in PHOTON_FIELDS] + [
        ("converted", "i1"),
        ("label", "i1"),
        ("domain", "i1"),
    ]
    ev = np.zeros(n, dtype=dtype)
    ev["label"] = rng.integers(0, 2, n)
    ev["domain"] = (np.arange(n) >= n // 2).astype(np.int8)
    fake = ev["label"] == 0
    ev["iso_calo"] = rng.exponential(2.0, n) + 4.0 * fake * rng.exponential(1.0, n)
    for i, name in enumerate(SHAPES):
        shift = (1.0 + 0.2 * ev["iso_calo"]) * fake * (1 if i % 2 else -1)
        ev[name] = rng.normal(0.0, 1.0, n) + shift + 0.2 * ev["domain"]
    ev["eta"] = rng.uniform(-2.3, 2.3, n)
    ev["e_true"] = rng.uniform(10.0, 300.0, n)
    scale = 0.92 - 0.04 * np.abs(ev["eta"]) - 0.02 * ev["domain"]
    ev["e_raw"] = ev["e_true"] * scale * (1.0 + rng.normal(0.0, 0.05, n))
    for layer, frac in (("e_ps", 0.05), ("e_l1", 0.3), ("e_l2", 0.6), ("e_l3", 0.05)):
        ev[layer] = ev["e_raw"] * frac * rng.uniform(0.8, 1.2, n)
    ev["pt"] = ev["e_true"] / np.cosh(ev["eta"])
    return ev


def diphoton_events(n: int, rng: np.random.Generator) -> np.ndarray:
    ev = np.zeros(n, dtype=[("m_gg", "f4"), ("pt_gg", "f4"), ("label", "i1"), ("domain", "i1")])
    ev["label"] = rng.integers(0, 2, n)
    ev["domain"] = (np.arange(n) >= n // 2).astype(np.int8)
    sig = ev["label"] == 1
    ev["m_gg"] = np.where(sig, rng.normal(125.0, 2.0, n), 105.0 + rng.exponential(20.0, n) % 55.0)
    ev["pt_gg"] = rng.exponential(40.0, n) + 30.0 * sig
    return ev


def write_run(
    run_dir: Path,
    model: str,
    da: str,
    events: np.ndarray,
    output: np.ndarray,
    *,
    task: str,
    output_kind: str,
    protected: str,
) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    with h5py.File(run_dir / "predictions_test.h5", "w") as fh:
        fh["inputs"] = np.stack([output, output**2], axis=1).astype(np.float32)
        fh["events"] = events
        fh["output_float"] = output.astype(np.float32)
        fh["output_quant"] = (np.round(output * 64) / 64).astype(np.float32)
        fh.attrs.update(
            {
                "model": model,
                "da": da,
                "task": task,
                "output_kind": output_kind,
                "protected": protected,
            }
        )
    return run_dir


def photon_id_runs(root: Path, n: int = 4000, seed: int = 0) -> list[Path]:
    """Runs for none/disco: for fakes, the disco logit does not depend on isolation."""
    rng = np.random.default_rng(seed)
    ev = photon_events(n, rng)
    base = ev["Rhad"] + ev["Rphi"] - ev["Reta"] - ev["weta2"]  # fakes: odd shapes up, even down
    runs = []
    for da, iso_weight in (("none", 0.3), ("disco", -0.8)):
        logit = base - iso_weight * ev["iso_calo"] + rng.normal(0, 0.3, n)
        runs.append(
            write_run(
                root / "photon_id" / da,
                "photon_id",
                da,
                ev,
                logit.astype(np.float64),
                task="classification",
                output_kind="logit",
                protected="iso_calo",
            )
        )
    return runs


def energy_runs(root: Path, n: int = 3000, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    ev = photon_events(n, rng)
    truth = ev["e_true"] / ev["e_raw"]
    runs = []
    for da, noise in (("none", 0.02), ("frt", 0.03)):
        corr = truth * (1.0 + rng.normal(0.0, noise, n))
        runs.append(
            write_run(
                root / "photon_energy" / da,
                "photon_energy",
                da,
                ev,
                corr,
                task="regression",
                output_kind="energy_correction",
                protected="domain",
            )
        )
    return runs


def diphoton_runs(root: Path, n: int = 4000, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    ev = diphoton_events(n, rng)
    runs = []
    for da, mass_weight in (("none", 0.05), ("disco", 0.0)):
        score = ev["pt_gg"] / 30.0 + mass_weight * ev["m_gg"] + rng.normal(0, 0.5, n)
        runs.append(
            write_run(
                root / "diphoton" / da,
                "diphoton",
                da,
                ev,
                score,
                task="classification",
                output_kind="logit",
                protected="m_gg",
            )
        )
    return runs


def real_photon_id_run(run_dir: Path, n: int = 2000, seed: int = 0) -> Path:
    """A run with a real (untrained, seeded) Brevitas photon_id checkpoint and its outputs."""
    import torch

    from datrig.data.features import Normalisation
    from datrig.models.registry import get_model_spec
    from datrig.quant.config import QuantConfig
    from datrig.train.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(seed)
    spec = get_model_spec("photon_id")
    n_in = len(spec.feature_names)
    cfg = {
        "n_inputs": n_in,
        "hidden": list(spec.hidden),
        "quant": QuantConfig().to_dict(),
        "output_init": 0.0,
    }
    norm = Normalisation(spec.feature_names, spec.transforms, [0.0] * n_in, [1.0] * n_in)
    run_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": "photon_id",
        "model_config": cfg,
        "state_dict": spec.build(cfg).state_dict(),
        "normalisation": norm.to_dict(),
        "epoch": 0,
    }
    save_checkpoint(run_dir / "checkpoint.pt", payload)
    events = photon_events(n, np.random.default_rng(seed))
    inputs = np.stack([events[f] for f in spec.feature_names], axis=1).astype(np.float32)
    loaded = load_checkpoint(run_dir / "checkpoint.pt")
    with torch.no_grad():
        out = loaded.model(loaded.model_input(inputs))
    out = getattr(out, "value", out).numpy().reshape(-1).astype(np.float32)
    with h5py.File(run_dir / "predictions_test.h5", "w") as fh:
        fh["inputs"] = inputs
        fh["events"] = events
        fh["output_float"] = out
        fh["output_quant"] = out
        fh.attrs.update(
            {
                "model": "photon_id",
                "da": "none",
                "task": "classification",
                "output_kind": "logit",
                "protected": "iso_calo",
            }
        )
    return run_dir
