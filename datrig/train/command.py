"""``datrig qat``: train a quantized model with a domain-adaptation penalty."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from datrig.argtypes import (
    learning_rate,
    non_negative_float,
    non_negative_int,
    positive_int,
)
from datrig.bounds import MAX_HIDDEN
from datrig.da.registry import PENALTIES
from datrig.errors import DatrigError
from datrig.models.registry import MODELS
from datrig.paths import DEFAULT_DATA_DIR, run_dir

WEAK_AUC = 0.6  # below this a photon ID is not worth deploying (a single shower shape does ~0.8)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from datrig.models.registry import get_model_spec

    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", choices=sorted(MODELS), help="a shipped model to train")
    who.add_argument(
        "--task",
        type=Path,
        help="a task file (your samples, columns, label, weight, protected variable, ...; "
        "docs/tasks.md)",
    )
    parser.add_argument(
        "--da",
        default=None,
        choices=list(PENALTIES),
        help="DA penalty (default: the model's shipped one, photon_id ddt)",
    )
    parser.add_argument(
        "--lam", type=non_negative_float, default=None, help="penalty strength (penalty default)"
    )
    parser.add_argument(
        "--bits",
        type=_bits,
        default=None,
        help="weight/activation bits, or 'auto': learned per layer, pulled down by the "
        "firmware-cost term --resource-lam (default: the model's, photon_id auto, others 8)",
    )
    parser.add_argument(
        "--resource-lam",
        type=non_negative_float,
        default=None,
        help="strength of the EBOPs firmware-cost term, relative to the task loss (with learned "
        "bits: the model's default, e.g. photon_id "
        f"{get_model_spec('photon_id').default_resource_lam:g}; else 0)",
    )
    parser.add_argument(
        "--penalty-option",
        dest="penalty_options",
        action="append",
        type=_penalty_option,
        default=[],
        metavar="NAME=NUMBER",
        help="a setting of the DA penalty, e.g. table_bins=8 for ddt (repeatable)",
    )
    parser.add_argument("--weight-bits", type=positive_int, help="weight bits (over --bits)")
    parser.add_argument("--act-bits", type=positive_int, help="activation bits (over --bits)")
    parser.add_argument(
        "--hidden", type=_widths, help="hidden widths, e.g. 32,16 (default: the model's)"
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="epochs (default: the model's; photon_id trains 10,560 updates, i.e. 60 "
        "epochs of 180k candidates and more of a smaller sample)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None, help="events per batch")
    parser.add_argument(
        "--lr", type=learning_rate, default=None, help="Adam learning rate (0 < lr <= 1e6)"
    )
    parser.add_argument(
        "--n-train", type=positive_int, default=None, help="train events per domain"
    )
    parser.add_argument(
        "--n-test", type=positive_int, default=None, help="test events per domain (all)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset directory (default: simulate); with --task: where the task's samples "
        "are kept as read (default data/tasks/<name>-<digest>)",
    )
    parser.add_argument(
        "--toy-data",
        type=Path,
        help="with a task whose sources are the toy: a `datrig simulate` folder to read "
        "(default: data/default, simulated on first use)",
    )
    parser.add_argument("--out", type=Path, default=None, help="run directory (runs/<model>/<da>)")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="random seed")
    parser.add_argument(
        "--resume", action="store_true", help="continue the interrupted (or finished) run"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue even though settings or data changed",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _bits(text: str) -> int | str:
    if text == "auto":
        return text
    return positive_int(text)


def _penalty_option(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not name.isidentifier() or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=NUMBER, e.g. table_bins=8")
    return name, int(number) if number.is_integer() and "." not in value else number


def penalty_options(da: str, pairs: list[tuple[str, float]]) -> dict[str, float]:
    """The penalty's settings from ``--penalty-option``; a name the penalty does not take is an
    error (the base class would otherwise keep it silently)."""
    import inspect

    from datrig.da.registry import penalty_class

    cls = penalty_class(da)
    accepted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
    ][1:]
    options = dict(pairs)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DatrigError(
            f"penalty {da!r} has no setting {', '.join(unknown)}; it takes: "
            f"{', '.join(accepted) or 'none'}"
        )
    return options


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of widths like 32,16") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text}")
    if max(widths) > MAX_HIDDEN or len(widths) > 16:
        raise argparse.ArgumentTypeError(
            f"at most 16 layers of at most {MAX_HIDDEN} units (trigger networks), got {text}"
        )
    return widths


def toy_samples(model: str, da: str) -> tuple[str, ...]:
    """The default data's samples training ``model`` with penalty ``da`` reads: the model's
    own and those the penalty reads beside it (so ``make hls`` simulates nothing else)."""
    from datrig.da.registry import penalty_class
    from datrig.models.registry import get_model_spec

    return (get_model_spec(model).kind, *penalty_class(da).toy_samples)


def prepare_task(args: argparse.Namespace) -> Path:
    """For ``--task``: load and check it, read its samples into a task dataset (once), and set
    the run's model name, default penalty and task record on ``args``."""
    from datrig.data.task import load_task
    from datrig.data.taskdata import ensure_task_dataset
    from datrig.models.task_spec import spec_for_task
    from datrig.sim.default import with_toy_data

    task = with_toy_data(load_task(args.task), getattr(args, "toy_data", None))
    spec = spec_for_task(task)
    args.model = task.name
    if args.da is None:
        args.da = spec.shipped_da
    from datrig.da.registry import penalty_class

    penalty = penalty_class(args.da)
    if spec.trees is not None:  # a tree ensemble takes none or ddt (checked by its trainer)
        pass
    elif not penalty.applies_to_model(spec):
        raise DatrigError(
            f"penalty {args.da!r} does not apply to task {task.name} (it needs "
            f"{'a condition' if penalty.needs_condition else 'another kind of output'}); "
            "choose another --da"
        )
    options = penalty_options(args.da, getattr(args, "penalty_options", []))
    if (
        spec.trees is None
        and penalty.needs_data_domain(spec, options)
        and "data" not in task.sources
    ):
        raise DatrigError(
            f"penalty {args.da!r} needs unlabelled data events, but task {task.name} has no "
            "data source (sources: data:); add one or choose another --da"
        )
    args.task_config = task.to_json()
    return ensure_task_dataset(task, args.data, say=lambda m: print(m, file=sys.stderr))


