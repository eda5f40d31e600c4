"""A tiny expression language for guards and updates of the Quick Mode transition system.

Actions are written once as expression trees over named, bounded integer variables. Back-ends
interpret the same trees: ``to_python`` compiles them into Python source for the explicit engine,
``evaluate`` interprets them directly (the reference semantics), and a symbolic back-end (z3)
walks them with ``Expr.op`` / ``Expr.args`` (see docs/ARCHITECTURE-qm.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")

# Operators and their arity: "var" and "const" are leaves.
OPS: dict[str, int] = {
    "var": 0, "const": 0,
    "eq": 2, "ne": 2, "lt": 2, "le": 2, "add": 2,
    "and": -1, "or": -1, "not": 1, "ite": 3,
}


@dataclass(frozen=True)
class Expr:
    """One node: ``op`` from OPS, ``args`` sub-expressions, ``name`` (var) or ``value`` (const).

    Booleans are integers 0/1, so every expression has an integer value.
    """

    op: str
    args: tuple[Expr, ...] = ()
    name: str = ""
    value: int = 0

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")


def var(name: str) -> Expr:
    """A state variable of the current negotiation."""
    return Expr("var", name=name)


def const(value: int) -> Expr:
    """An integer (or boolean 0/1) constant."""
    return Expr("const", value=int(value))


TRUE = const(1)
FALSE = const(0)


def _e(x: Expr | int) -> Expr:
    return x if isinstance(x, Expr) else const(x)


def eq(a: Expr | int, b: Expr | int) -> Expr:
    return Expr("eq", (_e(a), _e(b)))


def ne(a: Expr | int, b: Expr | int) -> Expr:
    return Expr("ne", (_e(a), _e(b)))


def lt(a: Expr | int, b: Expr | int) -> Expr:
    return Expr("lt", (_e(a), _e(b)))


def le(a: Expr | int, b: Expr | int) -> Expr:
    return Expr("le", (_e(a), _e(b)))


def add(a: Expr | int, b: Expr | int) -> Expr:
    return Expr("add", (_e(a), _e(b)))


def and_(*xs: Expr) -> Expr:
    """Conjunction; ``and_()`` is true."""
    flat = tuple(x for x in xs if x != TRUE)
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else Expr("and", flat)


def or_(*xs: Expr) -> Expr:
    """Disjunction; ``or_()`` is false."""
    flat = tuple(x for x in xs if x != FALSE)
    if not flat:
        return FALSE
    return flat[0] if len(flat) == 1 else Expr("or", flat)


def not_(a: Expr) -> Expr:
    return Expr("not", (a,))


def ite(c: Expr, a: Expr | int, b: Expr | int) -> Expr:
    """If ``c`` then ``a`` else ``b``."""
    return Expr("ite", (c, _e(a), _e(b)))


def in_(a: Expr, values: Sequence[int]) -> Expr:
    """``a`` equals one of ``values``."""
    return or_(*(eq(a, v) for v in values))


def variables(expr: Expr) -> set[str]:
    """The variable names an expression reads."""
    if expr.op == "var":
        return {expr.name}
    out: set[str] = set()
    for arg in expr.args:
        out |= variables(arg)
    return out


def substitute(expr: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """``expr`` with each variable named in ``mapping`` replaced by its expression."""
    if expr.op == "var":
        return mapping.get(expr.name, expr)
    if not expr.args:
        return expr
    return Expr(expr.op, tuple(substitute(a, mapping) for a in expr.args), expr.name,
                expr.value)


class Ops(Protocol[T]):
    """The operations a back-end provides to interpret expressions (``fold``)."""

    def const(self, value: int) -> T: ...
    def eq(self, a: T, b: T) -> T: ...
    def ne(self, a: T, b: T) -> T: ...
    def lt(self, a: T, b: T) -> T: ...
    def le(self, a: T, b: T) -> T: ...
    def add(self, a: T, b: T) -> T: ...
    def and_(self, xs: Sequence[T]) -> T: ...
    def or_(self, xs: Sequence[T]) -> T: ...
    def not_(self, a: T) -> T: ...
    def ite(self, c: T, a: T, b: T) -> T: ...


def fold(expr: Expr, env: Mapping[str, T], ops: Ops[T]) -> T:
    """Interpret ``expr`` with any back-end: ``env`` maps variables to back-end values.

    With z3, ``env`` holds z3 integer (or bit-vector) variables and ``ops`` builds terms;
    booleans are then represented as the back-end chooses (e.g. z3 Bool for guards).
    """
    op = expr.op
    if op == "var":
        return env[expr.name]
    if op == "const":
        return ops.const(expr.value)
    args = [fold(a, env, ops) for a in expr.args]
    if op in ("and", "or"):
        return ops.and_(args) if op == "and" else ops.or_(args)
    if op == "not":
        return ops.not_(args[0])
    if op == "ite":
        return ops.ite(args[0], args[1], args[2])
    method: Callable[[T, T], T] = getattr(ops, op)
    return method(args[0], args[1])


def evaluate(expr: Expr, env: Mapping[str, int]) -> int:
    """Interpret ``expr`` with variable values from ``env`` (the reference semantics)."""
    op = expr.op
    if op == "var":
        return env[expr.name]
    if op == "const":
        return expr.value
    vals = [evaluate(a, env) for a in expr.args] if op != "ite" else []
    binary: dict[str, Callable[[int, int], int]] = {
        "eq": lambda x, y: int(x == y), "ne": lambda x, y: int(x != y),
        "lt": lambda x, y: int(x < y), "le": lambda x, y: int(x <= y),
        "add": lambda x, y: x + y,
    }
    if op in binary:
        return binary[op](vals[0], vals[1])
    if op == "and":
        return int(all(vals))
    if op == "or":
        return int(any(vals))
    if op == "not":
        return int(not vals[0])
    c, a, b = expr.args
    return evaluate(a, env) if evaluate(c, env) else evaluate(b, env)


def to_python(expr: Expr, slot: Mapping[str, str]) -> str:
    """Python source for ``expr``; ``slot`` maps a variable name to its source (``s[3]``)."""
    op = expr.op
    if op == "var":
        return slot[expr.name]
    if op == "const":
        return str(expr.value)
    a = [to_python(x, slot) for x in expr.args]
    infix = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "add": "+"}
    if op in infix:
        text = f"({a[0]} {infix[op]} {a[1]})"
        return text if op == "add" else f"int{text}"
    if op == "and":
        return "(" + " and ".join(f"({x})" for x in a) + ")"
    if op == "or":
        return "(" + " or ".join(f"({x})" for x in a) + ")"
    if op == "not":
        return f"int(not {a[0]})"
    return f"({a[1]} if {a[0]} else {a[2]})"


def to_text(expr: Expr) -> str:
    """A readable infix rendering, used in documentation and error messages."""
    op = expr.op
    if op == "var":
        return expr.name
    if op == "const":
        return str(expr.value)
    a = [to_text(x) for x in expr.args]
    infix = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "add": "+"}
    if op in infix:
        return f"{a[0]} {infix[op]} {a[1]}"
    if op in ("and", "or"):
        return f" {op} ".join(f"({x})" if " " in x else x for x in a)
    if op == "not":
        return f"not ({a[0]})"
    return f"({a[1]} if {a[0]} else {a[2]})"
