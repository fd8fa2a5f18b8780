"""Published-vs-computed: precision from the figure's own digits; never bent."""

import pytest

from archstat.analyze.references import round_significant, significant_digits


@pytest.mark.parametrize("raw, digits", [
    ("138e6", 3), ("24e6", 2), ("15.47e9", 4), ("138357544", 9), ("60000", 1), ("0.714e9", 3),
    ("1.50e9", 3), ("6_998_552", 7),
])
def test_significant_digits(raw, digits):
    assert significant_digits(raw) == digits


def test_round_significant():
    assert round_significant(138_344_128, 3) == 138_000_000
    assert round_significant(15_237_608, 2) == 15_000_000      # not 24M
    assert round_significant(15_470_264_320, 4) == 15_470_000_000
    assert round_significant(854_196_224, 3) == 854_000_000
    assert round_significant(271_351_808, 3) == 271_000_000    # not the slide's 358M
    assert round_significant(995, 2) == 1000                  # carries into a new digit