def build_config(args: argparse.Namespace, data_dir: Path):
    """The run's TrainConfig from the command line (unset options: model/penalty defaults)."""
    from datrig.train.runs import resolve_config, resolve_quant

    task = getattr(args, "task_config", None)
    quant = resolve_quant(
        args.model,
        getattr(args, "bits", None),
        getattr(args, "weight_bits", None),
        getattr(args, "act_bits", None),
        task=task,
    )
    return resolve_config(
        args.model,
        args.da,
        data_dir,
        args.seed,
        lam=args.lam,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        n_train=args.n_train,
        n_test=args.n_test,
        quant=quant,
        hidden=getattr(args, "hidden", None),
        resource_lam=getattr(args, "resource_lam", None),
        penalty_options=penalty_options(args.da, getattr(args, "penalty_options", [])),
        task=task,
    )


def run(args: argparse.Namespace) -> int:
    import warnings

    # Brevitas announces an optional CUDA kernel package on import; irrelevant on CPU.
    warnings.filterwarnings("ignore", message="fast_hadamard_transform")
    from datrig.train.loop import train

    args.task_config = None
    if args.task is not None:
        data_dir = prepare_task(args)
    else:
        if args.da is None:
            from datrig.models.registry import get_model_spec

            args.da = get_model_spec(args.model).shipped_da
        data_dir = args.data
        if data_dir is None:
            from datrig.sim.default import ensure_default_data

            data_dir = ensure_default_data(  # fixed data seed: cached once
                DEFAULT_DATA_DIR, kinds=toy_samples(args.model, args.da)
            )
    cfg = build_config(args, Path(data_dir))
    out = args.out or run_dir(cfg.model, cfg.da)
    metrics = train(cfg, out, resume=args.resume, progress=not args.quiet, force=args.force)
    flavour = metrics.get("quant", {}).get("sim", {})
    summary = ", ".join(f"{k}={v:.4g}" for k, v in flavour.items() if isinstance(v, float))
    print(f"{out}: quantized model on sim test: {summary}", file=sys.stderr)
    auc = flavour.get("auc")
    if isinstance(auc, float) and auc < WEAK_AUC:
        rows = " + ".join(f"{n} {d}" for d, n in metrics.get("train_rows", {}).items())
        why, remedy = f"{rows} training events, {cfg.epochs} epochs", "train longer"
        if cfg.lam:  # a penalty pulling from the first step can hold an untrained network there
            why, remedy = f"--da {cfg.da} --lam {cfg.lam:g} on {why}", f"{remedy}, or lower --lam"
        print(
            f"datrig qat: warning: test AUC {auc:.3f}: the classifier barely learned ({why}); "
            f"{remedy} or use more events",
            file=sys.stderr,
        )
    return 0
