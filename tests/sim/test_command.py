"""``datrig simulate`` end to end: determinism, bad input, interrupted runs (issue 2: 5, 7)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from datrig.cli import main
from datrig.data.reader import open_dataset, read_cells, read_rows
from datrig.sim import simulate as simulate_mod

NAMES = ("photons_sim.h5", "photons_data.h5", "diphoton_sim.h5", "diphoton_data.h5")


def _run(args: list[str], capsys) -> tuple[int, str]:
    rc = main(["simulate", "--quiet", *args])
    return rc, capsys.readouterr().err.strip()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path, capsys):
    for d, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        rc, err = _run(
            ["--out", str(tmp_path / d), "--n", "1500", "--seed", seed, "--n-diphoton", "700"],
            capsys,
        )
        assert rc == 0, err
    for name in NAMES:
        a, b, c = (tmp_path / d / name for d in "abc")
        ra, rb = read_rows(a), read_rows(b)
        for field in ra.dtype.names:
            np.testing.assert_array_equal(ra[field], rb[field], err_msg=f"{name}:{field}")
        assert _sha(a) == _sha(b), f"{name}: same seed but different file bytes"
        assert not np.array_equal(
            read_rows(c)["e_raw" if "photons" in name else "m_gg"],
            ra["e_raw" if "photons" in name else "m_gg"],
        )
    np.testing.assert_array_equal(
        read_cells(tmp_path / "a" / NAMES[0]), read_cells(tmp_path / "b" / NAMES[0])
    )


def test_chunks_have_their_own_streams(tmp_path):
    """Chunk i draws from SeedSequence(seed, stream).spawn()[i]: more rows only append chunks,
    so the rows never depend on how many chunks there are or in which order they run."""
    from datrig.sim.config import config_from_dict

    cfg = config_from_dict({"chunk_rows": 100})
    simulate_mod.simulate(tmp_path / "small", 200, 100, 9, cfg, progress=False)
    simulate_mod.simulate(tmp_path / "large", 300, 250, 9, cfg, progress=False)  # full chunks equal
    for name in NAMES:
        small = read_rows(tmp_path / "small" / name)
        large = read_rows(tmp_path / "large" / name)
        for field in small.dtype.names:
            np.testing.assert_array_equal(small[field], large[field][: len(small)], err_msg=field)
    np.testing.assert_array_equal(
        read_cells(tmp_path / "small" / NAMES[0]), read_cells(tmp_path / "large" / NAMES[0])[:200]
    )
    sim, data = (read_rows(tmp_path / "small" / n)["e_true"] for n in NAMES[:2])
    assert not np.array_equal(sim, data), "the two domains must use independent streams"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--n", "-5"], "--n must be a positive"),
        (["--n", "0"], "--n must be a positive"),
        (["--n", "10", "--n-diphoton", "-1"], "--n-diphoton must be a positive"),
        (["--n", "10", "--seed", "-3"], "--seed must be >= 0"),
    ],
)
def test_bad_arguments_one_line(tmp_path, capsys, args, needle):
    rc, err = _run(["--out", str(tmp_path / "o"), *args], capsys)
    assert rc != 0
    assert needle in err and len(err.splitlines()) == 1, err


def test_unwritable_directory_one_line(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    rc, err = _run(["--out", str(blocker / "sub"), "--n", "10"], capsys)
    assert rc != 0
    assert "cannot" in err and str(blocker) in err and len(err.splitlines()) == 1, err


def test_unknown_config_key_one_line(tmp_path, capsys):
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("data:\n  middle_width_scale: 1.1\n  bogus_knob: 3\n")
    rc, err = _run(["--out", str(tmp_path / "o"), "--n", "10", "--config", str(cfg)], capsys)
    assert rc != 0
    assert "data.bogus_knob" in err.replace("'", "") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o" / NAMES[0]).exists()


def test_config_knobs_are_applied_and_stored(tmp_path, capsys):
    cfg = tmp_path / "gen.json"
    cfg.write_text('{"data": {"mu_mean": 60.0}, "photons": {"prompt_fraction": 1.0}}')
    rc, err = _run(
        ["--out", str(tmp_path / "o"), "--n", "500", "--n-diphoton", "50", "--config", str(cfg)],
        capsys,
    )
    assert rc == 0, err
    info = open_dataset(tmp_path / "o" / "photons_data.h5")
    assert info.config["data"]["mu_mean"] == 60.0
    rows = read_rows(info.path)
    assert rows["label"].all()
    assert 50 < rows["mu"].mean() < 70


def test_interrupted_run_leaves_no_complete_looking_file(tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    real = simulate_mod.photon_chunk

    def failing_chunk(rng, n, cfg, domain):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write
        return real(rng, n, cfg, domain)

    monkeypatch.setattr(simulate_mod, "photon_chunk", failing_chunk)
    gen = tmp_path / "gen.json"
    gen.write_text('{"chunk_rows": 100}')
    rc, err = _run(["--out", str(tmp_path / "o"), "--n", "350", "--config", str(gen)], capsys)
    assert rc == 130 and "interrupted" in err
    # the dataset is one artefact: nothing of it appears, no temporaries or lock remain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.json"]


def test_progress_goes_to_stderr(tmp_path, capsys):
    rc = main(["simulate", "--out", str(tmp_path / "o"), "--n", "50", "--n-diphoton", "20"])
    out = capsys.readouterr()
    assert rc == 0
    assert "wrote" in out.out and "simulate" in out.err
