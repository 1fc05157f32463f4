"""``datrig import``: a QONNX model made elsewhere (QKeras, Brevitas) -> verified project."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.argtypes import non_negative_int, positive_int
from datrig.paths import FIRMWARE_CONFIGS_DIR, hls_project_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("onnx", type=Path, help="QONNX model file (.onnx)")
    parser.add_argument(
        "--name",
        required=True,
        help="project name: letters, digits, '_' and '-' (hls_projects/<name>/)",
    )
    parser.add_argument("--input", type=Path, help="inputs .npy (N, ...) for verification")
    parser.add_argument("--out", type=Path, help="project directory (default hls_projects/<name>)")
    parser.add_argument(
        "--config",
        type=Path,
        default=FIRMWARE_CONFIGS_DIR / "default.yml",
        help="firmware YAML (default firmware_configs/default.yml)",
    )
    parser.add_argument(
        "--events", type=positive_int, help="verification events (default: from config)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=1, help="seed for random inputs")


def run(args: argparse.Namespace) -> int:
    from datrig.export.project import export_qonnx_model
    from datrig.paths import firmware_config_path, safe_name
    from datrig.project.config import config_for_model
    from datrig.project.inputs import read_inputs

    safe_name(args.name, "--name")  # a name, not a path: before anything is read or written
    config = args.config
    if config == FIRMWARE_CONFIGS_DIR / "default.yml":
        config = firmware_config_path("default")  # also from outside the source tree
    fw = config_for_model(args.name, config)
    if args.events is not None:
        fw = fw.with_events(args.events)
    inputs = read_inputs(args.input) if args.input else None
    out = args.out or hls_project_dir(args.name)
    result = export_qonnx_model(args.onnx, args.name, out, fw, inputs=inputs, seed=args.seed)
    for comparison in result.comparisons:
        print(comparison.message())
    print(f"verified hls4ml project written to {result.project_dir}")
    return 0
