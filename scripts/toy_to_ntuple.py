"""Write the toy calorimeter's photon candidates as a physicist's own ntuple.

The worked example of the README's "Your own samples" section: a ``datrig simulate`` dataset
becomes ``mc.<fmt>`` (simulation, with a truth label and signed MC generator weights) and
``data.<fmt>`` (the mismodelled domain, with no label, no truth and no weight), in a TTree,
an HDF5 table or a parquet file, with column names of our own choosing (``ph_*``), so that
nothing of datrig's schema is left to lean on.

The weights are made to matter, as they do in real MC:
* the fakes are thinned (``--keep-fakes``) and the kept ones weighted up, so only a weighted
  fit sees the true mixture;
* every ``--pair-every``-th candidate gets an exact-cancelling pair: two copies of it with the
  *opposite* label, one with weight +w and one with -w. They cancel exactly in every weighted
  sum; a trainer that ignored the weights would learn from mislabelled candidates.

    python scripts/toy_to_ntuple.py --data data/default --out my_ntuples --format root
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from datrig.data.reader import read_rows

RENAME = {
    "pt": "ph_pt",
    "eta": "ph_eta",
    "Rhad": "ph_rhad",
    "Reta": "ph_reta",
    "Rphi": "ph_rphi",
    "weta2": "ph_weta2",
    "ws3": "ph_ws3",
    "wstot": "ph_wstot",
    "Eratio": "ph_eratio",
    "DeltaE": "ph_deltae",
    "fside": "ph_fside",
    "f1": "ph_f1",
    "f3": "ph_f3",
    "iso_calo": "ph_topoetcone20",
    "iso_track": "ph_ptcone20",
    "e_raw": "ph_e",
    "e_true": "ph_truth_e",
    "mu": "averageInteractionsPerCrossing",
}


def ntuple(rows: np.ndarray, rng: np.random.Generator, mc: bool, args) -> dict[str, np.ndarray]:
    """Renamed columns; for simulation the truth label, thinned fakes and signed weights."""
    cols = {new: np.asarray(rows[old], np.float32) for old, new in RENAME.items()}
    if not mc:
        del cols["ph_truth_e"]
        return cols
    label = rows["label"].astype(np.int32)
    weight = rng.normal(1.0, 0.2, len(rows)).astype(np.float32)
    keep = (label == 1) | (rng.uniform(size=len(rows)) < args.keep_fakes)
    weight[label == 0] /= args.keep_fakes
    cols = {k: v[keep] for k, v in cols.items()}
    label, weight = label[keep], weight[keep]
    pair = np.arange(len(label)) % args.pair_every == 0
    out = {k: np.concatenate([v, v[pair], v[pair]]) for k, v in cols.items()}
    out["ph_isPrompt"] = np.concatenate([label, 1 - label[pair], 1 - label[pair]])
    out["mcWeight"] = np.concatenate([weight, weight[pair], -weight[pair]]).astype(np.float32)
    order = rng.permutation(len(out["mcWeight"]))  # pairs scattered through the file
    return {k: v[order] for k, v in out.items()}


def write(path: Path, cols: dict[str, np.ndarray], fmt: str, name: str) -> None:
    if fmt == "root":
        import uproot

        with uproot.recreate(path) as f:  # a TTree, as ROOT's own analyses write them
            tree = f.mktree(name, {k: v.dtype for k, v in cols.items()})
            tree.extend(cols)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(cols), path)
    else:
        import h5py

        with h5py.File(path, "w") as fh:
            group = fh.create_group(name)
            for k, v in cols.items():
                group.create_dataset(k, data=v, compression="gzip")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a `datrig simulate` folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=("root", "parquet", "h5"), default="root")
    parser.add_argument("--keep-fakes", type=float, default=0.5, help="fraction of fakes kept")
    parser.add_argument("--pair-every", type=int, default=3, help="a cancelling pair per N")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = {"root": "root", "parquet": "parquet", "h5": "h5"}[args.format]
    for domain, mc in (("sim", True), ("data", False)):
        rows = read_rows(args.data / f"photons_{domain}.h5")
        target = args.out / f"{'mc' if mc else 'data'}.{suffix}"
        write(target, ntuple(rows, rng, mc, args), args.format, "photons")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
