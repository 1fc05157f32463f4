"""Quantized (Brevitas) model definitions and the registry of named models."""
