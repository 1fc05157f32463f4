"""Task files: validated at load with one line per mistake; their samples read into a task
dataset (labels from a comparison, signed weights, selection, NaN policy, stratified split);
every bad input named in issue 28 is one clear line from ``datrig qat --task``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import uproot

from datrig.data.task import load_task
from datrig.data.taskdata import ensure_task_dataset, stratified_split
from datrig.errors import SchemaError

ROOT = Path(__file__).resolve().parents[2]


def sample(n: int, seed: int, labelled: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    prompt = (rng.uniform(size=n) < 0.5).astype(np.int32)
    cols = {
        "tau_pt": rng.uniform(20, 200, n).astype(np.float32),
        "tau_width": (rng.normal(0.05, 0.02, n) + 0.03 * (1 - prompt)).astype(np.float32),
        "tau_iso": rng.gamma(2.0, 1.0, n).astype(np.float32),
    }
    if labelled:
        cols["truth_match"] = np.where(prompt == 1, 5, 0).astype(np.int32)
        cols["gen_weight"] = rng.normal(1.0, 0.3, n).astype(np.float32)
    return cols


def write_root(path: Path, cols: dict[str, np.ndarray], tree: str = "taus") -> None:
    with uproot.recreate(path) as f:
        t = f.mktree(tree, {k: v.dtype for k, v in cols.items()})
        t.extend(cols)


TASK = """\
name: tau_id
kind: classification
sources:
  sim: {files: [mc.root], tree: taus}
  data: {files: [data.root], tree: taus}
inputs: [{column: tau_pt, transform: log}, tau_width]
label: truth_match == 5
weight: gen_weight
protected: tau_iso
condition: tau_pt
"""


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    write_root(tmp_path / "mc.root", sample(4000, 1))
    write_root(tmp_path / "data.root", sample(3000, 2, labelled=False))
    (tmp_path / "task.yml").write_text(TASK)
    return tmp_path


def test_a_task_is_read_into_a_task_dataset(task_dir):
    task = load_task(task_dir / "task.yml")
    out = ensure_task_dataset(task, task_dir / "ds", say=lambda m: None)
    with h5py.File(out / "task_sim.h5") as fh:
        rows, split = fh["candidates"][()], fh.attrs["split_rows"]
    src = sample(4000, 1)
    order = np.argsort(rows["entry"])
    assert len(rows) == 4000 and sum(split) == 4000
    np.testing.assert_array_equal(rows["label"][order], (src["truth_match"] == 5).astype(int))
    np.testing.assert_array_equal(rows["weight"][order], src["gen_weight"])
    with h5py.File(out / "task_data.h5") as fh:
        data = fh["candidates"][()]
    assert (data["label"] == -1).all() and (data["weight"] == 1).all()  # nothing read from data
    again = ensure_task_dataset(task, task_dir / "ds", say=lambda m: pytest.fail(m))
    assert again == out  # current: not rebuilt


def test_the_split_is_stratified_so_a_rare_class_trains():
    label = np.array([0] * 76 + [1] * 3)
    key = np.random.default_rng(0).uniform(size=79)
    split = stratified_split(label, key)
    assert np.count_nonzero((split == 0) & (label == 1)) == 2
    assert np.count_nonzero(split == 0) == 48


def test_selection_and_nonfinite_policy(task_dir):
    cols = sample(2000, 3)
    cols["tau_width"][:7] = np.nan
    write_root(task_dir / "mc.root", cols)
    task = load_task(task_dir / "task.yml")
    with pytest.raises(SchemaError, match=r"'tau_width' has 7 NaN/inf"):
        ensure_task_dataset(task, task_dir / "ds", say=lambda m: None)
    text = TASK + "nonfinite: drop\nselection: tau_pt > 50\n"
    (task_dir / "task.yml").write_text(text)
    out = ensure_task_dataset(load_task(task_dir / "task.yml"), task_dir / "ds2", say=print)
    with h5py.File(out / "task_sim.h5") as fh:
        rows = fh["candidates"][()]
    keep = (cols["tau_pt"] > 50) & np.isfinite(cols["tau_width"])
    assert len(rows) == int(keep.sum()) and (rows["tau_pt"] > 50).all()


BAD_TASKS = {
    "unknown key": (TASK + "colour: blue\n", "unknown key(s) colour"),
    "wrong type": (TASK.replace("kind: classification", "kind: 3"), "kind must be one of"),
    "bad transform": (TASK.replace("transform: log", "transform: cube"), "is not one of"),
    "path outside": (TASK.replace("[mc.root]", "[../mc.root]"), "points outside the folder"),
    "code in a label": (TASK.replace("truth_match == 5", "__import__('os')"), "not allowed"),
    "no label": (TASK.replace("label: truth_match == 5\n", ""), "needs a label"),
    "bad model": (TASK + "model: {hidden: [8.5]}\n", "model.hidden"),
    "bad updates": (TASK + "model: {updates: 0}\n", "model.updates must be a positive integer"),
    "both lengths": (TASK + "model: {updates: 9, epochs: 2}\n", "as epochs or as updates, not"),
}


@pytest.mark.parametrize("case", list(BAD_TASKS))
def test_a_wrong_task_file_is_one_line(task_dir, case):
    text, needle = BAD_TASKS[case]
    (task_dir / "task.yml").write_text(text)
    with pytest.raises(SchemaError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_task(task_dir / "task.yml")


def qat(task_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "datrig.cli", "qat", "--task", "task.yml", "--epochs", "1",
         "--quiet", *extra],
        cwd=task_dir, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600,
    )  # fmt: skip


def one_line(proc: subprocess.CompletedProcess, needle: str) -> None:
    errors = [x for x in proc.stderr.splitlines() if ": error:" in x]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and needle in errors[0], errors[0]


def test_every_bad_input_of_a_task_is_one_clear_line(task_dir):
    """Issue 28's list, each through `datrig qat --task`, naming the file."""
    good = sample(2000, 4)

    def case(cols: dict | None = None, task: str = TASK) -> subprocess.CompletedProcess:
        write_root(task_dir / "mc.root", cols or good)
        (task_dir / "task.yml").write_text(task)
        return qat(task_dir)

    one_line(case(task=TASK.replace("tau_width]", "tau_widht]")), "no column(s) tau_widht")
    one_line(case(task=TASK.replace("tree: taus}\n  data", "tree: tau}\n  data")),
             "no TTree 'tau'; it has: taus")  # fmt: skip
    import awkward as ak

    jagged = ak.Array([[30.0, 40.0], [50.0]] * 10)
    with uproot.recreate(task_dir / "mc.root") as f:  # tau_pt a vector per event
        flat = {k: v[:20] for k, v in good.items() if k != "tau_pt"}
        t = f.mktree("taus", {"tau_pt": ak.type(jagged), **{k: v.dtype for k, v in flat.items()}})
        t.extend({"tau_pt": jagged, **flat})
    (task_dir / "task.yml").write_text(TASK)
    one_line(qat(task_dir), "'tau_pt' holds a vector per event")
    bad_nan = dict(good, tau_width=np.where(np.arange(2000) < 3, np.nan, good["tau_width"]))
    one_line(case(bad_nan), "'tau_width' has 3 NaN/inf")
    one_line(case(dict(good, truth_match=np.full(2000, 7, np.int32)),
                  TASK.replace("truth_match == 5", "truth_match")), "not 0 or 1")  # fmt: skip
    one_line(case(dict(good, gen_weight=-np.abs(good["gen_weight"]))), "sum to")
    no_data = TASK.replace("  data: {files: [data.root], tree: taus}\n", "")
    write_root(task_dir / "mc.root", good)
    (task_dir / "task.yml").write_text(no_data)
    one_line(qat(task_dir, "--da", "frt"), "needs unlabelled data events")
    (task_dir / "task.yml").write_text(TASK + "seed: -3\n")
    one_line(qat(task_dir), "seed must be an integer")


