"""The ``datrig`` command line: a thin dispatcher over one module per command.

Each command module provides ``add_arguments(parser)`` and ``run(args) -> int``. Modules are
imported only when their command runs, so ``datrig --help`` stays fast and importing datrig
has no side effects.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from datrig import signals
from datrig.errors import DatrigError
from datrig.signals import Terminated

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
    code = _main(argv)
    _leave_if_hdf5_broken(code)
    return code


def _leave_if_hdf5_broken(code: int) -> None:
    """After an HDF5 file failed mid-write (a full disk), libhdf5 crashes as soon as Python
    frees that file's objects (at the end of the handler, or at exit): leave at once, after
    the one error line (the staging folder was already removed on the way out)."""
    from datrig.runtime import hdf5_broken

    if hdf5_broken():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given, for reports
    _quiet_third_party_warnings()
    module = importlib.import_module(COMMANDS[args.command][0])
    in_main_thread = threading.current_thread() is threading.main_thread()
    signals.reset()
    previous = signal.signal(signal.SIGTERM, signals.on_sigterm) if in_main_thread else None
    try:
        code = int(module.run(args) or 0)
        signals.check_terminated()  # a SIGTERM that third-party code swallowed still ends it
        return code
    except DatrigError as exc:
        if signals.terminated():
            return _terminated(args.command, module)
        print(f"datrig {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        _leave_if_hdf5_broken(2)  # before the exception (and the h5py objects) are freed
        return 2
    except KeyboardInterrupt:
        print(f"datrig {args.command}: interrupted; {_kept(module)}", file=sys.stderr)
        return 130
    except Terminated:
        return _terminated(args.command, module)
    except MemoryError:
        print(
            f"datrig {args.command}: error: out of memory; lower the number of events or the "
            "model size (datrig checks sizes upfront where it can: this one escaped)",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:  # the system refused (full disk, permissions, a vanished file)
        if signals.terminated():
            return _terminated(args.command, module)
        where = f" ({exc.filename})" if exc.filename else ""
        hint = (
            "free some space" if exc.errno == errno.ENOSPC else "check the path and its permissions"
        )
        print(
            f"datrig {args.command}: error: {_one_line(exc.strerror or exc)}{where}; {hint}",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # the last net: one line, never a traceback for a user
        if signals.terminated():  # e.g. torch's exporter wrapping the Terminated exception
            return _terminated(args.command, module)
        if os.environ.get("DATRIG_DEBUG"):
            raise
        print(
            f"datrig {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(a damaged input or a bug in datrig; DATRIG_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 70
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _terminated(command: str, module: object) -> int:
    print(f"datrig {command}: terminated; {_kept(module)}", file=sys.stderr)
    return 143


def _one_line(exc: BaseException, limit: int = 2000) -> str:
    """An exception's message on one bounded line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _kept(module: object) -> str:
    """What an interrupted command leaves: a module may say (``INTERRUPTED``), e.g. a scan
    keeps its finished trials."""
    return getattr(module, "INTERRUPTED", "no partial output was kept")


if __name__ == "__main__":
    sys.exit(main())
