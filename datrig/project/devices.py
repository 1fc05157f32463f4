"""FPGA devices datrig knows, with the resources a report divides by.

Totals are from the vendors' product tables (AMD DS890 UltraScale+ overview, DS950 Versal AI
Core): CLB LUTs, CLB flip-flops, DSP slices and block RAM counted in 18 kb halves. A part
number is matched on its device prefix (``xcvu13p-flga2577-2-e`` -> ``xcvu13p``); adding a
device is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from datrig.errors import SchemaError


@dataclass(frozen=True)
class Device:
    """One FPGA device: family and resource totals."""

    name: str
    family: str
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    yosys_family: str  # synth_xilinx -family used for the open-source LUT/FF counts

    def fraction(self, resource: str, value: float) -> float:
        """``value`` as a fraction of the device's ``resource`` (lut, ff, dsp, bram)."""
        total = {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram": self.bram_18k}[resource]
        return float(value) / total


DEVICES: dict[str, Device] = {
    device.name: device
    for device in (
        # Virtex UltraScale+: the L1 trigger boards of the HL-LHC (ATLAS/CMS) use VU9P/VU13P
        Device("xcvu13p", "Virtex UltraScale+", 1_728_000, 3_456_000, 12_288, 5_376, "xcup"),
        Device("xcvu9p", "Virtex UltraScale+", 1_182_240, 2_364_480, 6_840, 4_320, "xcup"),
        Device("xcku15p", "Kintex UltraScale+", 522_720, 1_045_440, 1_968, 1_968, "xcup"),
        # Versal AI Core: LUT6 fabric like UltraScale+; yosys has no Versal mapping, so its
        # LUT/FF counts use the UltraScale+ one (the report says so)
        Device("xcvc1902", "Versal AI Core", 899_840, 1_799_680, 1_968, 1_934, "xcup"),
        Device("xc7vx690t", "Virtex-7", 433_200, 866_400, 3_600, 2_940, "xc7"),
    )
}


def device_for_part(part: str) -> Device:
    """The device of a full part number, or a SchemaError listing the known devices."""
    prefix = str(part).lower().split("-", 1)[0]
    if prefix in DEVICES:
        return DEVICES[prefix]
    raise SchemaError(
        f"unknown FPGA part {part!r}; datrig knows {', '.join(sorted(DEVICES))} "
        "(add the device to datrig/project/devices.py)"
    )
