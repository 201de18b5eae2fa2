"""Window and stride findings (CC2xx), and the window arguments a layer cannot take (CC111).

The analysis hands over each windowed layer's two axes: a window that does not fit stops the
walk (CC203), as do padding over the layer's limit (CC111), groups that do not divide the
channels (CC207) and a TCONV out_pad too large (CC111). A stride that does not fit is CC201 or
CC202, pending until the whole-network search has found input sizes that fit; a SLICE
outside the channels stops it too (CC209); framework
rounding (CC205), strides larger than the window (CC204), asymmetric `same` padding (CC206)
and adaptive pools larger than their input (CC208) are notes.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import Finding, FindingError, Location, Severity
from ..expansion.graph import LayerNode, trace_text
from ..layers.base import LayerType, integer, pair
from ..layers.geometry import MINUS, Axis, fix_lines
from ..layers.resizing import Slice
from ..layers.windowed import TConv
from ..records import Args, Shape
from .nodes import AXES, at, stop

UNITS = ("column", "row")


class Pending(NamedTuple):
    """A CC201/CC202 whose help waits for the whole-network search."""

    code: str
    severity: Severity
    message: str
    location: Location
    help: list[str]
    layer: str
    note: str | None
    axes: tuple[int, ...]

    def complete(self, extra: str | None) -> Finding:
        """The finding, with the search's suggestion (if any) as the last line of help."""
        help = [*self.help, extra] if extra else self.help
        return Finding(
            self.code,
            self.severity,
            self.message,
            self.location,
            "\n".join(help),
            self.layer,
            self.note,
        )


def check_window(
    node: LayerNode, layer: LayerType, axes: tuple[Axis, Axis], ceil: bool = False
) -> None:
    """CC203: a window larger than the padded input (rounding up, PyTorch's ceil_mode: one
    that would hang over it by the stride or more); CC111: padding over the layer's limit."""
    for i, axis in enumerate(axes):
        if ceil and axis.ceil < 1:
            pad = axis.before + axis.after
            raise stop(
                node,
                "CC203",
                f"the {AXES[i]} would be ⌈({axis.size} {MINUS} {axis.f_eff} + {pad})/{axis.s}⌉ "
                f"+ 1 = {axis.ceil} < 1".replace("-", MINUS)
                + f": a window of {axis.f_eff} does not fit in {axis.size} + {pad} padding, "
                f"even hanging over by less than the stride",
                help="pad more, use a smaller filter, or remove a pooling layer before this",
            )
        if not ceil and axis.span < 0:
            raise stop(
                node,
                "CC203",
                f"the {AXES[i]} would be {axis.formula()} < 1: a window of {axis.f_eff} "
                f"does not fit in {axis.size} + {axis.before + axis.after} padding",
                help="pad more, use a smaller filter, or remove a pooling layer before this",
            )
    for i, axis in enumerate(axes):
        limit = layer.padding_limit(axis)
        if limit is not None and max(axis.before, axis.after) > limit:
            raise stop(
                node,
                "CC111",
                f"padding {max(axis.before, axis.after)} is "
                f"more than half the window ({axis.f}) along the {AXES[i]}",
                help=f"use P ≤ {limit}",
            )


def window_findings(
    node: LayerNode,
    layer: LayerType,
    args: Args,
    axes: tuple[Axis, Axis],
    ceil: bool,
    rounding: str,
    in_branch: bool = False,
) -> tuple[list[Finding], Pending | None]:
    """The notes about a window that fits (CC205, CC204, CC206), and a stride that does not."""
    found = []
    pending = None
    bad = tuple(i for i in (0, 1) if axes[i].remainder)
    if bad and ceil and rounding != "strict":  # strict: a misfit is an error, rounding or not
        differ = [i for i in bad if axes[i].ceil != axes[i].floor]
        if differ:
            parts = [
                f"{AXES[i]} {axes[i].formula()}: ceil gives {axes[i].ceil}, floor {axes[i].floor}"
                for i in differ
            ]
            found.append(at(
                node,
                "CC205",
                "the size depends on the framework's rounding: " + "; ".join(parts),
                help="PyTorch ceil_mode=True and Caffe round up; Keras, TensorFlow and "
                "PyTorch's default round down. Pad so the stride fits to agree everywhere",
            ))  # fmt: skip
    elif bad and not sound(node, axes, bad, rounding):
        pending = stride_finding(node, layer, axes, bad, rounding, in_branch)
    for i in (0, 1):
        if axes[i].s > axes[i].f_eff and node.type != "SKIP":  # a projection's 1×1 stride 2
            found.append(at(
                node,
                "CC204",
                f"stride {axes[i].s} is larger than the window "
                f"{axes[i].f_eff} along the {AXES[i]}: input pixels between windows "
                "are never read",
            ))  # fmt: skip
            break
    if args.get("P") == "same" and any(a.before != a.after for a in axes):
        pads = ", ".join(
            f"{AXES[i]} {a.before} before and {a.after} after"
            for i, a in enumerate(axes)
            if a.before != a.after
        )
        found.append(at(
            node,
            "CC206",
            f"`same` padding is asymmetric here ({pads})",
            help="TensorFlow pads the extra pixel after, PyTorch's padding='same' "
            "refuses strides above 1, and Caffe cannot express it; an odd filter at "
            "stride 1 keeps it symmetric",
        ))  # fmt: skip
    return found, pending


