"""Your own network, your own training loop, datrig's decorrelation, then calibrated firmware.

A worked example of ``datrig.da`` (docs/da_library.md) that uses only datrig's public API:

1. read the task's simulated ntuple with uproot (your code, not datrig's);
2. a Brevitas MLP of your own, with power-of-two fixed-point quantizers (what hls4ml maps
   exactly to ap_fixed);
3. a plain PyTorch loop: weighted BCE plus ``conditional_disco_loss`` on the background, so
   the score is independent of the protected variable at fixed condition (per-bin ABCD);
4. export to QONNX with Brevitas, and write the task file the network reads: the inputs in
   order, with the scale and offset you normalised them with;
5. ``datrig import --task``, ``datrig verify`` and ``datrig calibrate --project``.

    python examples/own_training_loop.py --task task.yml --out my_firmware

The task file names the ntuples, the label, the weight, the protected variable and the
condition, as for ``datrig qat --task``; its inputs are the network's inputs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import uproot
import yaml
from brevitas.inject.enum import ScalingImplType
from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant.fixed_point import (
    Int8ActPerTensorFixedPointMinMaxInit,
    Int8BiasPerTensorFixedPointInternalScaling,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPointMaxInit,
)

from datrig.da import conditional_disco_loss, fit_edges


class MyNetwork(torch.nn.Module):
    """A 3-layer quantized MLP: 8-bit weights and activations, every scale a power of two
    (inputs in +-8 with a constant scale, ReLUs with a learned radix point), as hls4ml maps
    them exactly to ap_fixed."""

    def __init__(self, n_inputs: int, hidden: int = 24) -> None:
        super().__init__()
        quant = {"weight_quant": Int8WeightPerTensorFixedPoint,
                 "bias_quant": Int8BiasPerTensorFixedPointInternalScaling}  # fmt: skip
        self.inp = QuantIdentity(
            act_quant=Int8ActPerTensorFixedPointMinMaxInit, scaling_impl_type=ScalingImplType.CONST,
            min_val=-8.0, max_val=8.0, return_quant_tensor=True,
        )  # fmt: skip
        self.fc1 = QuantLinear(n_inputs, hidden, bias=True, **quant, return_quant_tensor=False)
        self.act1 = QuantReLU(act_quant=Uint8ActPerTensorFixedPointMaxInit, max_val=4.0,
                              return_quant_tensor=True)  # fmt: skip
        self.fc2 = QuantLinear(hidden, hidden, bias=True, **quant, return_quant_tensor=False)
        self.act2 = QuantReLU(act_quant=Uint8ActPerTensorFixedPointMaxInit, max_val=4.0,
                              return_quant_tensor=True)  # fmt: skip
        self.out = QuantLinear(hidden, 1, bias=True, **quant, return_quant_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act2(self.fc2(self.act1(self.fc1(self.inp(x))))))  # (N, 1)


def read_sim(task: dict, folder: Path) -> dict[str, np.ndarray]:
    """The simulated candidates: inputs, label, weight, protected variable and condition."""
    source = task["sources"]["sim"]
    tree = uproot.open(folder / source["files"][0])[source["tree"]]
    label_column, value = (s.strip() for s in task["label"].split("=="))
    names = [i if isinstance(i, str) else i["column"] for i in task["inputs"]]
    cols = tree.arrays(list({*names, label_column, task["weight"], task["protected"],
                             task["condition"]}), library="np")  # fmt: skip
    x = np.stack([cols[n].astype(np.float64) for n in names], axis=1)
    return {
        "x": x,
        "names": names,
        "label": (cols[label_column] == float(value)).astype(np.float32),
        "weight": cols[task["weight"]].astype(np.float32),
        "protected": cols[task["protected"]].astype(np.float32),
        "condition": cols[task["condition"]].astype(np.float32),
    }


def train(
    sim: dict, epochs: int, lam: float, seed: int
) -> tuple[MyNetwork, np.ndarray, np.ndarray]:
    """Weighted BCE + lam * conditional DisCo of the background's score and protected
    variable in condition bins; returns the network and the input offset and scale."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    offset, scale = sim["x"].mean(axis=0), sim["x"].std(axis=0) + 1e-9
    x = torch.tensor((sim["x"] - offset) / scale, dtype=torch.float32)
    y, w = torch.tensor(sim["label"]), torch.tensor(sim["weight"])
    iso, cond = torch.tensor(sim["protected"]), torch.tensor(sim["condition"])
    background = y == 0
    edges = fit_edges(cond[background], n_bins=3, weights=w[background])  # fitted once
    net = MyNetwork(x.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // 1024)):
            idx = torch.from_numpy(idx)
            logit = net(x[idx]).reshape(-1)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, y[idx], reduction="none"
            )
            loss = (bce * w[idx]).sum() / w[idx].sum()
            bkg = background[idx]
            if int(bkg.sum()) > 64 and float(w[idx][bkg].sum()) > 0:
                loss = loss + lam * conditional_disco_loss(
                    torch.sigmoid(logit[bkg]), iso[idx][bkg], cond[idx][bkg], edges, w[idx][bkg],
                    max_events=512,
                )  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval(), offset, scale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lam", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    task = yaml.safe_load(args.task.read_text())
    folder = args.task.resolve().parent
    sim = read_sim(task, folder)
    net, offset, scale = train(sim, args.epochs, args.lam, args.seed)

    from brevitas.export import export_qonnx

    onnx_path = folder / f"{args.out.name}.onnx"
    with torch.no_grad():
        export_qonnx(net, torch.zeros(1, sim["x"].shape[1]), export_path=str(onnx_path))
    imported = dict(task)
    imported["name"] = f"{task['name']}_imported"
    imported["inputs"] = [
        {"column": n, "scale": float(s), "offset": float(o)}
        for n, s, o in zip(sim["names"], scale, offset, strict=True)
    ]
    task_path = folder / f"{imported['name']}.yml"
    task_path.write_text(yaml.safe_dump(imported, sort_keys=False))
    data_file = folder / task["sources"]["data"]["files"][0]

    def datrig(*cmd: str) -> None:
        print("+ datrig", " ".join(cmd), flush=True)
        subprocess.run([sys.executable, "-m", "datrig.cli", *cmd], check=True)

    datrig("import", str(onnx_path), "--task", str(task_path), "--out", str(args.out))
    datrig("verify", "--project", str(args.out), "--input", str(data_file))
    datrig("calibrate", "--project", str(args.out), "--task", str(task_path),
           "--data", str(data_file), "--out", str(args.out.parent / f"{args.out.name}_calibration"))  # fmt: skip


if __name__ == "__main__":
    main()
