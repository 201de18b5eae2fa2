"""The option values every command parses: sizes, shapes, integers, NAME=VALUE
assignments and rule codes, each refused with a message that quotes what was typed."""

from __future__ import annotations

import re
from typing import Any

import click

from .. import limits
from ..errors import Severity
from ..frontend.spec_schema import parse_shape
from ..records import Shape
from ..rules.lint import unknown_codes
from ..units import parse_size

#: --budget and --max-memory: from 1 byte to 2^60 bytes (1 EiB, 1,048,576 TiB).
MAX_BYTES = 1 << 60
#: --seed: what NumPy's default_rng takes, up to 64 bits.
MAX_SEED = (1 << 64) - 1


def shown(value: str, width: int = 40) -> str:
    """An option's value quoted for an error message, cut in the middle when it is long."""
    if len(value) <= width:
        return repr(value)
    return f"{value[:20] + '…' + value[-12:]!r} ({len(value):,} characters)"


class IntegerRange(click.IntRange):
    """click's IntRange, which also refuses an integer too long to convert (Python refuses
    more than 4,300 digits) as out of range, without echoing it whole."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            # int() also reads other scripts' digits ('３'); an option takes ASCII ones
            self.fail(f"{shown(value)} is not a valid integer (ASCII digits 0-9).", param, ctx)
        if isinstance(value, str) and len(value.strip()) > 40:
            if re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
                self.fail(
                    f"{shown(value)} is not in the range {self.min}<=x<={self.max}.", param, ctx
                )
            self.fail(f"{shown(value)} is not a valid integer.", param, ctx)
        return super().convert(value, param, ctx)


def shape_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Shape | None:
    """``--input 224x224x3``"""
    if value is None:
        return None
    if re.search(r"[1-9]\d{9,}", value):  # 10 digits or more: over the limit, however many
        raise click.BadParameter(f"{shown(value)}: sizes are limited to {limits.MAX_SIZE:,}")
    try:
        return parse_shape(value)
    except ValueError as exc:
        raise click.BadParameter(f"{shown(value)}: {exc}") from None


def budget_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``--budget 12GiB``, ``--max-memory 4GiB``: 1 byte to :data:`MAX_BYTES`."""
    if value is None:
        return None
    try:
        size: int | None = parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).replace(repr(value), shown(value))) from None
    except OverflowError:  # a number too large for a float
        size = None
    if size is None or not 1 <= size <= MAX_BYTES:
        raise click.BadParameter(
            f"{shown(value)}: sizes go from 1 byte to 2^60 bytes (1,048,576 TiB)"
        )
    return size


def assignments_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int | bool]:
    """``--set N=3 --set pool=false``"""
    result: dict[str, int | bool] = {}
    for value in values:
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*=\s*(\S+)\s*", value)
        if m is None:
            raise click.BadParameter(f"{shown(value)}: expected NAME=VALUE, like N=3 or pool=false")
        name, text = m.groups()
        if text.lower() in ("true", "false"):
            result[name] = text.lower() == "true"
            continue
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise click.BadParameter(
                f"{shown(value)}: the value must be an integer or true/false"
            ) from None
        # at most 13 significant digits before converting: 2^40 has 13
        number = int(text) if len(text.lstrip("+-").lstrip("0")) <= 13 else None
        if number is None or abs(number) > limits.MAX_INT:
            raise click.BadParameter(
                f"{shown(value)}: integers are limited to ±2^40 ({limits.MAX_INT:,}), as in a spec"
            )
        result[name] = number
    return result


def codes_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> frozenset[str] | None:
    """``--ignore CC504,CC506 --ignore CC5``: codes or prefixes, checked against the catalogue."""
    if not values:
        return None
    codes = frozenset(c.strip().upper() for v in values for c in v.split(",") if c.strip())
    bad = unknown_codes(sorted(codes))
    if bad:
        raise click.BadParameter(f"no rule is {', '.join(bad)} (see `convcalc rules`)")
    return codes


def severity_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Severity]:
    """``--severity CC502=error``"""
    result = {}
    for value in values:
        m = re.fullmatch(r"\s*(CC\d{0,3})\s*=\s*(error|warning|info)\s*", value, re.I)
        if m is None:
            raise click.BadParameter(f"{shown(value)}: expected CODE=LEVEL, like CC502=error")
        code = m.group(1).upper()
        if unknown_codes([code]):
            raise click.BadParameter(f"no rule is {code} (see `convcalc rules`)")
        result[code] = Severity.parse(m.group(2))
    return result
