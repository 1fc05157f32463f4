"""Figures of merit shared by training, validation, calibration and scans: one definition each.

``classifier``: ROC, working points, rejection, JSD, significance. ``decorrelation``: distance
correlation (raw and on ranks), binned efficiencies and flatness, and the ABCD factor of the
isolation x ID double sideband, per bin of pT.
"""
