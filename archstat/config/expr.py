"""``$`` expressions: a small arithmetic language over a whitelisted AST, never ``eval``.

A string value that starts with ``$`` is an expression: ``$out``, ``$width * 2``,
``$max(1, c // 4)``. Allowed: names bound in scope, int/float/bool literals,
``+ - * / // % **``, unary ``- +``, comparisons, ``a if cond else b``,
``and or not``, lists/tuples, and calls to ``min max abs int round ceil floor``.
Everything else (attributes, subscripts, lambdas, comprehensions, keyword
arguments, strings) is refused with a message naming the construct.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from collections.abc import Callable
from typing import Any, NoReturn

MAX_EXPR_CHARS = 200
MAX_EXPR_NODES = 100
MAX_EXPR_DEPTH = 20
MAX_ABS_VALUE = 10**30   # any intermediate beyond this is refused, never overflowed
MAX_EXPONENT = 64
MAX_NDIGITS = 40         # round(x, n): |n| beyond this is refused (the cost of round grows with n)


class ExprError(ValueError):
    """An expression is malformed or refused; the message is for the user."""


_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "int": int, "round": round,
    "ceil": math.ceil, "floor": math.floor,
}
_NAMES = {  # what the user wrote, by AST class, for refusals
    "Attribute": "attribute access", "Subscript": "subscripts", "Lambda": "lambdas",
    "ListComp": "comprehensions", "SetComp": "comprehensions", "DictComp": "comprehensions",
    "GeneratorExp": "comprehensions", "Dict": "dict literals", "Set": "set literals",
    "Starred": "star arguments", "NamedExpr": "assignments", "JoinedStr": "f-strings",
    "Await": "await", "Yield": "yield", "YieldFrom": "yield",
}


def is_expression(value) -> bool:
    return isinstance(value, str) and value.startswith("$")


def evaluate(text: str, env: dict):
    """Evaluate ``text`` (with or without its leading ``$``) with the names in ``env``."""
    source = text[1:] if text.startswith("$") else text
    source = source.strip()
    if not source:
        raise ExprError("empty expression after '$'")
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters")
    return _Evaluator(env, source).eval(_parse(source), 0)


@functools.lru_cache(maxsize=4096)
def _parse(source: str) -> ast.expr:
    """Parse and size-check once per distinct expression (a repeated block evaluates the same text)."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"bad expression '{source}': {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExprError(f"expression nested deeper than {MAX_EXPR_DEPTH} levels") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_EXPR_NODES:
        raise ExprError(f"expression has {count} parts; the limit is {MAX_EXPR_NODES}")
    return tree.body


class _Evaluator:
    def __init__(self, env: dict, source: str):
        self.env = env
        self.source = source

    def eval(self, node, depth: int):
        """The value of ``node``: one handler per AST node type (``_HANDLERS``); any other is refused."""
        if depth > MAX_EXPR_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_EXPR_DEPTH} levels")
        handler = _HANDLERS.get(type(node))
        if handler is None:
            self.refuse(node)
        return handler(self, node, depth + 1)

    def refuse(self, node) -> NoReturn:
        what = _NAMES.get(type(node).__name__, type(node).__name__)
        raise ExprError(f"{what} not allowed in expressions")

    def constant(self, node: ast.Constant, d: int):
        if isinstance(node.value, (bool, int, float)):
            return self.check(node.value)
        raise ExprError(f"only numbers and booleans may appear in an expression, not {node.value!r}")

    def name(self, node: ast.Name, d: int):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in self.env:
            known = sorted(self.env)
            from archstat.errors import did_you_mean

            guess = did_you_mean(node.id, known)
            hint = f" (did you mean '{guess}'?)" if guess else (
                f" (known: {', '.join(known)})" if known else " (no names are declared here)")
            raise ExprError(f"undefined name '{node.id}' in '${self.source}'{hint}")
        return self.env[node.id]

    def binop(self, node: ast.BinOp, d: int):
        if type(node.op) not in _BINOPS:
            self.refuse(node)
        left, right = self.eval(node.left, d), self.eval(node.right, d)
        self.number(left), self.number(right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ExprError(f"exponent {right} is larger than {MAX_EXPONENT}")
        try:
            return self.check(_BINOPS[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ExprError(f"division by zero in '${self.source}'") from None
        except OverflowError:
            raise ExprError(f"'${self.source}' overflows") from None

    def unaryop(self, node: ast.UnaryOp, d: int):
        value = self.eval(node.operand, d)
        if isinstance(node.op, ast.USub):
            return self.check(-self.number(value))
        if isinstance(node.op, ast.UAdd):
            return self.number(value)
        if isinstance(node.op, ast.Not):
            return not value
        return self.refuse(node)

    def boolop(self, node: ast.BoolOp, d: int):
        values = [self.eval(v, d) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)

    def compare(self, node: ast.Compare, d: int):
        if not all(type(op) in _CMPOPS for op in node.ops):
            self.refuse(node)
        left = self.eval(node.left, d)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp, d)
            self.comparable(left, right, op)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def ifexp(self, node: ast.IfExp, d: int):
        return self.eval(node.body, d) if self.eval(node.test, d) else self.eval(node.orelse, d)

    def sequence(self, node: ast.List | ast.Tuple, d: int):
        return [self.eval(elt, d) for elt in node.elts]

    def call(self, node: ast.Call, d: int):
        if isinstance(node.func, ast.Attribute):
            raise ExprError("attribute access not allowed in expressions")
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            what = f"'{node.func.id}'" if isinstance(node.func, ast.Name) else "the result of an expression"
            raise ExprError(f"calling {what} is not allowed; only {', '.join(_FUNCS)}")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed in expressions")
        args = [self.eval(a, d) for a in node.args]
        for a in args:
            self.number(a)
        if node.func.id == "round" and len(args) == 2:
            if not isinstance(args[1], int) or abs(args[1]) > MAX_NDIGITS:
                raise ExprError(f"round(): the number of digits must be an integer between -{MAX_NDIGITS} "
                                f"and {MAX_NDIGITS}, got {args[1]!r}")
        try:
            return self.check(_FUNCS[node.func.id](*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None

    def number(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"expected a number in '${self.source}', got {value!r}")
        return value

    def comparable(self, left, right, op) -> None:
        """Numbers compare with numbers; text (a str param) only for equality with text."""
        nums = all(isinstance(v, (int, float)) for v in (left, right))
        texts = all(isinstance(v, str) for v in (left, right)) and isinstance(op, (ast.Eq, ast.NotEq))
        if not (nums or texts):
            raise ExprError(f"cannot compare {_kind(left)} with {_kind(right)} in '${self.source}'")

    def check(self, value):
        if isinstance(value, complex):
            raise ExprError(f"'${self.source}' is not a real number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ExprError(f"'${self.source}' is not a finite number")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_ABS_VALUE:
            raise ExprError(f"'${self.source}' exceeds {MAX_ABS_VALUE:.0e} in magnitude")
        return value


_HANDLERS: dict[type[ast.AST], Callable[[_Evaluator, Any, int], Any]] = {
    ast.Constant: _Evaluator.constant, ast.Name: _Evaluator.name, ast.BinOp: _Evaluator.binop,
    ast.UnaryOp: _Evaluator.unaryop, ast.BoolOp: _Evaluator.boolop, ast.Compare: _Evaluator.compare,
    ast.IfExp: _Evaluator.ifexp, ast.List: _Evaluator.sequence, ast.Tuple: _Evaluator.sequence,
    ast.Call: _Evaluator.call,
}


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__
