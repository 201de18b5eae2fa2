"""The pattern AST: immutable NamedTuples (cheap to create at start-up), each node with the span
it was parsed from."""

from __future__ import annotations

from typing import NamedTuple

from ..source import Span


class IntLit(NamedTuple):
    value: int
    span: Span


class Name(NamedTuple):
    name: str
    span: Span


class Step(NamedTuple):
    """One operator of an :class:`Arith` and its right operand; ``end`` is where the operand
    ends, so an error in this step quotes the expression from its start up to there."""

    op: str  # + - * // %
    operand: Expr
    end: int


class Arith(NamedTuple):
    """Operators of one precedence applied left to right, ``first (op operand)*``: a sum of
    products, or a product of factors. Flat, so a sum of 100,000 terms is a loop to evaluate,
    not a tree 100,000 levels deep; ``ops`` counts every operator inside, nested ones too."""

    first: Expr
    steps: tuple[Step, ...]
    span: Span
    ops: int

    def upto(self, end: int) -> Span:
        """The expression from its start to ``end`` (a step's end)."""
        return Span(self.span.source, self.span.start, end)


class Neg(NamedTuple):
    operand: Expr
    span: Span
    ops: int  # this minus and the operators of its operand


Expr = IntLit | Name | Arith | Neg


class Num(NamedTuple):
    """A number with a fraction or exponent (``p=0.5``, ``alpha=1e-4``)."""

    value: float
    span: Span


class Pair(NamedTuple):
    """``(width, height)``."""

    w: Expr
    h: Expr
    span: Span


ValueExpr = IntLit | Name | Arith | Neg | Num | Pair


def operators(value: ValueExpr | None) -> int:
    """How many operators evaluating a value applies (expansion counts them as steps)."""
    if isinstance(value, (Arith, Neg)):
        return value.ops
    if isinstance(value, Pair):
        return operators(value.w) + operators(value.h)
    return 0


class Arg(NamedTuple):
    key: str | None
    value: ValueExpr
    span: Span
    key_span: Span | None = None


class Layer(NamedTuple):
    type: str
    args: tuple[Arg, ...]
    span: Span  # the type token (or the sugar token)
    label: str | None = None
    sugar: bool = False
    label_span: Span | None = None  # `@label`


class Call(NamedTuple):
    name: str
    args: tuple[Arg, ...]
    span: Span


class Group(NamedTuple):
    chain: Chain
    span: Span


class Merge(NamedTuple):
    kind: str  # ADD, CAT, MUL or RES
    branches: tuple[Chain, ...]
    span: Span  # the keyword
    label: str | None = None
    label_span: Span | None = None  # `@label`


Term = Layer | Call | Group | Merge


class Binding(NamedTuple):
    name: str
    values: tuple[Expr, ...]
    span: Span


class Repeat(NamedTuple):
    times: Expr
    bindings: tuple[Binding, ...]
    span: Span


class Maybe(NamedTuple):
    """``X?`` (bare), ``X?name`` or ``X?(expr)``: present when the name or expression is
    true or non-zero."""

    name: str | None
    span: Span
    condition: Expr | None = None


class Stage(NamedTuple):
    term: Term
    repeat: Repeat | None
    optional: Maybe | None
    span: Span


class Chain(NamedTuple):
    stages: tuple[Stage, ...]
    span: Span


class Param(NamedTuple):
    name: str
    default: ValueExpr | None
    span: Span


class BlockHeader(NamedTuple):
    name: str
    params: tuple[Param, ...]
    span: Span
