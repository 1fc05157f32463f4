"""The exported firmware project as a typed artefact: firmware config, metadata, network
inputs, the C-simulation library and the emulator-vs-C-sim verification.

Everything after export (firmware reports, validation, calibration, scans) reads a project
through :class:`datrig.project.meta.FirmwareProject`; export writes one through
:mod:`datrig.project.store`. This package sits below both, so neither reaches into the other.
"""