def test_the_shared_nanoaod_collection_trains_with_a_comparison_label(tmp_path):
    """A format test: CMS NanoAOD written by ROOT, photons as a collection, truth by
    comparison, no data source; the run records every candidate (79 photons)."""
    nano = ROOT / ".." / "shared" / "testdata" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    (tmp_path / "nano.root").write_bytes(nano.read_bytes())
    (tmp_path / "task.yml").write_text(textwrap.dedent("""\
        name: nano_photon
        kind: classification
        sources:
          sim: {files: [nano.root], tree: Events, collection: Photon}
        inputs: [Photon_pt, Photon_eta, Photon_sieie, Photon_hoe, Photon_r9]
        label: "Photon_genPartFlav == 1"
        protected: Photon_pfRelIso03_all
        model: {batch_size: 16}
        """))  # fmt: skip
    task = load_task(tmp_path / "task.yml")
    out = ensure_task_dataset(task, tmp_path / "ds", say=lambda m: None)
    with h5py.File(out / "task_sim.h5") as fh:
        rows = fh["candidates"][()]
    assert len(rows) == 79 and int(rows["label"].sum()) == 3
    assert rows["index"].max() >= 1  # several photons in one event
    assert np.count_nonzero((rows["label"] == 1)[: fh_split(out)[0]]) >= 1  # one trains
    # a length in updates resolves from the task dataset's own training split
    from datrig.train.runs import resolve_config

    doc = task.to_json()
    doc["model"] = {**doc["model"], "updates": 10}
    per_epoch = -(-fh_split(out)[0] // 16)
    assert resolve_config(task.name, "none", out, 1, task=doc).epochs == -(-10 // per_epoch)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def datrig(*argv: str) -> None:
        proc = subprocess.run([sys.executable, "-m", "datrig.cli", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]

    datrig("qat", "--task", "task.yml", "--da", "none", "--epochs", "2", "--out", "run", "--quiet")
    datrig("export", "--run", "run", "--out", "prj")
    datrig("emulate", "--project", "prj", "--input", "nano.root", "--out", "scores.npy")
    assert np.load(tmp_path / "scores.npy").shape == (79, 1)  # one score per photon


def fh_split(out: Path) -> tuple[int, int, int]:
    with h5py.File(out / "task_sim.h5") as fh:
        return tuple(int(v) for v in fh.attrs["split_rows"])
