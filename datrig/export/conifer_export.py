"""A tree ensemble to firmware with conifer: its HLS C++ and its VHDL, plus datrig's
threshold-map block, testbenches and builds.

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
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from datrig.errors import DatrigError, ToolMissingError
from datrig.ir.fixed import FixedType
from datrig.ir.trees import EnsembleIR

PROJECT_NAME = "datrig_bdt"
TESTBENCH = "DatrigTestbench.vhd"
VHDL_ORDER = (
    "Constants.vhd", "Types.vhd", "Split.vhd", "Tree.vhd", "AddReduce.vhd", "Arrays0.vhd",
    "BDT.vhd", "BDTTop.vhd", "DatrigTop.vhd",
)  # fmt: skip


def ap_types_dir() -> Path:
    """hls4ml's copy of the ap_types headers (the Xilinx open-source release)."""
    import hls4ml

    path = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_fixed.h").is_file():
        raise ToolMissingError(f"ap_types headers not found in {path}; reinstall hls4ml")
    return path


def common_type(ir: EnsembleIR) -> FixedType:
    """One type holding inputs, thresholds and scores (conifer's VHDL needs one)."""
    frac = max(ir.input_type.fractional, ir.score_type.fractional)
    integer = max(ir.input_type.integer, ir.score_type.integer)
    return FixedType(frac + integer, integer, True)


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
        "trees": [trees],
        "init_predict": [ir.init * lsc],
        "norm": 1,
        "library": "sklearn",
        "splitting_convention": "<=",
        "feature_names": list(ir.features),
    }


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
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


def _transposed(ensemble: dict) -> dict:
    """conifer expects ``trees[tree][class]``."""
    return {**ensemble, "trees": [[t] for t in ensemble["trees"][0]]}


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
    with tempfile.TemporaryDirectory() as scratch, _inside(Path(scratch)):
        model = conifer.model.make_model(_transposed(ensemble_dict(ir)), cfg)
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
    gxx = shutil.which("g++")
    if gxx is None:
        raise ToolMissingError("g++ not found: the C-simulation needs it (apt-get install g++)")
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


