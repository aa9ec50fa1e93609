"""The cap on what a file may make profondo allocate, and the bounded reprs of error messages."""

from __future__ import annotations

import numpy as np
import pytest

from profondo.backend import limits
from profondo.backend.limits import (
    FileFormatError,
    ResourceLimitError,
    check_allocation,
    limited_growth,
    max_file_bytes,
    set_max_file_bytes,
    short_repr,
)


def test_the_cap_comes_from_the_environment_or_the_function(monkeypatch):
    for value, expected in (("4G", 4 * 2**30), ("512MiB", 512 * 2**20), ("1000", 1000)):
        monkeypatch.setattr(limits, "_max_bytes", None)  # read the environment again
        monkeypatch.setenv("PROFONDO_MAX_FILE_BYTES", value)
        assert max_file_bytes() == expected
    monkeypatch.setattr(limits, "_max_bytes", None)
    monkeypatch.delenv("PROFONDO_MAX_FILE_BYTES")
    assert max_file_bytes() == 16 * 2**30
    previous = set_max_file_bytes(1234)
    try:
        assert max_file_bytes() == 1234
        with pytest.raises(ValueError, match="expected a positive int or None"):
            set_max_file_bytes(0)
    finally:
        set_max_file_bytes(previous)


def test_a_bad_environment_value_says_what_it_expected(monkeypatch):
    monkeypatch.setattr(limits, "_max_bytes", None)
    monkeypatch.setenv("PROFONDO_MAX_FILE_BYTES", "lots")
    with pytest.raises(ValueError, match="PROFONDO_MAX_FILE_BYTES: expected a positive number of bytes such as 4G"):
        max_file_bytes()


def test_check_allocation_against_the_file_and_the_cap():
    assert check_allocation(100, "w", available=100) == 100
    with pytest.raises(ResourceLimitError, match="w declares 101 bytes, but the file holds only 100 bytes"):
        check_allocation(101, "w", available=100)
    with pytest.raises(ResourceLimitError, match="w needs 4 TiB, more than the limit of 16 GiB"):
        check_allocation(2**42, "w")
    with pytest.raises(FileFormatError, match="negative size"):
        check_allocation(-1, "w")
    assert issubclass(ResourceLimitError, FileFormatError) and issubclass(FileFormatError, ValueError)


def test_limited_growth_refuses_an_allocation_past_the_cap_at_once():
    previous = set_max_file_bytes(64 * 2**20)
    try:
        with pytest.raises(ResourceLimitError, match="layer 3: needs more memory than the limit of 64 MiB"):
            with limited_growth("layer 3:"):
                np.ones((2**30,), np.float32)
        with limited_growth("inner"), limited_growth("nested: changes nothing"):
            assert np.ones(2**20).sum() == 2**20
    finally:
        set_max_file_bytes(previous)
    assert np.ones(2**27, np.uint8).size == 2**27  # the limit is gone afterwards


def test_a_budget_lowers_the_limit_for_one_piece_of_work():
    with pytest.raises(ResourceLimitError, match="check: needs more memory than the limit of 64 MiB set for this work"):
        with limited_growth("outer", budget=64 * 2**20), limited_growth("check:"):
            np.ones((2**28,), np.float32)
    assert np.ones(2**27, np.uint8).size == 2**27  # gone afterwards, and the cap is back for the next one
    with limited_growth("no budget"):
        assert np.ones(2**27, np.uint8).size == 2**27


def test_short_repr_bounds_what_it_shows():
    shared = [0] * 10
    for _ in range(30):  # 10**30 elements as a tree of shared lists
        shared = [shared] * 10
    assert len(short_repr(shared)) < 400
    assert short_repr("x" * 10**6).startswith("'xxx") and len(short_repr("x" * 10**6)) < 80
    assert short_repr({"a": 1}) == "{'a': 1}"
