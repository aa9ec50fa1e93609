"""Encoders: fixed sparsity, overlap that falls with distance, periodic wrap, dates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from profondo.unsupervised.htm import CategoryEncoder, DateEncoder, ScalarEncoder


def test_scalar_encoder_overlap_falls_with_distance():
    enc = ScalarEncoder(0, 100, size=100, active_bits=11)
    codes = [enc.encode(v) for v in (10, 12, 30, 90)]
    assert all(c.sum() == 11 for c in codes)
    overlap = [int((codes[0] & c).sum()) for c in codes]
    assert overlap[0] == 11 > overlap[1] > overlap[2] == overlap[3] == 0
    np.testing.assert_array_equal(enc.encode(-5), enc.encode(0))  # clipped
    assert enc.encode(100).nonzero()[0][-1] == 99
    with pytest.raises(ValueError, match="maximum > minimum"):
        ScalarEncoder(1, 1)
    with pytest.raises(ValueError, match="cannot encode"):
        enc.encode(float("nan"))


def test_periodic_scalar_wraps_around():
    enc = ScalarEncoder(0, 24, size=48, active_bits=5, periodic=True)
    assert (enc.encode(23.9) & enc.encode(0.1)).sum() > 0
    assert enc.encode(23.9).sum() == 5


def test_category_and_date_encoders():
    enc = CategoryEncoder("abc", active_bits=4)
    a, b, unknown = enc.encode("a"), enc.encode("b"), enc.encode("z")
    assert enc.size == 16 and a.sum() == b.sum() == 4 and not (a & b).any() and unknown[:4].all()
    dates = DateEncoder(season=True, active_bits=5, size=50)
    monday_9, monday_10 = dates.encode(dt.datetime(2024, 1, 1, 9)), dates.encode(dt.datetime(2024, 1, 1, 10))
    saturday = dates.encode(dt.datetime(2024, 1, 6, 9))
    assert dates.size == len(monday_9) and monday_9.sum() == 5 * 4
    assert (monday_9 & monday_10).sum() > (monday_9 & saturday).sum()