def sound(node: LayerNode, axes: tuple[Axis, Axis], bad: tuple[int, ...], rounding: str) -> bool:
    """A stride that does not fit, by a sound design, so no finding (unless strict): padding
    (F − 1)/2 on both sides of an odd window, which reads every input pixel and gives
    ⌈W/S⌉ (TensorFlow's 'same', torchvision's 3×3 and 7×7 stride-2 layers); and the 1×1
    projection inferred for a SKIP, whose stride its sibling chose."""
    if rounding == "strict":
        return False
    if node.type == "SKIP":
        return True
    return all(
        a.f_eff % 2 == 1 and a.before == a.after == (a.f_eff - 1) // 2 and a.lost == 0
        for a in (axes[i] for i in bad)
    )


def stride_finding(
    node: LayerNode,
    layer: LayerType,
    axes: tuple[Axis, Axis],
    bad: tuple[int, ...],
    rounding: str,
    in_branch: bool = False,
) -> Pending:
    """CC201 (real pixels unread, or any remainder when strict) or CC202 (only padding, or no
    more than the stride's own gap), with concrete fixes for each axis."""
    a = axes[bad[0]]
    same = len(bad) == 2 and axes[0] == Axis(
        axes[1].size, axes[1].f, axes[1].s, axes[1].before, axes[1].after, axes[1].dilation
    )
    where = "the width and height" if same else " and ".join(f"the {AXES[i]}" for i in bad)
    formulas = (
        a.formula()
        if same or len(bad) == 1
        else "; ".join(f"{AXES[i]} {axes[i].formula()}" for i in bad)
    )
    strides = sorted({axes[i].s for i in bad})
    lost = [axes[i].lost for i in bad]
    strict = rounding == "strict"
    if strict:
        code, severity = "CC201", Severity.ERROR
        message = f"{formulas} is not an integer: stride {strides[0]} does not fit {where}"
    else:
        floored = " and ".join(str(axes[i].floor) for i in (bad[:1] if same else bad))
        gaps = all(axes[i].lost <= axes[i].s - axes[i].f_eff for i in bad)
        if any(lost) and gaps:
            # a stride larger than the window skips pixels between all windows anyway
            # (CC204); the last ones are no worse: ResNet's 1×1 stride-2 projections
            code, severity = "CC202", Severity.INFO
            message = (
                f"stride {strides[0]} does not fit {where}: {formulas}; the output is "
                f"floored to {floored} and {_lost_text(axes, bad, same)}, no more than "
                f"the gap the stride leaves between any two windows"
            )
        elif any(lost):
            code, severity = "CC201", Severity.WARNING
            message = (
                f"stride {strides[0]} does not fit {where}: {formulas}; the output is "
                f"floored to {floored} and {_lost_text(axes, bad, same)}"
            )
        else:
            code, severity = "CC202", Severity.INFO
            message = (
                f"stride {strides[0]} does not fit {where}: {formulas}; the output is "
                f"floored to {floored} and only padding is left unread"
            )
    help: list[str] = []
    for i in bad[:1] if same else bad:
        # the fixes pad up to the layer's limit, or F_eff − 1 (more only adds empty windows)
        limit = layer.padding_limit(axes[i])
        max_pad = axes[i].f_eff - 1 if limit is None else limit
        lines = fix_lines(axes[i], max_pad=max_pad, in_branch=in_branch)
        prefix = "" if same or len(bad) == 1 else f"{AXES[i]}: "
        help.extend(prefix + line for line in lines)
    return Pending(
        code,
        severity,
        f"{node.name}: {message}",
        Location.of(node.span),
        help,
        node.name,
        trace_text(node.trace),
        bad,
    )


