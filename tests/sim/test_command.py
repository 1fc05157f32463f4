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


# -- issue 18 -----------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_l6_simulate_refuses_a_dataset_holding_a_users_file(tmp_path, capsys):
    """`simulate --out d1` deleted the user's d1/notes.txt with the previous dataset."""
    d1 = tmp_path / "d1"
    assert _run(["--out", str(d1), "--n", "50", "--n-diphoton", "20"], capsys)[0] == 0
    (d1 / "notes.txt").write_text("calibration run 7: looks odd")
    before = _tree(tmp_path)
    rc, err = _run(["--out", str(d1), "--n", "60", "--n-diphoton", "20"], capsys)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "holds files datrig did not write there (notes.txt)" in err
    assert _tree(tmp_path) == before  # the notes and the dataset, untouched


def test_l7_a_nested_dataset_is_not_deleted_with_its_parent(tmp_path, capsys):
    """`simulate --out d1/inner` inside a dataset, then `simulate --out d1`: inner was
    deleted without a word."""
    d1 = tmp_path / "d1"
    for out in (d1, d1 / "inner"):
        assert _run(["--out", str(out), "--n", "50", "--n-diphoton", "20"], capsys)[0] == 0
    before = _tree(tmp_path)
    rc, err = _run(["--out", str(d1), "--n", "60", "--n-diphoton", "20"], capsys)
    assert rc == 2 and "holds files datrig did not write there (inner/)" in err, err
    assert _tree(tmp_path) == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_t1_an_output_folder_the_system_refuses_is_one_line(capsys):
    """`simulate --out /proc/x` was a FileNotFoundError traceback."""
    rc, err = _run(["--out", "/proc/datrig-t1", "--n", "10"], capsys)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("datrig simulate: error: ") and "/proc" in err, err


def test_t2_a_seed_beyond_int64_is_one_line(tmp_path, capsys):
    """`--seed 99999999999999999999` failed in HDF5 with a TypeError about an object dtype."""
    rc, err = _run(["--out", str(tmp_path / "o"), "--n", "10", "--seed", "9" * 20], capsys)
    assert rc == 2 and err == (
        "datrig simulate: error: --seed must be >= 0 and < 2**63 (an int64 in every file), "
        f"got {'9' * 20}"
    )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit) as exc:  # the other commands' --seed, at the command line
        main(["qat", "--model", "photon_id", "--seed", "9" * 20])
    assert exc.value.code == 2 and "must be >= 0 and < 2**63" in capsys.readouterr().err


def test_an_impossible_size_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """`--n 10000000000000` had no upfront limit (it would have run for days first)."""
    import collections
    import shutil

    rc, err = _run(["--out", str(tmp_path / "o"), "--n", "10000000000000"], capsys)
    assert rc == 2 and "at most 1,000,000,000 rows per file" in err, err
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    rc, err = _run(["--out", str(tmp_path / "o"), "--n", "1000"], capsys)  # ~1.3 MB
    assert rc == 2 and "needs about" in err and "KiB free" in err and "0.0 " not in err, err
    assert list(tmp_path.iterdir()) == []


def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path, capsys, monkeypatch):
    """Each file is its own random stream, so a pool of processes changes nothing."""
    args = ["--n", "1200", "--n-diphoton", "600", "--seed", "4"]
    rc, err = _run(["--out", str(tmp_path / "one"), *args], capsys)
    assert rc == 0, err
    assert simulate_mod._workers(2 * (1200 + 600 + 1200)) == 1  # a small sample: no pool
    monkeypatch.setattr(simulate_mod, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(simulate_mod.os, "sched_getaffinity", lambda _pid: {0, 1})
    rc, err = _run(["--out", str(tmp_path / "pool"), *args], capsys)
    assert rc == 0, err
    for path in sorted((tmp_path / "one").iterdir()):
        assert _sha(path) == _sha(tmp_path / "pool" / path.name), path.name


def test_sigterm_stops_the_worker_processes_and_keeps_nothing(tmp_path):
    """A batch kill while a pool writes: exit 143, no temporaries, no process left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "data"
    env = {**os.environ, "DATRIG_PAUSE_AT": "simulate:wrote-photons_sim.h5"}
    n = str(simulate_mod.PARALLEL_MIN_ROWS // 4)  # x 6 files: a pool of workers
    proc = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "simulate", "--out", str(out), "--n", n,
         "--quiet", "--seed", "1"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert "datrig-paused-at" in proc.stderr.readline()
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children, "no worker processes were started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated; no partial output was kept" in err
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children), "a worker outlived it"
