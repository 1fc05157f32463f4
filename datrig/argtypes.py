"""argparse value types shared by every command: a zero, negative or non-finite number where
none makes sense is an error at the command line, never a silent default."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """Event counts, epochs, batch sizes: integers >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MAX_SEED = 2**63 - 1  # seeds are stored as HDF5/JSON int64 and fed to torch


def non_negative_int(text: str) -> int:
    """Seeds: integers from 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be >= 0 and < 2**63, got {value}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """Learning rates, ranges: finite numbers > 0."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """Penalty strengths: finite numbers >= 0."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """Efficiencies: finite numbers strictly between 0 and 1."""
    value = _finite(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value


MAX_LEARNING_RATE = 1e6  # beyond it float32 steps overflow at once (1e300: inf)


def learning_rate(text: str) -> float:
    """Learning rates: finite, > 0 and at most 1e6 (beyond that float32 overflows)."""
    value = positive_float(text)
    if value > MAX_LEARNING_RATE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_LEARNING_RATE:g}, got {text}")
    return value


def mhz_list(text: str) -> list[float]:
    """Comma-separated clock frequencies in MHz, each in (0, 2000]."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"expected MHz values like 200,240,360, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or len(values) > 16 or any(not 0 < v <= 2000 for v in values):
        raise argparse.ArgumentTypeError("give 1 to 16 clocks, each in (0, 2000] MHz")
    return values


def slack_list(text: str) -> list[int]:
    """Comma-separated adder depth slacks: ``unconstrained`` (as in the firmware YAML) or 0
    to 16 extra levels."""
    values = []
    for item in (v.strip() for v in text.split(",")):
        if item == "unconstrained":
            values.append(-1)
        elif item.isdigit() and int(item) <= 16:
            values.append(int(item))
        elif item:
            raise argparse.ArgumentTypeError(
                f"depth slack {item!r}: use 'unconstrained' or an integer from 0 to 16"
            )
    if not values or len(values) > 8:
        raise argparse.ArgumentTypeError("give 1 to 8 depth slacks, e.g. unconstrained,0,2")
    return values
