"""The ``datrig`` command line: a thin dispatcher over one module per command.

Each command module provides ``add_arguments(parser)`` and ``run(args) -> int``. Modules are
imported only when their command runs, so ``datrig --help`` stays fast and importing datrig
has no side effects.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from datrig.errors import DatrigError

# command name -> (module implementing it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("datrig.sim.command", "toy calorimeter (photons, diphotons) -> HDF5"),
    "inspect": ("datrig.data.command", "validate an HDF5 file against the schema; summarise it"),
    "qat": ("datrig.train.command", "quantization-aware training with a domain-adaptation penalty"),
    "export": ("datrig.export.command", "Brevitas -> QONNX -> verified hls4ml project"),
    "import": (
        "datrig.export.import_command",
        "QONNX model from elsewhere -> verified hls4ml project",
    ),
    "emulate": ("datrig.project.emulate_command", "run datrig's bit-accurate fixed-point emulator"),
    "csim": ("datrig.project.csim_command", "run hls4ml's compiled C-simulation"),
    "verify": (
        "datrig.firmware.verify_command",
        "emulator vs C-simulation (or, with --rtl, vs the RTL) bit for bit",
    ),
    "report": ("datrig.firmware.report_command", "latency/resource report against trigger budgets"),
    "hls": ("datrig.pipeline", "the whole chain: data, QAT, export, C-sim, verify, report"),
    "validate": ("datrig.validate.command", "physics validation on emulated firmware outputs"),
    "scan": ("datrig.scan.command", "Pareto fronts of rejection, decorrelation and cost (Ray)"),
    "calibrate": (
        "datrig.calibrate.command",
        "ABCD fake yield and photon ID efficiency measured on firmware outputs, with closure",
    ),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datrig", description="Photon ML models from training to FPGA trigger firmware."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = _requested_command(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        cmd_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # import only the module of the command being run
            importlib.import_module(module_name).add_arguments(cmd_parser)
    return parser


def _requested_command(argv: Sequence[str] | None) -> str | None:
    args = list(sys.argv[1:] if argv is None else argv)
    return next((a for a in args if not a.startswith("-")), None)


def _quiet_third_party_warnings() -> None:
    """Brevitas/qonnx/torch.onnx warn on every export about things datrig handles or verifies
    (missing optional kernels, Gemm opset notes); keep the user's terminal for datrig's own
    messages. hls4ml's warnings stay visible."""
    import warnings

    for module in ("brevitas", "qonnx", "torch.onnx"):
        warnings.filterwarnings("ignore", category=UserWarning, module=module)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given, for reports
    _quiet_third_party_warnings()
    module = importlib.import_module(COMMANDS[args.command][0])
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(module.run(args) or 0)
    except DatrigError as exc:
        print(f"datrig {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"datrig {args.command}: interrupted; {_kept(module)}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"datrig {args.command}: terminated; {_kept(module)}", file=sys.stderr)
        return 143
    except OSError as exc:  # the system refused (full disk, permissions, a vanished file)
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"datrig {args.command}: error: {exc.strerror or exc}{where}; check the path, its "
            "permissions and the free space",
            file=sys.stderr,
        )
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _kept(module: object) -> str:
    """What an interrupted command leaves: a module may say (``INTERRUPTED``), e.g. a scan
    keeps its finished trials."""
    return getattr(module, "INTERRUPTED", "no partial output was kept")


class Terminated(BaseException):
    """SIGTERM as an exception, so ``finally`` blocks remove temporary outputs (batch systems
    and CI time-outs send SIGTERM; the default action would skip all cleanup)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


if __name__ == "__main__":
    sys.exit(main())
