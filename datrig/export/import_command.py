"""``datrig import``: a QONNX model made elsewhere (QKeras, Brevitas) -> verified project."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from datrig.argtypes import non_negative_int, positive_int
from datrig.paths import FIRMWARE_CONFIGS_DIR, hls_project_dir

if TYPE_CHECKING:
    from datrig.data.task import TaskConfig
    from datrig.project.inputs import InputSpec

DEFAULT_CONFIG = FIRMWARE_CONFIGS_DIR / "default.yml"


def task_input_spec(task: TaskConfig) -> InputSpec:
    """The inputs of a network trained elsewhere on ``task``: the task's inputs in order,
    each transformed and then mapped by its ``scale``/``offset`` (identity when unset)."""
    from datrig.data.features import Normalisation
    from datrig.project.inputs import InputSpec

    norm = Normalisation(
        [i.column for i in task.inputs],
        [i.transform for i in task.inputs],
        [0.0 if i.offset is None else i.offset for i in task.inputs],
        [1.0 if i.scale is None else i.scale for i in task.inputs],
    )
    return InputSpec("task", norm, task.to_json())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("onnx", type=Path, help="QONNX model file (.onnx)")
    parser.add_argument(
        "--name",
        help="project name: letters, digits, '_' and '-' (hls_projects/<name>/; default: the "
        "task's name)",
    )
    parser.add_argument(
        "--task",
        type=Path,
        help="the task file whose inputs the network reads (in order, with their transforms "
        "and scale/offset): the project then emulates the task's event files and can be "
        "calibrated",
    )
    parser.add_argument(
        "--input",
        type=Path,
        help="events for verification: a .npy of network inputs, or with --task a file of the "
        "task's format",
    )
    parser.add_argument("--out", type=Path, help="project directory (default hls_projects/<name>)")
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="firmware YAML (default firmware_configs/default.yml)",
    )
    parser.add_argument(
        "--events", type=positive_int, help="verification events (default: from config)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=1, help="seed for random inputs")


def run(args: argparse.Namespace) -> int:
    from datrig.errors import DatrigError
    from datrig.export.project import export_qonnx_model
    from datrig.paths import firmware_config_path, safe_name
    from datrig.project.config import config_for_model, config_for_run
    from datrig.project.inputs import read_inputs

    task, input_spec = None, None
    if args.task is not None:
        from datrig.data.task import load_task

        task = load_task(args.task)
        input_spec = task_input_spec(task)
        args.name = args.name or task.name
    if args.name is None:
        raise DatrigError("give --name (or --task, whose name is the default)")
    safe_name(args.name, "--name")  # a name, not a path: before anything is read or written
    config = args.config
    if config == DEFAULT_CONFIG:
        config = firmware_config_path("default")  # also from outside the source tree
    if task is not None and isinstance(task.firmware, dict) and args.config == DEFAULT_CONFIG:
        fw = config_for_run(args.name, task.to_json())
    else:
        fw = config_for_model(args.name, config)
    if args.events is not None:
        fw = fw.with_events(args.events)
    inputs = read_inputs(args.input, input_spec) if args.input else None
    out = args.out or hls_project_dir(args.name)
    output_kind = None if task is None else ("logit" if task.kind == "classification" else None)
    result = export_qonnx_model(args.onnx, args.name, out, fw, inputs=inputs, seed=args.seed,
                                input_spec=input_spec, output_kind=output_kind)  # fmt: skip
    for comparison in result.comparisons:
        print(comparison.message())
    print(f"verified hls4ml project written to {result.project_dir}")
    return 0
