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


class BinOp(NamedTuple):
    op: str  # + - * // %
    left: Expr
    right: Expr
    span: Span


class Neg(NamedTuple):
    operand: Expr
    span: Span


Expr = IntLit | Name | BinOp | Neg


class Num(NamedTuple):
    """A number with a fraction or exponent (``p=0.5``, ``alpha=1e-4``)."""

    value: float
    span: Span


class Pair(NamedTuple):
    """``(width, height)``."""

    w: Expr
    h: Expr
    span: Span


ValueExpr = IntLit | Name | BinOp | Neg | Num | Pair


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
