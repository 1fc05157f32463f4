"""Latency/resource reports of a verified project: vendor HLS, open-source RTL, estimate."""
