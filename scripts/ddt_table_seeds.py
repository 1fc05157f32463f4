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
from datrig.quant.config import QuantConfig
from datrig.runtime import configure_torch
from datrig.train import dataset as ds
from datrig.train.checkpoint import load_checkpoint
from datrig.train.loop import train
from datrig.train.runs import resolve_config, resolve_quant
from datrig.validate.plane import plane_point


def outputs(model: torch.nn.Module, x: torch.Tensor, batch: int = 65536) -> np.ndarray:
    with torch.no_grad():
        parts = [
            model.forward_terms(x[i : i + batch]).output.double() for i in range(0, len(x), batch)
        ]
    return torch.cat(parts).numpy()


def fixed_bits(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    """Per-layer overrides; a ReLU's ``act`` goes to the linear layer it follows (fc<i>)."""
    out: dict[str, dict[str, int]] = {}
    for name, bits in json.loads(args.fixed_bits).items():
        layer = name.replace("relu", "fc")
        out.setdefault(layer, {}).update(bits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training dataset folder")
    parser.add_argument("--eval", type=Path, required=True, help="independent dataset folder")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--table-bins", type=int, help="ddt table_bins (default: ddt's own)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--bits", help="an integer, or auto (default: the model's)")
    parser.add_argument("--resource-lam", type=float, help="learned bits' cost term")
    parser.add_argument("--hidden", help="hidden widths, e.g. 64 or 32,16 (default: the model's)")
    parser.add_argument(
        "--fixed-bits",
        help='fixed per-layer widths as JSON, e.g. {"fc1": {"weight": 4}, "relu1": {"act": 4}}',
    )
    parser.add_argument("--n-eval", type=int, default=400_000, help="candidates per domain")
    parser.add_argument("--runs", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--out", type=Path, required=True, help="JSON of every seed's figures")
    args = parser.parse_args()
    configure_torch(1)
    options = {} if args.table_bins is None else {"table_bins": args.table_bins}
    bits = int(args.bits) if args.bits and args.bits != "auto" else args.bits
    points = json.loads(args.out.read_text()) if args.out.is_file() else []
    hidden = tuple(int(w) for w in args.hidden.split(",")) if args.hidden else None
    for seed in args.seeds:
        quant = None
        if args.fixed_bits:
            quant = QuantConfig(
                **{**resolve_quant("photon_id", 8).to_dict(), "overrides": fixed_bits(args)}
            )
        cfg = resolve_config("photon_id", "ddt", args.train, seed, epochs=args.epochs, bits=bits,
                             resource_lam=args.resource_lam, penalty_options=options,
                             quant=quant, batch_size=args.batch_size, lr=args.lr,
                             hidden=hidden)  # fmt: skip
        tag = f"b{args.table_bins}-e{cfg.epochs}-bits{args.bits or 'default'}-s{seed}"
        if args.fixed_bits:
            tag += "-fixed" + "".join(
                f"{k}{''.join(str(b) for b in v.values())}"
                for k, v in sorted(fixed_bits(args).items())
            )
        if args.resource_lam is not None:
            tag += f"-res{args.resource_lam:g}"
        if hidden is not None:
            tag += "-h" + "x".join(map(str, hidden))
        if args.batch_size is not None or args.lr is not None:
            tag += f"-bs{cfg.batch_size}-lr{cfg.lr:g}"
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
