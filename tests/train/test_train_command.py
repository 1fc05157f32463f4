from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from datrig.cli import main


def test_unknown_model_and_penalty_list_valid_names(capsys):
    with pytest.raises(SystemExit):
        main(["qat", "--model", "photon_idd"])
    assert "photon_id_gnn" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["qat", "--model", "photon_id", "--da", "dsco"])
    assert "adversarial" in capsys.readouterr().err


def _copy(tiny_data, tmp_path, manifest=False):
    """A copy of the tiny dataset; without its manifest, it reads like a user's own files."""
    out = tmp_path / "data"
    shutil.copytree(tiny_data, out)
    if not manifest:
        (out / "simulate.json").unlink()
    return out


def _rewrite_table(path, edit):
    with h5py.File(path, "r+") as fh:
        rows = fh["candidates"][:]
        rows = edit(rows)
        del fh["candidates"]
        fh.create_dataset("candidates", data=rows)


def test_nan_inputs_give_one_line_error(tiny_data, tmp_path, capsys):
    data = _copy(tiny_data, tmp_path)

    def poison(rows):
        rows["Reta"][5] = np.nan
        return rows

    _rewrite_table(data / "photons_sim.h5", poison)
    code = main(["qat", "--model", "photon_id", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--epochs", "1", "--n-train", "500", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "NaN" in err[0] and "Reta" in err[0]


def test_missing_field_gives_clear_error(tiny_data, tmp_path, capsys):
    data = _copy(tiny_data, tmp_path)

    def drop_weta2(rows):
        names = [n for n in rows.dtype.names if n != "weta2"]
        return rows[names].copy()

    _rewrite_table(data / "photons_sim.h5", drop_weta2)
    code = main(["qat", "--model", "photon_id", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--epochs", "1", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "weta2" in err


def test_edited_member_of_a_simulated_dataset_is_refused(tiny_data, tmp_path, capsys):
    data = _copy(tiny_data, tmp_path, manifest=True)
    _rewrite_table(data / "photons_sim.h5", lambda rows: rows[::-1].copy())
    code = main(["qat", "--model", "photon_id", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--epochs", "1", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "photons_sim.h5" in err[0] and "simulate.json" in err[0] and "re-run" in err[0]
    assert not (tmp_path / "r").exists()


def test_missing_dataset_dir(tmp_path, capsys):
    code = main(["qat", "--model", "diphoton", "--data", str(tmp_path / "none"), "--out",
                 str(tmp_path / "r"), "--quiet"])  # fmt: skip
    assert code == 2 and "datrig simulate" in capsys.readouterr().err


def test_cli_run_writes_outputs(tiny_data, tmp_path):
    code = main(["qat", "--model", "photon_id", "--da", "disco", "--data", str(tiny_data),
                 "--out", str(tmp_path / "r"), "--epochs", "1", "--n-train", "500",
                 "--n-test", "200", "--bits", "6", "--seed", "4", "--quiet"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "r/metrics.json").is_file()


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--epochs", "0", "--epochs: must be at least 1"),
        ("--n-train", "0", "--n-train: must be at least 1"),
        ("--batch-size", "0", "--batch-size: must be at least 1"),
        ("--n-test", "-3", "--n-test: must be at least 1"),
        ("--lam", "nan", "--lam: must be a finite number"),
        ("--lam", "-1", "--lam: must be >= 0"),
        ("--lr", "-1", "--lr: must be > 0"),
        ("--seed", "-2", "--seed: must be >= 0"),
    ],
)
def test_zero_negative_and_nan_settings_are_errors(tiny_data, tmp_path, capsys, option, value,
                                                   match):  # fmt: skip
    """Never "use the default" silently (issue 9.9)."""
    argv = ["qat", "--model", "photon_id", "--data", str(tiny_data), "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exc:
        main([*argv, option, value])
    assert exc.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_divergence_stops_with_one_line_and_no_complete_run(tiny_data, tmp_path, capsys):
    """A huge learning rate drives the loss to NaN: a clear message, no run, no checkpoint
    marked complete, nothing left behind (issue 9.8)."""
    code = main(["qat", "--model", "photon_id", "--da", "disco", "--data", str(tiny_data),
                 "--out", str(tmp_path / "r"), "--epochs", "1", "--n-train", "500",
                 "--lr", "1e6", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "training diverged" in err[0] and "lower --lr (now 1e+06)" in err[0]
    assert "The run was not written" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_a_classifier_that_barely_learned_is_flagged(tiny_data, tmp_path, capsys):
    """flat pulls from the first step: 2 epochs of 4 batches leave a photon ID near AUC 0.5."""
    args = ["qat", "--model", "photon_id", "--da", "flat", "--data", str(tiny_data), "--epochs",
            "2", "--n-train", "1000", "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: test AUC" in err and "lower --lam" in err, err
    assert main([*args[:-3], "--da", "none", "--epochs", "30", "--out", str(tmp_path / "b"),
                 "--quiet"]) == 0  # fmt: skip
    assert "warning" not in capsys.readouterr().err


def test_l8_a_run_nested_in_a_run_is_not_deleted(photon_id_project, tmp_path, capsys):
    """`qat --out runN/nested` put a run inside another; retraining the outer one deleted it
    without a word. Now the outer run holds what datrig did not write there: refused."""
    outer = tmp_path / "runN"
    shutil.copytree(photon_id_project.run, outer)
    shutil.copytree(photon_id_project.run, outer / "nested")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    data = str(photon_id_project.data)
    args = ["qat", "--model", "photon_id", "--da", "none", "--data", data, "--epochs", "1",
            "--n-train", "300", "--quiet"]  # fmt: skip
    assert main([*args, "--out", str(outer)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds files datrig did not write there (nested/" in err[0], err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_w4_config_and_warning_report_the_actual_training_rows(tiny_data, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    """photon_id asks for 180000 training events; the tiny data holds 1200 (60 % of 2000):
    config.json, metrics.json and the weak-AUC warning say 1200, not 180000."""
    import json

    from datrig.train import command

    monkeypatch.setattr(command, "WEAK_AUC", 1.01)  # every run gets the warning
    out = tmp_path / "run"
    args = ["qat", "--model", "photon_id", "--da", "none", "--data", str(tiny_data),
            "--epochs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    warning = capsys.readouterr().err.strip().splitlines()[-1]
    assert "(1200 sim training events, 1 epochs)" in warning and "180000" not in warning, warning
    config = json.loads((out / "config.json").read_text())
    assert config["n_train"] == 180_000 and config["train_rows"] == {"sim": 1200}
    assert json.loads((out / "metrics.json").read_text())["train_rows"] == {"sim": 1200}


def test_penalty_options_reach_the_config_and_unknown_ones_are_refused(tiny_data, tmp_path, capsys):
    """--penalty-option sets what a penalty takes (ddt's data term) and names the accepted
    settings when it does not exist; nothing is trained in either case here."""
    import argparse

    from datrig.train.command import add_arguments, build_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--model", "photon_id", "--da", "ddt", "--penalty-option", "domain_weight=1"]
    )
    assert build_config(args, tiny_data).penalty_options == {"domain_weight": 1}
    out = tmp_path / "run"
    code = main(
        [
            "qat",
            "--model",
            "photon_id",
            "--da",
            "ddt",
            "--data",
            str(tiny_data),
            "--out",
            str(out),
            "--penalty-option",
            "domian_weight=1",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0 and "domian_weight" in err and "domain_weight" in err
    assert "Traceback" not in err and not out.exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "photon_id", "--penalty-option", "domain_weight"])


def test_default_data_samples_are_the_models_and_its_penaltys():
    from datrig.train.command import toy_samples

    assert toy_samples("photon_id", "ddt") == ("photons",)
    assert toy_samples("diphoton", "disco") == ("diphoton",)
    assert toy_samples("photon_energy", "peak") == ("photons", "resonance")
