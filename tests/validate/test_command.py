"""`datrig validate` end to end through the CLI dispatcher."""

from __future__ import annotations

import json

from datrig.cli import main
from tests.validate.validate_toys import photon_id_runs


def test_validate_float_only_on_default_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    photon_id_runs(tmp_path / "runs", n=800)  # runs/photon_id/{none,disco}
    argv = ["validate", "--model", "photon_id", "--no-firmware", "--no-train", "--seed", "3"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "reports" / "photon_id" / "metrics.json").read_text())
    assert set(metrics["photon_id"]) == {"none", "disco", "baseline", "plane"}
    report = (tmp_path / "reports" / "photon_id" / "report.md").read_text()
    assert "Float vs Brevitas, disco (firmware not built: --no-firmware)" in report
    assert "report.md" in capsys.readouterr().out


def test_explicit_runs_and_out(tmp_path):
    runs = photon_id_runs(tmp_path / "r", n=600)
    out = tmp_path / "my_report"
    argv = ["validate", "--model", "photon_id", "--no-firmware", "--out", str(out), "--runs"]
    assert main([*argv, str(runs[1])]) == 0
    assert set(json.loads((out / "metrics.json").read_text())["photon_id"]) == {
        "disco",
        "baseline",
        "plane",
    }


def test_no_runs_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--model", "photon_id", "--no-train"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "no runs of model 'photon_id'" in err and "drop --no-train" in err


def test_wrong_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad_run"
    bad.mkdir()
    (bad / "predictions_test.h5").write_bytes(b"garbage")
    assert main(["validate", "--model", "photon_id", "--no-firmware", "--runs", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # above it: the progress bar
    assert err.startswith("datrig validate: error:") and "not a readable HDF5 file" in err


def test_run_of_another_model_is_refused(tmp_path, capsys):
    run = photon_id_runs(tmp_path, n=200)[0]
    assert main(["validate", "--model", "diphoton", "--no-firmware", "--runs", str(run)]) == 2
    assert "is a run of model 'photon_id'" in capsys.readouterr().err