def reduce_stages(n: int) -> int:
    """Registered adder levels of conifer's ``AddReduce`` on ``n`` values."""
    return 0 if n <= 1 else 1 if n == 2 else 1 + reduce_stages((n + 1) // 2)


def bdt_latency(ir: EnsembleIR) -> int:
    """Clocks from conifer's ``X_vld`` to ``y_vld``: its tree pipeline (``maxdepth + 3``
    valid stages, the score one later) and the adder tree over the trees and the init
    (measured in GHDL; the testbench's latency check keeps this honest)."""
    return ir.max_depth + 4 + reduce_stages(len(ir.trees) + 1)


def write_vhdl(ir: EnsembleIR, out: Path, part: str) -> Path:
    """conifer's VHDL in ``out/firmware`` (one common type) plus DatrigTop and its testbench."""
    import conifer

    common = common_type(ir)
    cfg = {
        "backend": "vhdl",
        "output_dir": str(out),
        "project_name": PROJECT_NAME,
        "precision": f"ap_fixed<{common.width},{common.integer}>",
        "xilinx_part": part,
        "clock_period": 5.0,
    }
    os.environ.setdefault("XILINX_AP_INCLUDE", str(ap_types_dir()))
    from conifer.backends.vhdl import set_simulator

    set_simulator("ghdl")
    with tempfile.TemporaryDirectory() as scratch, _inside(Path(scratch)):
        model = conifer.model.make_model(_transposed(ensemble_dict(ir)), cfg)
        model.write()
    (out / "firmware" / "DatrigTop.vhd").write_text(_datrig_top_vhdl(ir, common))
    (out / "firmware" / TESTBENCH).write_text(TESTBENCH_VHDL)
    return out


def top_entity(n_features: int, w_in: int, w_out: int) -> str:
    """The ports every datrig BDT design has (the testbench and yosys flow rely on them):
    the features' mantissas side by side, a valid bit, the output mantissa, its valid bit."""
    return f"""entity DatrigTop is
  port(
    clk : in std_logic;
    X_in : in std_logic_vector({n_features * w_in - 1} downto 0);
    X_vld_in : in std_logic;
    y_out : out std_logic_vector({w_out - 1} downto 0);
    y_vld_out : out std_logic
  );
end DatrigTop;
"""


def _vhdl_ints(values) -> str:
    return (
        "(" + ", ".join(str(int(v)) for v in values) + ")"
        if len(values) > 1
        else (f"(0 => {int(values[0])})")
    )


def _datrig_top_vhdl(ir: EnsembleIR, common: FixedType) -> str:
    n, w_in, w_out = ir.n_features, ir.input_type.width, ir.output_type.width
    shift_in = common.fractional - ir.input_type.fractional
    shift_out = common.fractional - ir.output_type.fractional
    latency = bdt_latency(ir)
    m = ir.threshold_map
    if m is None:
        map_decl, map_logic, threshold = "", "", f"to_signed(0, {w_out})"
    else:
        rows, cols = m.shape
        flat = [v for row in m.table for v in row]
        map_decl = f"""
  type intArr is array(natural range <>) of integer;
  constant condEdges : intArr := {_vhdl_ints(list(m.condition_edges) or [0])};
  constant protEdges : intArr := {_vhdl_ints(list(m.protected_edges) or [0])};
  constant mapTable : intArr := {_vhdl_ints(flat)};
  type thrArr is array(0 to {latency - 1}) of signed({w_out - 1} downto 0);
  signal thr : thrArr := (others => (others => '0'));"""
        map_logic = f"""
  -- the threshold map: bins of the condition and the protected input, a constant table,
  -- looked up with the inputs and delayed to meet the score ({latency} clocks)
  MapLookup : process(clk)
    variable r, c : integer;
  begin
    if rising_edge(clk) then
      r := 0; c := 0;
      for i in 0 to {rows - 2} loop
        if signed(X_in({(m.condition + 1) * w_in - 1} downto {m.condition * w_in}))
            >= condEdges(i) then r := r + 1; end if;
      end loop;
      for i in 0 to {cols - 2} loop
        if signed(X_in({(m.protected + 1) * w_in - 1} downto {m.protected * w_in}))
            >= protEdges(i) then c := c + 1; end if;
      end loop;
      thr(0) <= to_signed(mapTable(r * {cols} + c), {w_out});
      thr(1 to {latency - 1}) <= thr(0 to {latency - 2});
    end if;
  end process;"""
        threshold = f"thr({latency - 1})"
    return f"""-- Written by datrig: narrow input ports widened into conifer's common type,
-- conifer's BDT, and (with a designed decorrelation) the threshold map after the score;
-- one output register.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.Constants.all;
use work.Types.all;

{top_entity(n, w_in, w_out)}
architecture rtl of DatrigTop is
  signal X : txArray(0 to nFeatures - 1);
  signal X_vld : boolean;
  signal y : tyArray(0 to nClasses - 1);
  signal y_vld : boolArray(0 to nClasses - 1);{map_decl}
begin
  Widen : for i in 0 to {n - 1} generate
    X(i) <= shift_left(resize(signed(X_in((i + 1) * {w_in} - 1 downto i * {w_in})),
                              tx'length), {shift_in});
  end generate;
  X_vld <= X_vld_in = '1';

  UUT : entity work.BDTTop port map(clk, X, X_vld, y, y_vld);
{map_logic}
  Output : process(clk)
  begin
    if rising_edge(clk) then
      y_out <= std_logic_vector(resize(shift_right(y(0), {shift_out}), {w_out}) - {threshold});
      if y_vld(0) then y_vld_out <= '1'; else y_vld_out <= '0'; end if;
    end if;
  end process;
end rtl;
"""


TESTBENCH_VHDL = """-- Written by datrig: one event per clock from in.txt (input mantissas
-- per event), every valid output written to out.txt as "cycle value" (latency and II from it).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use std.textio.all;

entity DatrigTestbench is
  generic(
    N_FEATURES : integer; W_IN : integer; W_OUT : integer; N_EVENTS : integer;
    DRAIN : integer := 64
  );
end DatrigTestbench;

architecture sim of DatrigTestbench is
  signal clk : std_logic := '0';
  signal X_in : std_logic_vector(N_FEATURES * W_IN - 1 downto 0) := (others => '0');
  signal X_vld_in : std_logic := '0';
  signal y_out : std_logic_vector(W_OUT - 1 downto 0);
  signal y_vld_out : std_logic;
  signal cycle : integer := 0;
  signal done : boolean := false;
begin
  clk <= not clk after 2.5 ns when not done;
  UUT : entity work.DatrigTop port map(clk, X_in, X_vld_in, y_out, y_vld_out);

  Drive : process
    file fin : text open read_mode is "in.txt";
    variable l : line;
    variable v : integer;
  begin
    for e in 0 to N_EVENTS - 1 loop
      readline(fin, l);
      for i in 0 to N_FEATURES - 1 loop
        read(l, v);
        X_in((i + 1) * W_IN - 1 downto i * W_IN) <= std_logic_vector(to_signed(v, W_IN));
      end loop;
      X_vld_in <= '1';
      wait until rising_edge(clk);
    end loop;
    X_vld_in <= '0';
    for k in 0 to DRAIN loop
      wait until rising_edge(clk);
    end loop;
    done <= true;
    wait;
  end process;

  Count : process(clk)
  begin
    if rising_edge(clk) then
      cycle <= cycle + 1;
    end if;
  end process;

  Capture : process(clk)
    file fout : text open write_mode is "out.txt";
    variable l : line;
  begin
    if rising_edge(clk) and y_vld_out = '1' then
      write(l, cycle);
      write(l, string'(" "));
      write(l, to_integer(signed(y_out)));
      writeline(fout, l);
    end if;
  end process;
end sim;
"""
