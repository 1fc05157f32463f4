"""Column expressions of task files, parsed as data and never executed as code.

A label (``Photon_genPartFlav == 1``) or a selection (``el_pt > 10 & abs(el_eta) < 2.37``) is
parsed with Python's ``ast`` into a tree of a few allowed node kinds, then evaluated on numpy
columns. Allowed: column names, numbers, comparisons (``== != < <= > >=``, chained), ``&``,
``|``, ``~`` and ``and``/``or``/``not``, ``+ - * /``, unary minus, parentheses and the functions
``abs``, ``log``, ``exp``, ``sqrt``. Anything else (attributes, subscripts, calls of other
names, strings, lambdas) is refused with the expression and the offending part.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datrig.errors import SchemaError

FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "log": np.log,
    "exp": np.exp,
    "sqrt": np.sqrt,
}
_COMPARE = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_BINARY = {
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
}
MAX_LENGTH = 1000


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the columns it reads, and its tree."""

    text: str
    columns: tuple[str, ...]
    tree: ast.AST

    def __call__(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(_eval(self.tree, columns))


def parse(text: object, what: str) -> Expression:
    """``text`` as an :class:`Expression` (a column name alone is one too)."""
    if not isinstance(text, str) or not text.strip():
        raise SchemaError(f"{what} must be a column name or an expression, got {text!r}")
    if len(text) > MAX_LENGTH:
        raise SchemaError(f"{what} is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise SchemaError(f"{what} {text!r} is not a valid expression ({exc.msg})") from None
    names: list[str] = []
    _check(tree, text, what, names)
    return Expression(text, tuple(dict.fromkeys(names)), tree)


def _check(node: ast.AST, text: str, what: str, names: list[str]) -> None:
    if isinstance(node, ast.Name):
        names.append(node.id)
    elif (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        pass
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        for child in (node.left, *node.comparators):
            _check(child, text, what, names)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, text, what, names)
        _check(node.right, text, what, names)
    elif isinstance(node, ast.BoolOp):
        for child in node.values:
            _check(child, text, what, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        _check(node.operand, text, what, names)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and len(node.args) == 1
        and not node.keywords
    ):
        _check(node.args[0], text, what, names)
    else:
        part = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise SchemaError(
            f"{what} {text!r}: {part!r} is not allowed (columns, numbers, comparisons, & | ~, "
            f"+ - * /, and {', '.join(FUNCTIONS)})"
        )


def _eval(node: ast.AST, cols: dict[str, np.ndarray]) -> np.ndarray:
    if isinstance(node, ast.Name):
        return cols[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Compare):
        left, result = _eval(node.left, cols), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, cols)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return result
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, cols), _eval(node.right, cols))
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        values = [_eval(v, cols) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, cols)
        return np.negative(value) if isinstance(node.op, ast.USub) else np.logical_not(value)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return FUNCTIONS[node.func.id](_eval(node.args[0], cols))
