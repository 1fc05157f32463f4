"""`datrig import --name`: a name is one folder under hls_projects/, never a path (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datrig.cli import main
from tests.qonnx_models import qkeras_style_jet_tagger


def _import_as(name: str, tmp_path: Path, monkeypatch, capsys) -> str:
    """``datrig import jet.onnx --name NAME`` from ``tmp_path/work``; returns stderr."""
    onnx_path = qkeras_style_jet_tagger(tmp_path / "jet.onnx")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["import", str(onnx_path), "--name", name, "--events", "200"]) == 2
    return capsys.readouterr().err.strip()


def test_s2_import_name_cannot_climb_out_of_hls_projects(tmp_path, monkeypatch, capsys):
    """`--name ../escaped` wrote the project to ./escaped, outside hls_projects/."""
    err = _import_as("../escaped", tmp_path, monkeypatch, capsys)
    assert len(err.splitlines()) == 1 and "--name '../escaped' is not a valid name" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jet.onnx", "work"]
    assert list((tmp_path / "work").iterdir()) == []


@pytest.mark.parametrize("kind", ["absolute", "nested"])
def test_s3_import_name_is_one_folder_name(tmp_path, monkeypatch, capsys, kind):
    """`--name /abs/path` wrote there; a `/` in a name made nested folders."""
    name = str(tmp_path / "abs") if kind == "absolute" else "a/b"
    err = _import_as(name, tmp_path, monkeypatch, capsys)
    assert len(err.splitlines()) == 1 and "only letters, digits, '_' and '-'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jet.onnx", "work"]
    assert list((tmp_path / "work").iterdir()) == []
