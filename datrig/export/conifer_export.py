"""A tree ensemble to conifer's HLS C++, with datrig's threshold-map block and C-sim driver
(its VHDL: :mod:`datrig.export.conifer_vhdl`).

conifer (pinned in pyproject) writes the trees; datrig hands it values already on the grids
(:mod:`datrig.ir.trees`), so no conversion inside conifer can round anything, and it writes
around it what the issue of a designed decorrelation needs:

* ``hls/``: conifer's Xilinx-HLS project (``BDT.h``, ``parameters.h``, ``<name>.cpp``) and
  ``firmware/datrig_top.cpp``: the map block after the score (comparators for the two bins,
  a constant table, one subtraction) as HLS C++. ``datrig_csim.cpp`` drives it with raw
  mantissas (``.range()``), so the C-simulation sees exactly the emulator's integers; it is
  compiled with g++ against hls4ml's ap_types headers.
* ``vhdl/``: conifer's VHDL (every tree level and adder level registered) in one common type
  holding inputs and scores, and ``DatrigTop.vhd``: narrow input ports widened into it, the
  map block (bins from the registered inputs, delayed to meet the score) and the output
  register. ``DatrigTestbench.vhd`` streams one event per clock from a text file and writes
  each output with its clock cycle, which gives latency and II.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from datrig.errors import DatrigError, ToolMissingError
from datrig.export.hls import require_compiler
from datrig.ir.trees import EnsembleIR

PROJECT_NAME = "datrig_bdt"


def ap_types_dir() -> Path:
    """hls4ml's copy of the ap_types headers (the Xilinx open-source release)."""
    import hls4ml

    path = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_fixed.h").is_file():
        raise ToolMissingError(f"ap_types headers not found in {path}; reinstall hls4ml")
    return path


def ensemble_dict(ir: EnsembleIR) -> dict:
    """conifer's ensemble dictionary of ``ir``: every value exactly on its grid."""
    lin, lsc = ir.input_type.lsb, ir.score_type.lsb
    trees = []
    for t in ir.trees:
        trees.append(
            {
                "feature": [int(f) if f >= 0 else -2 for f in t.feature],
                "threshold": [
                    v * lin if f >= 0 else 0.0 for f, v in zip(t.feature, t.threshold, strict=True)
                ],
                "value": [v * lsc for v in t.value],
                "weight": [[int(i == f) for i in range(ir.n_features)] for f in t.feature],
                "children_left": list(t.left),
                "children_right": list(t.right),
            }
        )
    return {
        "max_depth": ir.max_depth,
        "n_trees": len(ir.trees),
        "n_features": ir.n_features,
        "n_classes": 2,
        "trees": [[t] for t in trees],  # conifer's trees[tree][class]
        "init_predict": [ir.init * lsc],
        "norm": 1,
        "library": "sklearn",
        "splitting_convention": "<=",
        "feature_names": list(ir.features),
    }


@contextlib.contextmanager
def inside_scratch(folder: Path) -> Iterator[None]:
    """conifer compiles helpers into the working directory with ``python3 -m pybind11``: run
    it inside a scratch folder, with this interpreter's folder first on PATH."""
    old, path = Path.cwd(), os.environ.get("PATH", "")
    os.chdir(folder)
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), path])
    try:
        yield
    finally:
        os.chdir(old)
        os.environ["PATH"] = path


def write_hls(ir: EnsembleIR, out: Path, part: str, clock_ns: float) -> Path:
    """conifer's HLS project in ``out`` plus datrig's map block and C-sim driver."""
    import conifer

    cfg = {
        "backend": "xilinxhls",
        "output_dir": str(out),
        "project_name": PROJECT_NAME,
        "input_precision": ir.input_type.to_hls(),
        "threshold_precision": ir.input_type.to_hls(),
        "score_precision": ir.score_type.to_hls(),
        "weight_precision": "ap_int<2>",  # one-hot axis weights: exactly 0 or 1
        "xilinx_part": part,
        "clock_period": clock_ns,
        "unroll": True,
    }
    with tempfile.TemporaryDirectory() as scratch, inside_scratch(Path(scratch)):
        model = conifer.model.make_model(ensemble_dict(ir), cfg)
        model.write()
    (out / "firmware" / "datrig_top.h").write_text(_top_header(ir))
    (out / "firmware" / "datrig_top.cpp").write_text(_top_cpp(ir))
    (out / "datrig_csim.cpp").write_text(_CSIM_MAIN)
    return out


