"""Evaluating pattern expressions and checking layer arguments.

Names resolve in an environment of ``vars`` (with ``--set``), block parameters and ``over``
bindings. Arithmetic is on integers; every result is bounded so that no expression can grow
without limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .. import limits
from ..errors import FindingError, Location, did_you_mean, excerpt
from ..layers.base import ParamSpec
from ..records import ArgValue
from ..rules.catalogue import finding
from ..source import Span, digit_hint
from .keywords import WORDS
from .syntax import Expr, IntLit, Name, Neg, Num, Pair, ValueExpr

Env = Mapping[str, ArgValue]


def fail(code: str, message: str, span: Span, help: str | None = None) -> FindingError:
    return FindingError(finding(code, message, Location.of(span), help=help))


def show(value: ArgValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"({value[0]}, {value[1]})"
    return str(value)


def unbound(name: Name, env: Env) -> FindingError:
    return fail(
        "CC109",
        f"unbound variable `{name.name}`{did_you_mean(name.name, env)}",
        name.span,
        help=f"define it under `vars:` (vars: {{{name.name}: 2}}) or pass --set {name.name}=2",
    )


def evaluate(expr: Expr, env: Env) -> int:
    """The integer value of an expression. A chain of operators is a loop, so only
    parentheses (at most ``limits.MAX_NESTING`` deep) nest the calls."""
    if isinstance(expr, IntLit):
        return _bounded(expr.value, expr.span)
    if isinstance(expr, Name):
        if expr.name not in env:
            if expr.name in ("true", "false"):
                return int(expr.name == "true")
            raise unbound(expr, env)
        value = env[expr.name]
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int):
            raise fail("CC114", f"`{expr.name}` is {show(value)}, not an integer", expr.span)
        return value
    if isinstance(expr, Neg):
        return -evaluate(expr.operand, env)
    value = evaluate(expr.first, env)
    for op, operand, end in expr.steps:
        right = evaluate(operand, env)
        if op == "+":
            value += right
        elif op == "-":
            value -= right
        elif op == "*":
            value *= right  # both at most 2**40: the product is small enough to compute
        elif right == 0:
            span = expr.upto(end)
            raise fail("CC114", f"division by zero in `{excerpt(span.text)}`", span)
        elif op == "//":
            value //= right
        else:
            value %= right
        if abs(value) > limits.MAX_INT:
            raise _too_large(expr.upto(end))
    return value


def _too_large(span: Span) -> FindingError:
    return fail("CC126", f"`{excerpt(span.text)}` is larger than {limits.MAX_INT:,}", span)


def _bounded(value: int, span: Span) -> int:
    if abs(value) > limits.MAX_INT:
        raise _too_large(span)
    return value


def evaluate_value(expr: ValueExpr, env: Env, *, words: bool = True) -> ArgValue:
    """An argument value: integer, number, word, boolean or (width, height) pair."""
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Pair):
        return evaluate(expr.w, env), evaluate(expr.h, env)
    if isinstance(expr, Name) and expr.name not in env and words and expr.name in WORDS:
        return {"true": True, "false": False}.get(expr.name, expr.name)
    if isinstance(expr, Name) and expr.name in env:
        return env[expr.name]
    return evaluate(expr, env)


def check_arg(layer: str, spec: ParamSpec, value: ArgValue, span: Span) -> ArgValue:
    """Validate one argument against its declaration; normalise ints to pairs where needed."""
    kind = spec.kind

    def bad(expected: str, hint: str | None = None) -> FindingError:
        if hint is None and isinstance(value, str):
            hint = digit_hint(value)
        return fail(
            "CC111",
            f"{layer} argument {spec.name}={excerpt(show(value))}: expected {expected}",
            span,
            help=hint,
        )

    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        hint = did_you_mean(str(value), ("true", "false")).removeprefix("; ") or None
        raise bad("true or false", hint)
    if kind == "choice":
        if isinstance(value, str) and value in spec.choices:
            return value
        hint = did_you_mean(str(value), spec.choices).removeprefix("; ") or None
        raise bad(", ".join(spec.choices[:-1]) + f" or {spec.choices[-1]}", hint)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if not math.isfinite(value):  # .inf or .nan from YAML
            raise bad("a finite number")
        high = spec.maximum
        if value < spec.minimum or (high is not None and value > high):
            bounds = (
                f"between {spec.minimum:g} and {high:g}"
                if high is not None
                else f"at least {spec.minimum:g}"
            )
            raise bad(f"a number {bounds}")
        return float(value)
    if kind == "pad" and isinstance(value, str):
        if value in ("same", "valid"):
            return value
        raise bad(
            "an integer, a (width, height) pair, same or valid",
            did_you_mean(value, ("same", "valid")).removeprefix("; ") or None,
        )
    if kind in ("pair", "pad") and isinstance(value, tuple):
        return (_size(layer, spec, value[0], span), _size(layer, spec, value[1], span))
    if isinstance(value, bool) or not isinstance(value, int):
        what = "an integer" if kind == "int" else "an integer or a (width, height) pair"
        if kind == "pad":
            what = "an integer, a (width, height) pair, same or valid"
        raise bad(what)
    number = _size(layer, spec, value, span)
    return (number, number) if kind in ("pair", "pad") else number


def _size(layer: str, spec: ParamSpec, value: int, span: Span) -> int:
    if value < spec.minimum:
        raise fail(
            "CC111",
            f"{layer} argument {spec.name}={value}: must be at least {spec.minimum:g}",
            span,
        )
    if value > limits.MAX_SIZE:
        raise fail(
            "CC126",
            f"{layer} argument {spec.name}={value:,} is larger than the limit of "
            f"{limits.MAX_SIZE:,}",
            span,
        )
    return value