def _lost_text(axes: tuple[Axis, Axis], bad: tuple[int, ...], same: bool) -> str:
    """``the last column and row of the input are never read``"""

    def last(n: int, unit: str) -> str:
        return f"the last {unit}" if n == 1 else f"the last {n} {unit}s"

    if same:
        n = axes[bad[0]].lost
        what = f"{last(n, 'column')} and row{'s' if n > 1 else ''}"
        plural = True
    else:
        parts = [last(axes[i].lost, UNITS[i]) for i in bad if axes[i].lost]
        what = " and ".join(parts)
        plural = len(parts) > 1 or any(axes[i].lost > 1 for i in bad)
    return f"{what} of the input {'are' if plural else 'is'} never read"


def too_small(node: LayerNode, layer: LayerType, args: Args, x: Shape, y: Shape) -> FindingError:
    """CC203 for a TCONV, with its formula (windowed layers are caught in check_window)."""
    assert isinstance(layer, TConv)  # the only layer without a window whose output can be < 1
    i = 0 if y[0] < 1 else 1
    largest = layer.largest_padding(args, i, x[i])
    return stop(
        node,
        "CC203",
        f"the {AXES[i]} would be {layer.formula(args, i, x[i])} < 1",
        help=f"reduce P: at most P={largest} keeps the {AXES[i]} at 1 or more"
        if largest >= 0
        else "use a larger filter or stride",
    )


def check_groups(node: LayerNode, args: Args, x: Shape) -> None:
    """CC207: groups must divide the input depth, and K where the layer has one (SHUFFLE
    has none)."""
    groups = integer(args, "groups")
    if groups == 1:
        return
    if "K" not in args:
        if x[2] % groups:
            raise stop(
                node,
                "CC207",
                f"groups={groups} does not divide the input depth {x[2]}",
                help=f"groups must divide the input depth; groups that divide {x[2]}: "
                f"{', '.join(str(g) for g in _divisors(x[2]))}",
            )
        return
    k = integer(args, "K")
    for what, value in (("the input depth", x[2]), ("K", k)):
        if value % groups:
            raise stop(
                node,
                "CC207",
                f"groups={groups} does not divide {what} {value}",
                help=f"groups must divide both the input depth and K; groups that divide "
                f"both {x[2]} and {k}: "
                f"{', '.join(str(g) for g in _divisors(x[2]) if k % g == 0)}",
            )


def check_channels(node: LayerNode, layer: Slice, args: Args, x: Shape) -> None:
    """CC209: a SLICE must take at least one of the input's channels, none beyond them."""
    start, end = layer.channels(args, x[2])
    d = x[2]
    if start < end <= d:
        return
    if end > d:
        problem = f"stop={end} is beyond the input's {d} channels"
    elif args["stop"] == "end":
        problem = f"start={start} is not below the input's {d} channels"
    else:
        problem = f"start={start} is not below stop={end}: no channels"
    half = f"; its halves are SLICE(0, {d // 2}) and SLICE({d // 2}, {d})" if d > 1 else ""
    raise stop(
        node,
        "CC209",
        f"SLICE({start}{'' if args['stop'] == 'end' else f', {end}'}) on {d} channels: {problem}",
        help=f"the input has channels 0 to {d - 1}: SLICE(start, stop) takes start to stop − 1, "
        f"with 0 ≤ start < stop ≤ {d}{half}",
    )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, min(n, 4096) + 1) if n % d == 0]


def adaptive_findings(node: LayerNode, args: Args, x: Shape) -> list[Finding]:
    """CC208: an adaptive pool larger than its input repeats input values (PyTorch allows it:
    bins of one or two pixels that overlap)."""
    out = pair(args, "out")
    larger = [i for i in (0, 1) if out[i] > x[i]]
    if not larger:
        return []
    where = " and ".join(f"{AXES[i]} {x[i]} → {out[i]}" for i in larger)
    fit = (min(out[0], x[0]), min(out[1], x[1]))
    shown = str(fit[0]) if fit[0] == fit[1] else f"({fit[0]}, {fit[1]})"
    return [at(
        node,
        "CC208",
        f"an adaptive pool larger than its input ({where}): its bins overlap and repeat "
        "input values, as PyTorch's do",
        help=f"APOOL({shown}) pools without repeating; UP upsamples on purpose",
    )]  # fmt: skip


def check_out_pad(node: LayerNode, layer: LayerType, args: Args) -> None:
    """CC111: a TCONV's out_pad must be smaller than its stride or its dilation."""
    assert isinstance(layer, TConv)  # the only layer with an out_pad
    op = pair(args, "out_pad")
    for i in (0, 1):
        limit = layer.out_pad_limit(args, i)
        if op[i] >= limit:
            raise stop(
                node,
                "CC111",
                f"out_pad={op[i]} must be smaller than the stride or the dilation ({limit})",
            )
