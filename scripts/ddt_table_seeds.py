"""The shipped photon-ID recipe over training seeds: train each seed as `datrig qat --model
photon_id --data TRAIN --seed S` would (plus --epochs/--bits/--table-bins when given), then judge
every run on one independent sample with the calibration's fail-ID plane.

    python scripts/ddt_table_seeds.py --train data/default --eval eval101 --seeds 1 2 3 \
        --runs lab-runs --out seeds.json

The outputs are the model's own (its threshold table included), which the export verifies
equal to the firmware's bit for bit. Numbers of issue 33: docs/decorrelation.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from datrig.data.manifest import dataset_file
from datrig.data.reader import read_rows
from datrig.runtime import configure_torch
from datrig.train import dataset as ds
from datrig.train.checkpoint import load_checkpoint
from datrig.train.loop import train
from datrig.train.runs import resolve_config
from datrig.validate.plane import plane_point


def outputs(model: torch.nn.Module, x: torch.Tensor, batch: int = 65536) -> np.ndarray:
    with torch.no_grad():
        parts = [
            model.forward_terms(x[i : i + batch]).output.double() for i in range(0, len(x), batch)
        ]
    return torch.cat(parts).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training dataset folder")
    parser.add_argument("--eval", type=Path, required=True, help="independent dataset folder")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--table-bins", type=int, help="ddt table_bins (default: ddt's own)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--bits", help="an integer, or auto (default: the model's)")
    parser.add_argument("--resource-lam", type=float, help="learned bits' cost term")
    parser.add_argument("--n-eval", type=int, default=400_000, help="candidates per domain")
    parser.add_argument("--runs", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--out", type=Path, required=True, help="JSON of every seed's figures")
    args = parser.parse_args()
    configure_torch(1)
    options = {} if args.table_bins is None else {"table_bins": args.table_bins}
    bits = int(args.bits) if args.bits and args.bits != "auto" else args.bits
    points = json.loads(args.out.read_text()) if args.out.is_file() else []
    for seed in args.seeds:
        cfg = resolve_config("photon_id", "ddt", args.train, seed, epochs=args.epochs, bits=bits,
                             resource_lam=args.resource_lam, penalty_options=options)  # fmt: skip
        tag = f"b{args.table_bins}-e{cfg.epochs}-bits{args.bits or 'default'}-s{seed}"
        if args.resource_lam is not None:
            tag += f"-res{args.resource_lam:g}"
        run = args.runs / f"{args.train.name}-{tag}"
        start = time.perf_counter()
        if not (run / "checkpoint.pt").is_file():
            train(cfg, run, progress=False)
        seconds = time.perf_counter() - start
        loaded = load_checkpoint(run / "checkpoint.pt")
        model = loaded.model.eval()
        xs, rows = [], []
        for domain in ("sim", "data"):
            path = dataset_file(args.eval, "photons", domain)
            xs.append(
                torch.from_numpy(loaded.normalisation.network_inputs(path, None, args.n_eval))
            )
            rows.append(read_rows(path, None)[: args.n_eval])
        x = ds.to_model_layout(torch.cat(xs), loaded.spec)
        fig = plane_point(f"s{seed}", "network", outputs(model, x), np.concatenate(rows)).to_json()
        print(
            f"seed {seed} ({seconds:.0f} s): R80 {fig['rejection80_sim']:.2f} R sim "
            f"{np.round(fig['r_sim'], 2)} data {np.round(fig['r_data'], 2)} all-pT data "
            f"{fig['r_all_data']:.3f}+-{fig['r_all_data_err']:.3f} closes {fig['closes']}",
            flush=True,
        )
        points.append({"train": str(args.train), "seed": seed, "tag": tag, "seconds": seconds,
                       **fig})  # fmt: skip
        args.out.write_text(json.dumps(points, indent=1))


if __name__ == "__main__":
    main()
