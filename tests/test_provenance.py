from __future__ import annotations

import hashlib

from datrig.provenance import file_sha256, sidecar


def test_sidecar_hashes_inputs(tmp_path):
    f = tmp_path / "in.bin"
    f.write_bytes(b"x" * 3_000_000)
    assert file_sha256(f) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    record = sidecar(stage="test", seed=7, inputs={"data": f}, extra_key=1)
    assert record["inputs"]["data"]["sha256"] == file_sha256(f)
    assert record["seed"] == 7 and record["extra_key"] == 1
    assert record["versions"]["numpy"] != "not installed"
