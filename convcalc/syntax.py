"""The pattern AST: frozen dataclasses, each node with the span it was parsed from."""

from __future__ import annotations

from dataclasses import dataclass

from .source import Span


@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * // %
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span


Expr = IntLit | Name | BinOp | Neg


@dataclass(frozen=True)
class Num:
    """A number with a fraction or exponent (``p=0.5``, ``alpha=1e-4``)."""

    value: float
    span: Span


@dataclass(frozen=True)
class Pair:
    """``(width, height)``."""

    w: Expr
    h: Expr
    span: Span


ValueExpr = IntLit | Name | BinOp | Neg | Num | Pair


@dataclass(frozen=True)
class Arg:
    key: str | None
    value: ValueExpr
    span: Span
    key_span: Span | None = None


@dataclass(frozen=True)
class Layer:
    type: str
    args: tuple[Arg, ...]
    span: Span  # the type token (or the sugar token)
    label: str | None = None
    sugar: bool = False


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class Group:
    chain: Chain
    span: Span


@dataclass(frozen=True)
class Merge:
    kind: str  # ADD, CAT or RES
    branches: tuple[Chain, ...]
    span: Span  # the keyword
    label: str | None = None


Term = Layer | Call | Group | Merge


@dataclass(frozen=True)
class Binding:
    name: str
    values: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    bindings: tuple[Binding, ...]
    span: Span


@dataclass(frozen=True)
class Optional:
    name: str | None
    span: Span


@dataclass(frozen=True)
class Stage:
    term: Term
    repeat: Repeat | None
    optional: Optional | None
    span: Span


@dataclass(frozen=True)
class Chain:
    stages: tuple[Stage, ...]
    span: Span


@dataclass(frozen=True)
class Param:
    name: str
    default: ValueExpr | None
    span: Span


@dataclass(frozen=True)
class BlockHeader:
    name: str
    params: tuple[Param, ...]
    span: Span
