"""A tree ensemble to conifer's VHDL, wrapped by datrig's ``DatrigTop`` (narrow input
ports, the threshold-map block, an output register), and the VHDL testbench every datrig BDT
design is simulated with (one event per clock; each output with its clock)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from datrig.export.conifer_export import (
    PROJECT_NAME,
    ap_types_dir,
    ensemble_dict,
    inside_scratch,
)
from datrig.ir.fixed import FixedType
from datrig.ir.trees import EnsembleIR

TESTBENCH = "DatrigTestbench.vhd"
VHDL_ORDER = (
    "Constants.vhd", "Types.vhd", "Split.vhd", "Tree.vhd", "AddReduce.vhd", "Arrays0.vhd",
    "BDT.vhd", "BDTTop.vhd", "DatrigTop.vhd",
)  # fmt: skip


def common_type(ir: EnsembleIR) -> FixedType:
    """One type holding inputs, thresholds and scores (conifer's VHDL needs one)."""
    frac = max(ir.input_type.fractional, ir.score_type.fractional)
    integer = max(ir.input_type.integer, ir.score_type.integer)
    return FixedType(frac + integer, integer, True)


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
    with tempfile.TemporaryDirectory() as scratch, inside_scratch(Path(scratch)):
        model = conifer.model.make_model(ensemble_dict(ir), cfg)
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
