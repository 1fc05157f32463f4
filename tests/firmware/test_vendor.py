"""csynth.xml parsing on hand-written files in the Vivado HLS 2020.1 / Vitis HLS 2023.2 layout.

Vendor synthesis itself is not run here (no Vivado/Vitis on this machine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datrig.errors import SchemaError
from datrig.firmware import vendor
from datrig.firmware.report_types import HLS4ML_HLS, MEASURED_SYNTH

DATA = Path(__file__).parent / "data"


def test_vivado_hls_2020_1_report():
    rep = vendor.parse_csynth_xml(DATA / "vivado_hls_2020_1" / "myproject_csynth.xml")
    assert (rep.product, rep.version, rep.part) == ("Vivado HLS", "2020.1", "xcvu13p-flga2577-2-e")
    assert (rep.target_clock_ns, rep.estimated_clock_ns) == (5.0, 4.371)
    assert (rep.best_latency, rep.worst_latency, rep.interval_min, rep.interval_max) == (
        9,
        10,
        1,
        1,
    )
    assert rep.resources == {"BRAM_18K": 2, "DSP": 57, "FF": 4021, "LUT": 11020, "URAM": 0}
    assert rep.available["DSP"] == 12288
    meas = rep.to_measurements()
    assert meas.values["latency_cycles"][0] == 10  # worst case: the budget must hold always
    assert meas.values["dsp"][0] == 57
    src = meas.values["lut"][1]
    assert (src.tool, src.implementation, src.kind) == ("Vivado HLS", HLS4ML_HLS, MEASURED_SYNTH)


def test_vitis_hls_2023_2_report():
    rep = vendor.parse_csynth_xml(DATA / "vitis_hls_2023_2" / "myproject_csynth.xml")
    assert (rep.product, rep.version) == ("Vitis HLS", "2023.2")
    assert (rep.worst_latency, rep.interval_max) == (6, 1)
    assert rep.resources["DSP"] == 12 and rep.resources["LUT"] == 7410
    assert rep.to_measurements().clock_period_ns == 4.0


def test_undetermined_latency_is_reported_not_invented():
    rep = vendor.parse_csynth_xml(DATA / "vitis_hls_2023_2_undef_csynth.xml")
    assert rep.worst_latency is None and rep.interval_max is None
    meas = rep.to_measurements()
    assert "latency_cycles" not in meas.values and "ii" not in meas.values
    assert any("undef" in n for n in meas.notes)


def test_bad_files_raise_schema_error(tmp_path):
    bad = tmp_path / "x_csynth.xml"
    bad.write_text("<profile><foo/></profile>")
    with pytest.raises(SchemaError, match=r"not an HLS csynth\.xml"):
        vendor.parse_csynth_xml(bad)
    bad.write_text("<profile>")
    with pytest.raises(SchemaError, match="cannot read"):
        vendor.parse_csynth_xml(bad)


def test_find_csynth_xml_in_hls4ml_layout(tmp_path):
    (tmp_path / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n')
    assert vendor.find_csynth_xml(tmp_path) is None
    rpt = tmp_path / "myproject_prj" / "solution1" / "syn" / "report"
    rpt.mkdir(parents=True)
    shutil.copy(DATA / "vitis_hls_2023_2" / "myproject_csynth.xml", rpt)
    assert vendor.find_csynth_xml(tmp_path) == rpt / "myproject_csynth.xml"


def test_run_vendor_synthesis_needs_a_project(tmp_path):
    with pytest.raises(SchemaError, match=r"build_prj\.tcl"):
        vendor.run_vendor_synthesis(tmp_path, vendor.VendorTool("vitis_hls", "Vitis HLS"))
