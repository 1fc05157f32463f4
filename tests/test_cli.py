from __future__ import annotations

import importlib

import pytest

from datrig import cli


def test_every_command_module_has_the_command_interface():
    for name, (module_name, _) in cli.COMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments), name
        assert callable(module.run), name


def test_every_command_takes_seed():
    for name in cli.COMMANDS:
        parser = cli.build_parser([name])
        sub = parser._subparsers._group_actions[0].choices[name]
        assert any("--seed" in a.option_strings for a in sub._actions), name


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_importing_datrig_has_no_heavy_side_effects():
    import subprocess
    import sys

    code = "import sys, datrig, datrig.cli; print('torch' in sys.modules, 'hls4ml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