def _cpp_list(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _top_header(ir: EnsembleIR) -> str:
    return (
        "// Written by datrig: the ensemble's score, then the threshold map (if any).\n"
        '#ifndef DATRIG_TOP_H_\n#define DATRIG_TOP_H_\n#include "parameters.h"\n'
        f"typedef {ir.output_type.to_hls()} output_t;\n"
        "void datrig_top(input_arr_t x, output_t &y);\n#endif\n"
    )


def _top_cpp(ir: EnsembleIR) -> str:
    if ir.threshold_map is not None:
        return _map_cpp(ir)
    return f"""// Written by datrig: the ensemble's score is the output.
#include "datrig_top.h"
void {PROJECT_NAME}(input_arr_t x, score_arr_t score);

void datrig_top(input_arr_t x, output_t &y) {{
  #pragma HLS pipeline II=1
  score_arr_t score;
  {PROJECT_NAME}(x, score);
  y = score[0];
}}
"""


def _map_cpp(ir: EnsembleIR) -> str:
    m = ir.threshold_map
    assert m is not None
    rows, cols = m.shape
    frac_in = ir.input_type.fractional
    frac_out = ir.output_type.fractional
    table = ",\n    ".join(_cpp_list(r) for r in m.table)
    edges_c = _cpp_list(m.condition_edges) if m.condition_edges else "{0}"
    edges_p = _cpp_list(m.protected_edges) if m.protected_edges else "{0}"
    return f"""// Written by datrig. The threshold map after the score (a designed decorrelation):
// bin = number of edges e with x >= e (comparators summed, edges as input-grid mantissas),
// a constant table of output-grid mantissas, one exact subtraction.
#include "datrig_top.h"
void {PROJECT_NAME}(input_arr_t x, score_arr_t score);

typedef ap_fixed<{ir.input_type.width},{ir.input_type.integer}> edge_t;
typedef ap_fixed<{ir.output_type.width},{ir.output_type.integer}> map_t;
static const int cond_edges[{max(1, rows - 1)}] = {edges_c};
static const int prot_edges[{max(1, cols - 1)}] = {edges_p};
static const int table[{rows}][{cols}] = {{
    {table}}};

static edge_t edge(int mantissa) {{
  edge_t e;
  e.range() = mantissa;
  return e;
}}

void datrig_top(input_arr_t x, output_t &y) {{
  #pragma HLS pipeline II=1
  score_arr_t score;
  {PROJECT_NAME}(x, score);
  int r = 0, c = 0;
  for (int i = 0; i < {rows - 1}; i++) {{
    #pragma HLS unroll
    r += (edge_t(x[{m.condition}]) >= edge(cond_edges[i])) ? 1 : 0;
  }}
  for (int i = 0; i < {cols - 1}; i++) {{
    #pragma HLS unroll
    c += (edge_t(x[{m.protected}]) >= edge(prot_edges[i])) ? 1 : 0;
  }}
  map_t threshold;
  threshold.range() = table[r][c];  // {frac_out} fractional bits, as the score ({frac_in} in)
  y = output_t(score[0]) - output_t(threshold);
}}
"""


_CSIM_MAIN = """// Written by datrig: the C-simulation driver. Reads n_events x n_features input
// mantissas (int64, little endian) and writes one output mantissa (int64) per event;
// raw bits in and
// out, so no float conversion (and no rounding mode) is involved.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "firmware/datrig_top.h"

int main(int argc, char **argv) {
  if (argc != 4) { std::fprintf(stderr, "usage: datrig_csim IN OUT N\\n"); return 2; }
  const long n = std::atol(argv[3]);
  std::FILE *in = std::fopen(argv[1], "rb");
  std::FILE *out = std::fopen(argv[2], "wb");
  if (!in || !out) { std::fprintf(stderr, "cannot open the event files\\n"); return 2; }
  std::vector<int64_t> row(n_features);
  for (long e = 0; e < n; e++) {
    if (std::fread(row.data(), sizeof(int64_t), n_features, in) != (size_t)n_features) return 3;
    input_arr_t x;
    for (int i = 0; i < n_features; i++) x[i].range() = row[i];
    output_t y;
    datrig_top(x, y);
    int64_t m = y.range().to_int64();
    if (y[output_t::width - 1]) m -= (int64_t)1 << output_t::width;  // sign-extend
    std::fwrite(&m, sizeof(int64_t), 1, out);
  }
  std::fclose(in);
  return std::fclose(out) == 0 ? 0 : 4;
}
"""


def compile_csim(hls_dir: Path) -> Path:
    """g++ the conifer C++ with datrig's driver into ``hls_dir/datrig_csim``."""
    gxx = require_compiler()
    exe = hls_dir / "datrig_csim"
    cmd = [
        gxx, "-O1", "-std=c++14", f"-I{ap_types_dir()}", "-Ifirmware",
        f"-I{_conifer_hls_stream()}", "datrig_csim.cpp", "firmware/datrig_top.cpp",
        "firmware/BDT.cpp", f"firmware/{PROJECT_NAME}.cpp", "-o", exe.name,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=hls_dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise DatrigError(f"g++ could not build the conifer C-simulation: {tail[0]}")
    return exe


def _conifer_hls_stream() -> Path:
    import conifer

    return Path(conifer.__file__).parent / "external" / "hls"
