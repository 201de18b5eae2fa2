"""Sliding-window arithmetic on one spatial axis, and the fixes when a stride doesn't fit.

The notes' formula ``W2 = (W1 − F + 2P)/S + 1`` with F_eff = dilation·(F − 1) + 1 and the
padding split into ``before`` and ``after`` (equal unless it is an asymmetric ``same``).
"""

from __future__ import annotations

from typing import NamedTuple

MINUS = "\u2212"  # the minus sign used in every printed formula


class Axis(NamedTuple):
    """One spatial axis of a CONV, LOCAL or POOL window."""

    size: int
    f: int
    s: int
    before: int
    after: int
    dilation: int = 1

    @property
    def f_eff(self) -> int:
        return self.dilation * (self.f - 1) + 1

    @property
    def span(self) -> int:
        """W1 + 2P − F_eff: how far the window travels; negative when it does not fit at all."""
        return self.size + self.before + self.after - self.f_eff

    @property
    def remainder(self) -> int:
        return self.span % self.s

    @property
    def floor(self) -> int:
        return self.span // self.s + 1

    @property
    def ceil(self) -> int:
        """PyTorch's ceil_mode (and Caffe's pooling): ceil, minus a last window that would
        start in the padding after the input."""
        out = -(-self.span // self.s) + 1
        if (out - 1) * self.s >= self.size + self.before:
            out -= 1
        return out

    @property
    def lost(self) -> int:
        """Real input rows/columns that no window reads (floor rounding)."""
        return max(0, self.remainder - self.after)

    def formula(self) -> str:
        """``(224 − 11 + 0)/4 + 1 = 54.25``"""
        pad = self.before + self.after
        value = self.span / self.s + 1
        shown = f"{value:.2f}".rstrip("0").rstrip(".")
        return f"({self.size} {MINUS} {self.f_eff} + {pad})/{self.s} + 1 = {shown}"


def same_padding(size: int, f_eff: int, s: int) -> tuple[int, int]:
    """TensorFlow's ``same``: output ceil(W/S); the odd pixel of padding goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + f_eff - size, 0)
    return total // 2, total - total // 2


def symmetric_fix(axis: Axis, max_pad: int) -> int | None:
    """The symmetric padding nearest the current one for which the stride fits."""
    current = (axis.before + axis.after) // 2
    fits = [
        p
        for p in range(0, max_pad + 1)
        if axis.size + 2 * p - axis.f_eff >= 0 and (axis.size + 2 * p - axis.f_eff) % axis.s == 0
    ]
    return min(fits, key=lambda p: (abs(p - current), -p)) if fits else None


def layer_input_fixes(axis: Axis) -> tuple[int, int]:
    """The nearest input sizes below and above for which this layer's stride fits."""
    r = axis.remainder
    below = axis.size - r
    above = axis.size + (axis.s - r)
    return below, above


def fix_lines(axis: Axis, *, max_pad: int, in_branch: bool = False) -> list[str]:
    """Concrete fixes for one axis whose stride does not fit. ``in_branch``: the layer is in
    a branch of a merge, whose siblings fix its output size: only fixes that keep it, and no
    other input size for this layer alone."""
    lines = []
    p = symmetric_fix(axis, max_pad)
    r = axis.remainder
    if p is not None:
        fixed = Axis(axis.size, axis.f, axis.s, p, p, axis.dilation)
        lines.append(f"use P={p}: {fixed.formula()}")
    elif axis.lost == 0:
        # only padding is left unread: drop that much of the padding after the input
        fixed = axis._replace(after=axis.after - r)
        lines.append(
            f"no symmetric P fits; pad {fixed.before} before and {fixed.after} after: "
            f"{fixed.formula()}, the same output with every padded pixel read"
        )
    else:
        # real pixels are lost: pad up to the next window, keeping the padding balanced
        total = axis.before + axis.after + axis.s - r
        fixed = axis._replace(before=total // 2, after=total - total // 2)
        lines.append(
            f"no symmetric P fits; pad {total} in total ({fixed.before} before, {fixed.after} "
            f"after): {fixed.formula()}"
        )
    if in_branch and fixed.floor != axis.floor:
        lines.pop()  # it would break the merge
    if axis.s > 1:
        before, after = same_padding(axis.size, axis.f_eff, axis.s)
        same = axis._replace(before=before, after=after)
        differs = same.floor != fixed.floor or (before, after) != (fixed.before, fixed.after)
        if in_branch:  # only a padding that keeps the output, and is not the one written
            differs = same.floor == axis.floor and (before, after) != (axis.before, axis.after)
        if differs:
            lines.append(
                f"TensorFlow's padding='same' pads {before + after} ({before} before, {after} "
                f"after): {same.formula()}"
            )
    if in_branch:
        if not lines:
            lines.append(
                f"its output ({axis.floor}) must match the other branches of the merge: a fix "
                "here changes them too"
            )
        return lines
    below, above = layer_input_fixes(axis)
    choices = [
        str(v) for v in (below, above) if v >= axis.f_eff - axis.before - axis.after and v > 0
    ]
    if choices:
        lines.append(f"this layer fits an input of {' or '.join(choices)} instead of {axis.size}")
    return lines
