"""datrig's own VHDL of a tree ensemble, pipelined for a trigger budget (beside conifer's).

conifer's VHDL registers every tree level and every adder level: depth + 4 + ceil(log2(trees
+ 1)) clocks, 12 for 15 trees of depth 3 (60 ns at 200 MHz). This backend evaluates each tree
in one clock (narrow comparators on the input grid and a ``depth``-deep multiplexer, a few LUT
levels), sums ``ADDER_LEVELS_PER_STAGE`` adder levels per clock, and subtracts the threshold
map in the output register: 1 + ceil(levels / 2) + 1 clocks (4 for 15 trees). Its entity is
``DatrigTop`` with the same ports as the conifer wrapper, so the same testbench, GHDL run and
yosys flow measure both, and both are checked against the emulator bit for bit.
"""

from __future__ import annotations

import math
from pathlib import Path

from datrig.export.conifer_vhdl import TESTBENCH, TESTBENCH_VHDL, top_entity
from datrig.ir.trees import EnsembleIR, TreeIR

ADDER_LEVELS_PER_STAGE = 2  # two carry-chain adders per 5 ns clock
SHALLOW_FILE = "DatrigShallow.vhd"


def shallow_latency(ir: EnsembleIR) -> int:
    levels = math.ceil(math.log2(len(ir.trees) + 1))
    return 1 + math.ceil(levels / ADDER_LEVELS_PER_STAGE) + 1


def _tree_code(tree: TreeIR, k: int, w_in: int, indent: str) -> list[str]:
    def node(i: int, pad: str) -> list[str]:
        if tree.feature[i] < 0:
            return [f"{pad}t({k}) <= to_signed({tree.value[i]}, W);"]
        f = tree.feature[i]
        cond = f"signed(X_in({(f + 1) * w_in - 1} downto {f * w_in})) <= {tree.threshold[i]}"
        return [
            f"{pad}if {cond} then",
            *node(tree.left[i], pad + "  "),
            f"{pad}else",
            *node(tree.right[i], pad + "  "),
            f"{pad}end if;",
        ]

    return node(0, indent)


def _aggregate(values: list[int]) -> str:
    """A VHDL array aggregate (one element needs the named form)."""
    if len(values) == 1:
        return f"(0 => {int(values[0])})"
    return "(" + ", ".join(str(int(v)) for v in values) + ")"


def write_shallow_vhdl(ir: EnsembleIR, out: Path) -> Path:
    """``out/DatrigShallow.vhd`` (the whole design in one file) and the testbench."""
    out.mkdir(parents=True, exist_ok=True)
    n_in, w_in, w = ir.n_features, ir.input_type.width, ir.output_type.width
    values = [f"t({k})" for k in range(len(ir.trees))] + [f"to_signed({ir.init}, W)"]
    latency = shallow_latency(ir)
    m = ir.threshold_map
    body: list[str] = []
    decls = [f"  signal t : sArr(0 to {len(ir.trees) - 1});"]
    # stage 1: trees (and the map's lookup)
    body += ["  Trees : process(clk)", "  begin", "    if rising_edge(clk) then"]
    for k, tree in enumerate(ir.trees):
        body += _tree_code(tree, k, w_in, "      ")
    body += ["    end if;", "  end process;", ""]
    # adder stages
    current, stage, level = values, 0, 0
    total_levels = math.ceil(math.log2(len(values)))
    while len(current) > 1:
        stage += 1
        lines, names = [], list(current)
        for _ in range(ADDER_LEVELS_PER_STAGE):
            if len(names) == 1:
                break
            nxt = []
            for j in range(0, len(names), 2):
                pair = names[j : j + 2]
                expr = pair[0] if len(pair) == 1 else f"{pair[0]} + {pair[1]}"
                var = f"a{level}_{j // 2}"
                lines.append(f"      {var} := {expr};")
                nxt.append(var)
            names, level = nxt, level + 1
        decls.append(f"  signal s{stage} : sArr(0 to {len(names) - 1});")
        var_decl = sorted({ln.split(":=")[0].strip() for ln in lines})
        body += [f"  Sum{stage} : process(clk)"]
        body += [f"    variable {', '.join(var_decl)} : signed(W - 1 downto 0);", "  begin"]
        body += ["    if rising_edge(clk) then", *lines]
        body += [f"      s{stage}({j}) <= {v};" for j, v in enumerate(names)]
        body += ["    end if;", "  end process;", ""]
        current = [f"s{stage}({j})" for j in range(len(names))]
    assert level == total_levels
    score = current[0]
    threshold = "to_signed(0, W)"
    if m is not None:
        rows, cols = m.shape
        flat = ", ".join(str(int(v)) for row in m.table for v in row)
        ce = list(m.condition_edges) or [0]
        pe = list(m.protected_edges) or [0]
        decls += [
            "  type intArr is array(natural range <>) of integer;",
            f"  constant condEdges : intArr(0 to {len(ce) - 1}) := {_aggregate(ce)};",
            f"  constant protEdges : intArr(0 to {len(pe) - 1}) := {_aggregate(pe)};",
            f"  constant mapTable : intArr(0 to {rows * cols - 1}) := ({flat});",
            f"  signal thr : sArr(0 to {latency - 2});",
        ]
        cs = f"signed(X_in({(m.condition + 1) * w_in - 1} downto {m.condition * w_in}))"
        ps = f"signed(X_in({(m.protected + 1) * w_in - 1} downto {m.protected * w_in}))"
        body += [
            "  MapLookup : process(clk)",
            "    variable r, c : integer;",
            "  begin",
            "    if rising_edge(clk) then",
            "      r := 0; c := 0;",
            f"      for i in 0 to {rows - 2} loop",
            f"        if {cs} >= condEdges(i) then r := r + 1; end if;",
            "      end loop;",
            f"      for i in 0 to {cols - 2} loop",
            f"        if {ps} >= protEdges(i) then c := c + 1; end if;",
            "      end loop;",
            f"      thr(0) <= to_signed(mapTable(r * {cols} + c), W);",
        ]
        if latency > 2:
            body.append(f"      thr(1 to {latency - 2}) <= thr(0 to {latency - 3});")
        body += ["    end if;", "  end process;", ""]
        threshold = f"thr({latency - 2})"
    text = f"""-- Written by datrig: the tree ensemble pipelined for the trigger
-- (datrig.export.tree_vhdl). {len(ir.trees)} trees, one clock; {total_levels} adder levels,
-- {ADDER_LEVELS_PER_STAGE} per clock; the threshold map (if any) subtracted in the output
-- register: {latency} clocks.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

{top_entity(n_in, w_in, w)}
architecture rtl of DatrigTop is
  constant W : integer := {w};
  type sArr is array(natural range <>) of signed(W - 1 downto 0);
{chr(10).join(decls)}
  signal vld : std_logic_vector(0 to {latency - 1}) := (others => '0');
begin
{chr(10).join(body)}
  Output : process(clk)
  begin
    if rising_edge(clk) then
      y_out <= std_logic_vector({score} - {threshold});
      vld <= X_vld_in & vld(0 to {latency - 2});
    end if;
  end process;
  y_vld_out <= vld({latency - 1});
end rtl;
"""
    (out / SHALLOW_FILE).write_text(text)
    (out / TESTBENCH).write_text(TESTBENCH_VHDL)
    return out
