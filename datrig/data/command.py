"""``datrig inspect FILE``: validate a datrig HDF5 file and print a short summary."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from datrig.argtypes import non_negative_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="photons_*.h5 or diphoton_*.h5")
    parser.add_argument(
        "--seed", type=non_negative_int, default=1, help="unused; accepted like every command"
    )


def run(args: argparse.Namespace) -> int:
    from datrig.data.reader import check_cells_finite, open_dataset, read_columns

    info = open_dataset(args.file)
    check_cells_finite(info.path)  # read_columns below checks the table's fields
    print(f"{info.path}: {info.kind} ({info.table}), domain {info.domain}, {info.n_rows} rows")
    print(
        f"  generator {info.generator_version}, seed {info.seed}"
        + (f", {info.n_cells} cells x 4 features" if info.n_cells else "")
    )
    cols = read_columns(info.path, list(info.fields))
    label = cols["label"]
    name = "prompt photons" if info.kind == "photons" else "signal"
    print(f"  label: {np.mean(label == 1):.3f} {name}, {np.mean(label == 0):.3f} background")
    print("  fields (unit: min / median / max):")
    for field in info.fields:
        v = cols[field].astype(np.float64)
        print(
            f"    {field:16s} [{info.units[field]}] {v.min():.4g} / {np.median(v):.4g} / "
            f"{v.max():.4g}"
        )
    return 0
