"""YAML as data: safe types only, no aliases, bounded size, one line per mistake.

``yaml.safe_load`` constructs no objects, but it expands anchors and aliases: a 1 KB "billion
laughs" document becomes gigabytes, and printing it in an error message does the rest. Every
YAML file datrig reads (firmware configs, generator configs, scan spaces, task files) goes
through :func:`load_yaml`, which refuses aliases, caps the file size and the nesting depth, and
turns parser errors into one line with the file and the line number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from datrig.errors import SchemaError

MAX_YAML_BYTES = 1 << 20  # configs are hand-written: 1 MiB is generous
MAX_DEPTH = 32


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (``*name``): configs never need them."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise SchemaError(
                f"{self.name}: line {mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                "allowed in datrig files; write the value out"
            )
        return super().compose_node(parent, index)


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML ``text`` (read from ``source``, named in errors)."""
    if len(text) > MAX_YAML_BYTES:
        raise SchemaError(f"{source}: {len(text):,} bytes; datrig reads YAML files up to "
                          f"{MAX_YAML_BYTES:,} bytes")  # fmt: skip
    loader = _NoAliasLoader(text)
    loader.name = source
    try:
        value = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaError(f"{source}: {where}not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    _check_depth(value, source)
    return value


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """Parse the YAML file ``path`` (see module docstring)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise SchemaError(
                f"{path}: {size:,} bytes; datrig reads YAML files up to {MAX_YAML_BYTES:,} bytes"
            )
        text = path.read_text()
    except UnicodeDecodeError:
        raise SchemaError(f"{path} is not a text file; expected YAML") from None
    except OSError as exc:
        raise SchemaError(f"cannot read {path}: {exc.strerror or exc}") from None
    return load_yaml_text(text, str(path))


def _check_depth(value: Any, source: str) -> None:
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"{source}: nested deeper than {MAX_DEPTH} levels; not a datrig file")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
