"""The energy BDT in firmware next to the energy network in firmware and a standard float
regression, on the same independent events: median response and IQR/2 of E/E_true, in sim
and in data (the toy's truth), overall and per |eta| bin.

    python scripts/energy_bdt_compare.py --bdt runs/photon_energy_bdt/none \
        --network runs/photon_energy/disco --train s41 --eval eval --out energy_compare.json

The standard regression is scikit-learn's histogram gradient boosting with its defaults (100
trees of up to 31 leaves, float), trained on the same training split as the BDT; the two
firmware models are scored by their projects' bit-exact emulators (exported when missing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from datrig.data.manifest import dataset_file
from datrig.data.reader import read_columns
from datrig.firmware.run_firmware import project_for
from datrig.models.registry import MODELS
from datrig.train import dataset as ds
from datrig.train.predictions import load_predictions


def figures(e: np.ndarray, e_true: np.ndarray) -> dict[str, float]:
    r = e / e_true
    q25, q50, q75 = np.quantile(r, [0.25, 0.5, 0.75])
    return {"median_response": float(q50), "iqr_half": float((q75 - q25) / 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bdt", type=Path, required=True)
    parser.add_argument("--network", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from sklearn.ensemble import HistGradientBoostingRegressor

    spec = MODELS["photon_energy"]
    norm = ds.fit_for(spec, dataset_file(args.train, "photons", "sim"), spec.default_n_train)
    train = ds.load_events(spec, dataset_file(args.train, "photons", "sim"), "train", norm,
                           spec.default_n_train)  # fmt: skip
    standard = HistGradientBoostingRegressor(random_state=args.seed).fit(train.inputs,
                                                                         train.target)  # fmt: skip
    projects = {}
    for name, run in (("bdt (firmware)", args.bdt), ("network (firmware)", args.network)):
        preds = load_predictions(run)
        projects[name] = project_for(preds, Path("compare_firmware") / run.name, args.seed)
    out: dict[str, dict] = {}
    for domain in ("sim", "data"):
        path = dataset_file(args.eval, "photons", domain)
        cols = read_columns(path, ["e_raw", "e_true", "label"], None, None)
        photons = cols["label"] == 1
        e_raw, e_true = cols["e_raw"][photons], cols["e_true"][photons]
        out[domain] = {"raw": figures(e_raw, e_true)}
        x_std = norm.network_inputs(path, None, None)[photons]
        out[domain]["standard float regression"] = figures(e_raw * standard.predict(x_std), e_true)
        for name, project in projects.items():
            x = project.read_inputs(path)[photons]
            out[domain][name] = figures(e_raw * project.emulate(x)[:, 0], e_true)
        for name, f in out[domain].items():
            print(f"{domain:4s} {name:28s} median {f['median_response']:.4f} "
                  f"IQR/2 {f['iqr_half']:.5f}")  # fmt: skip
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
