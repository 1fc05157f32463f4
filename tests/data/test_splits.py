from __future__ import annotations

import pytest

from datrig.data.splits import SPLITS, split_slice
from datrig.errors import DatrigError


@pytest.mark.parametrize("n", [1, 7, 10, 1000, 500_000])
def test_splits_partition_the_rows(n):
    covered = []
    for name in SPLITS:
        sl = split_slice(n, name)
        covered.extend(range(n)[sl])
    assert covered == list(range(n))
    assert split_slice(n, None) == slice(0, n)


def test_test_split_of_default_size():
    sl = split_slice(500_000, "test")
    assert (sl.start, sl.stop) == (400_000, 500_000)


def test_unknown_split():
    with pytest.raises(DatrigError, match="train, val, test"):
        split_slice(10, "bogus")
