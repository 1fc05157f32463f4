"""``datrig emulate``: run the bit-accurate emulator of a firmware project on input events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.errors import DatrigError
from datrig.export.inputs import read_inputs
from datrig.paths import hls_project_dir
from datrig.provenance import sidecar

CHUNK = 65536  # events per emulator call (bounded memory, visible progress)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="project name: reads hls_projects/NAME/emulator_ir.*")
    where.add_argument("--project", type=Path, help="project directory with emulator_ir.*")
    parser.add_argument(
        "--input", type=Path, required=True, help="X.npy (n_events, ...) or predictions_test.h5"
    )
    parser.add_argument("--out", type=Path, required=True, help="output .npy (float64)")
    parser.add_argument(
        "--method",
        choices=("fast", "stepwise"),
        default="fast",
        help="fast (default) or the int64 stepwise reference; both give identical bits",
    )
    parser.add_argument("--seed", type=int, default=0, help="recorded only: emulation is exact")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from datrig.emulate.io import load_ir
    from datrig.emulate.runner import emulate

    project = args.project or hls_project_dir(args.model)
    ir = load_ir(project)
    x = read_inputs(args.input)
    if args.out.suffix != ".npy":
        raise DatrigError(f"--out must end in .npy, got {args.out}")
    parts = []
    with tqdm(total=len(x), unit="ev", file=sys.stderr, desc="emulate") as bar:
        for start in range(0, len(x), CHUNK):
            parts.append(emulate(ir, x[start : start + CHUNK], method=args.method).output)
            bar.update(len(parts[-1]))
    n_out = int(np.prod(ir.layer(ir.outputs[0]).shape))
    y = np.concatenate(parts) if parts else np.zeros((0, n_out))
    with atomic_path(args.out) as tmp, open(tmp, "wb") as fh:
        np.save(fh, y)
    write_json(
        args.out.with_suffix(".json"),
        sidecar(
            stage="emulate",
            seed=args.seed,
            inputs={"input": args.input, "ir": project / "emulator_ir.npz"},
            n_events=len(y),
            network=ir.name,
        ),
    )
    print(f"emulated {len(y)} events with {ir.name} -> {args.out}", file=sys.stderr)
    return 0
