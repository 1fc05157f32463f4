"""Embedded toy calorimeter: photon candidates (prompt photons, jet fakes) and diphoton events."""
