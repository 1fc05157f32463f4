"""Brevitas -> QONNX -> verified hls4ml projects (``datrig export`` / ``datrig import``)."""
