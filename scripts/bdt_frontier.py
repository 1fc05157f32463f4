"""The decorrelated photon-ID BDT's frontier: trees x depth x input bits x map granularity
against rejection and ABCD closure, on firmware outputs (the bit-exact emulator), for several
training samples, judged on one independent evaluation sample with the calibration's fail-ID
plane (datrig.validate.plane: 80 % working point, isolated below the 90 % photon quantile,
non-isolated 2 GeV above, true fakes, pT terciles of the simulated fakes).

    python scripts/bdt_frontier.py --train s41 s57 s71 --eval eval --out bdt_frontier.json

Each configuration is trained with ``datrig qat``'s own trainer (a replaced spec), so the
numbers are those of the shipped recipe with one setting changed; the JSON holds every point.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from datrig.data.manifest import dataset_file
from datrig.data.reader import read_rows
from datrig.emulate.trees import emulate
from datrig.ir.trees import EnsembleIR, quantize
from datrig.models.registry import MODELS
from datrig.models.trees import TreeSettings
from datrig.train.runs import resolve_config
from datrig.train.trees import EnsembleTrainer
from datrig.validate.plane import plane_point

BASE = TreeSettings(n_trees=60, max_depth=4)  # the frontier's reference point (docs: "before")
VARIANTS = {
    "before": {},
    "shipped": {"shipped": True},  # MODELS["photon_id_bdt"]
    "trees30": {"n_trees": 30},
    "trees120": {"n_trees": 120},
    "depth3": {"max_depth": 3},
    "depth5": {"max_depth": 5},
    "bits6": {"input_width": 6},
    "bits10": {"input_width": 10},
    "map3x3": {"map_condition_bins": 3, "map_protected_bins": 3},
    "map9x9": {"map_condition_bins": 9, "map_protected_bins": 9},
    "map_all": {"map_events": "train+validation"},
    "map_all_trees120": {"map_events": "train+validation", "n_trees": 120},
    "map_all_depth5": {"map_events": "train+validation", "max_depth": 5},
    "map_all_trees120_depth5": {"map_events": "train+validation", "n_trees": 120, "max_depth": 5},
    "none": {"da": "none", "shipped": True},  # the shipped ensemble without decorrelation
    "uniform": {"da": "flat", "shipped": True},  # hep_ml's uniform boosting, no map
}


def evaluate(ir: EnsembleIR, norm, eval_dir: Path) -> dict:
    rows, scores = [], []
    for domain in ("sim", "data"):
        path = dataset_file(eval_dir, "photons", domain)
        x = norm.network_inputs(path, None, None)
        scores.append(emulate(ir, quantize(x, ir.input_type))[:, 0])
        rows.append(read_rows(path, None))
    return plane_point("bdt", "network", np.concatenate(scores), np.concatenate(rows)).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", nargs="+", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    points = []
    for name in args.variants:
        change = dict(VARIANTS[name])
        da = change.pop("da", "ddt")
        shipped = MODELS["photon_id_bdt"].trees
        settings = shipped if change.pop("shipped", False) else dataclasses.replace(BASE, **change)
        spec = dataclasses.replace(MODELS["photon_id_bdt"], trees=settings)
        for data in args.train:
            cfg = resolve_config("photon_id_bdt", da, data, args.seed)
            with tempfile.TemporaryDirectory() as tmp:
                trainer = EnsembleTrainer(cfg, spec, Path(tmp) / "run", force=False)
                ir, norm, _, info = trainer.build(say=lambda m: None)
            figures = evaluate(ir, norm, args.eval)
            point = {"variant": name, "da": da, "train": str(data), **dataclasses.asdict(settings),
                     "map": info.get("threshold_map"), **figures}  # fmt: skip
            points.append(point)
            print(
                f"{name:9s} {data.name:5s} R80 {figures['rejection80_sim']:.2f} "
                f"R sim {np.round(figures['r_sim'], 2)} data {np.round(figures['r_data'], 2)} "
                f"all-pT data {figures['r_all_data']:.3f}+-{figures['r_all_data_err']:.3f}",
                flush=True,
            )
            args.out.write_text(json.dumps(points, indent=1))


if __name__ == "__main__":
    main()
