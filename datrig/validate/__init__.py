"""Physics validation of trained and deployed models: metrics, baselines, plots, report.

Everything here reads the QAT run artefacts (``predictions_test.h5``) and, for the firmware
column, the bit-accurate emulator's outputs; nothing here trains the networks under test.
"""
