"""``$`` expressions: what they compute, and what they refuse."""

import pytest

from archstat.config.expr import ExprError, evaluate


@pytest.mark.parametrize("text, value", [
    ("$width * 2", 32),                 # 16*2
    ("$c // 4 + 1", 17),                # 64//4 + 1
    ("$max(1, c // 128)", 1),
    ("$width if c > 32 else 0", 16),
    ("$[width, width * 2]", [16, 32]),
    ("$2 ** 10", 1024),
    ("$ceil(c / 3)", 22),               # ceil(21.33)
    ("$-width", -16),
])
def test_values(text, value):
    assert evaluate(text, {"width": 16, "c": 64}) == value


@pytest.mark.parametrize("text, message", [
    ("$__import__('os')", "calling '__import__' is not allowed"),
    ("$width.real", "attribute access not allowed"),
    ("$width[0]", "subscripts not allowed"),
    ("$(lambda: 1)()", "calling the result of an expression is not allowed"),
    ("$[x for x in [1]]", "comprehensions not allowed"),
    ("$2 ** 100", "exponent 100 is larger than 64"),
    ("$10 ** 40", "exponent 40"),  # fine exponent, but see the magnitude check below
    ("$'abc'", "only numbers and booleans"),
    ("$max(1, key=2)", "keyword arguments"),
    ("$1 / 0", "division by zero"),
    ("$nope", "undefined name 'nope'"),
    ("$", "empty expression"),
    ("$" + "(" * 300 + "1" + ")" * 300, "expression longer than 200 characters"),
    ("$" + "-" * 150 + "1", "expression has"),
    ("$" + "+".join(["1"] * 60), "expression has"),
])
def test_refusals(text, message):
    with pytest.raises(ExprError, match=None) as info:
        evaluate(text, {"width": 16})
    if message == "exponent 40":
        assert "exceeds" in str(info.value)
    else:
        assert message in str(info.value)


def test_nesting_limit():
    text = "$" + "(" * 25 + "1" + ")" * 25
    assert evaluate(text, {}) == 1   # parentheses add no AST levels
    deep = "$" + "abs(" * 25 + "1" + ")" * 25
    with pytest.raises(ExprError, match="nested deeper than 20"):
        evaluate(deep, {})


def test_magnitude_is_bounded():
    with pytest.raises(ExprError, match="exceeds"):
        evaluate("$(2 ** 60) * (2 ** 60)", {})
