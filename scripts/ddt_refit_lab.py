"""The photon-ID compensation's stability lab: one trained network per (sample, seed), then
several ways of fitting the compensation c on its frozen score branch, each judged on one
independent evaluation sample with the calibration's fail-ID plane (datrig.validate.plane).

    python scripts/ddt_refit_lab.py --train data/default --seeds 1 2 3 --eval eval101 \
        --refit-events "" tv --boot 5 --cache lab-cache --out lab.json

Variants (each from the same trained state, copied):
  trained        the state after the last epoch (no refit)
  pinball/k      the shipped refit (pinball loss on the validation fakes), shuffle k
  grid<n>/k      the refit regressed onto closed-form cell quantiles (``refit_grid=n``)
  ...tv/k        the same refits on train + validation events (``refit_train=1``)
  table<n>[tv]   a closed-form n x n threshold table on the score branch s (validation, or
                 train + validation events): what a table block after the network would give;
                 ``/boot<b>``: the table of a bootstrap replica of the validation events (the
                 spread any fit on those events inherits from their statistics)
The outputs are the Brevitas model's (the firmware's up to rounding at its last bit). Numbers
of issue 33: docs/decorrelation.md.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from datrig.da.threshold_map import fit_threshold_map, population_edges
from datrig.data.manifest import dataset_file
from datrig.data.reader import read_rows
from datrig.train import dataset as ds
from datrig.train.dataset import EventArrays
from datrig.train.loop import Trainer
from datrig.train.runs import resolve_config
from datrig.validate.plane import plane_point


def terms(model, x: torch.Tensor, batch: int = 65536):
    outs, scores = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            t = model.forward_terms(x[i : i + batch])
            outs.append(t.output.double())
            scores.append(t.task.double())
    return torch.cat(outs).numpy(), torch.cat(scores).numpy()


def judge(name: str, output: np.ndarray, rows: np.ndarray) -> dict:
    fig = plane_point(name, "network", output, rows).to_json()
    print(
        f"  {name:12s} R80 {fig['rejection80_sim']:.2f} R sim {np.round(fig['r_sim'], 2)} "
        f"data {np.round(fig['r_data'], 2)} all-pT data {fig['r_all_data']:.3f}"
        f"+-{fig['r_all_data_err']:.3f}",
        flush=True,
    )
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--shuffles", type=int, default=3)
    parser.add_argument("--grids", nargs="*", type=int, default=[6])
    parser.add_argument("--tables", nargs="*", type=int, default=[6])
    parser.add_argument("--n-eval", type=int, default=400_000)
    parser.add_argument("--boot", type=int, default=0, help="bootstrap replicas of each table")
    parser.add_argument(
        "--refit-events",
        nargs="+",
        default=[""],
        choices=["", "tv"],
        help="refit on the validation events ('') and/or train+validation (tv)",
    )
    parser.add_argument("--cache", type=Path, help="keep/reuse each seed's trained state here")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    points = []
    for seed in args.seeds:
        cfg = resolve_config("photon_id", "ddt", args.train, seed)
        if args.epochs:
            cfg.epochs = args.epochs
        # the learned compensation (the default ddt fits a table instead: ddt_table_seeds.py)
        cfg.penalty_options = {**cfg.penalty_options, "refit_epochs": 0, "table_bins": 0}
        trainer = Trainer(cfg, args.out.parent / f"lab-run-{seed}", progress=False)
        penalty, optimizer = trainer.prepare()
        model = trainer.step.model
        cached = args.cache / f"{args.train.name}-{seed}-{cfg.epochs}.pt" if args.cache else None
        if cached is not None and cached.is_file():  # the lab's own file, never a user's
            state = torch.load(cached, weights_only=True)
            model.load_state_dict(state["model"])
            penalty.load_state_dict(state["penalty"])
        else:
            for epoch in range(cfg.epochs):
                trainer.train_epoch(epoch, penalty, optimizer)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": model.state_dict(), "penalty": penalty.state_dict()}, cached)
        model.eval()
        spec, norm = trainer.spec, trainer.norm
        val = ds.load_events(spec, trainer.sim_path, "val", norm)
        rows, xs = [], []
        for domain in ("sim", "data"):
            path = dataset_file(args.eval, "photons", domain)
            xs.append(torch.from_numpy(norm.network_inputs(path, None, args.n_eval)))
            rows.append(read_rows(path, None)[: args.n_eval])
        x_eval, ev = ds.to_model_layout(torch.cat(xs), spec), np.concatenate(rows)

        where = {"seed": seed, "epochs": cfg.epochs}

        def record(variant: str, output: np.ndarray, where=where, ev=ev) -> None:
            fig = judge(variant, output, ev)
            points.append({**where, "variant": variant, **fig})
            args.out.write_text(json.dumps(points, indent=1))

        print(f"seed {seed}", flush=True)
        record("trained", terms(model, x_eval)[0])
        train = ds.load_events(spec, trainer.sim_path, "train", norm)
        fit_sets = {"": val, "tv": EventArrays.concat([train, val])}
        variants = [("pinball", {})] + [(f"grid{g}", {"refit_grid": g}) for g in args.grids]
        for tag in args.refit_events:
            events = fit_sets[tag]
            refit_events = ds_events(events, ds.to_model_layout(events.inputs, spec))
            for name, options in variants:
                for k in range(args.shuffles):
                    m, pen = copy.deepcopy(model), copy.deepcopy(penalty)
                    pen.refit_epochs, pen.refit_grid = 30, int(options.get("refit_grid", 0))
                    pen.after_training(m, refit_events, seed + 1000 * k)
                    m.after_optimizer_step()
                    m.eval()
                    record(f"{name}{tag}/{k}", terms(m, x_eval)[0])
        _, s_eval = terms(model, x_eval)
        for tag, events in fit_sets.items():
            _, s_fit = terms(model, ds.to_model_layout(events.inputs, spec))
            sim = events.domain == 0
            fakes = sim & (events.label == 0)
            rng = np.random.default_rng(seed)
            for n in args.tables:
                edges = {
                    "condition_edges": population_edges(events.condition[fakes], n),
                    "protected_edges": population_edges(events.protected[fakes], n),
                }
                for b in range(1 + (args.boot if not tag else 0)):
                    w = None if b == 0 else rng.poisson(1.0, int(sim.sum())).astype(np.float64)
                    tmap = fit_threshold_map(
                        s_fit[sim], events.condition[sim], events.protected[sim],
                        events.label[sim], weights=w, **edges,
                    )  # fmt: skip
                    out = tmap.apply(s_eval, ev["pt"], ev["iso_calo"])
                    record(f"table{n}{tag}" + (f"/boot{b}" if b else ""), out)


def ds_events(val, val_x):
    from datrig.da.base import TrainingEvents

    return TrainingEvents(val.label, val.domain, val.protected, val.condition, inputs=val_x)


if __name__ == "__main__":
    main()
