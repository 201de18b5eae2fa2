"""Merge findings (CC3xx): branches whose volumes do not combine (CC301 for ADD, CC302 for
CAT, CC306 for MUL), branches that look at different places of the input (CC303), and SKIP:
the projection it became (CC304) or why it cannot be resolved (CC305).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import Finding, FindingError, Location
from ..expansion.graph import LayerNode, MergeNode
from ..layers.base import RF
from ..layers.merges import MergeType
from ..records import Shape, show_shape
from ..source import Span
from .nodes import AXES, at, stop

#: The rule that a merge's branches break when their volumes do not combine.
MISMATCH = {"ADD": "CC301", "CAT": "CC302", "MUL": "CC306"}


def mismatch(
    node: MergeNode,
    merge: MergeType,
    shapes: Sequence[Shape],
    skipped: bool,
    x: Shape,
    cause: Callable[[int], str | None] = lambda j: None,
) -> FindingError:
    """CC301/CC302, listing every branch's volume, at the branch that differs from the others
    (ADD, CAT); ``skipped``: a branch ends in SKIP already; ``x``: the merge's input;
    ``cause(j)``: the layers of branch j that shrank it, as a help line."""
    listing = "; ".join(f"branch {i + 1} → {show_shape(s)}" for i, s in enumerate(shapes))
    lines: list[str] = []
    found = at(
        node, MISMATCH[merge.name], f"{merge.name} needs branches of {merge.needs}: {listing}"
    )
    if merge.name == "MUL":
        lines.append(broadcast_help(shapes))
    else:
        flat = merge.name == "CAT"
        j, k = odd_branch([s[:2] if flat else s for s in shapes], x[:2] if flat else x)
        lines.append(cause(j) or "")
        if merge.takes_skip and not skipped:
            lines.append("end a branch with SKIP to project it to its sibling's shape")
        elif flat:
            w, h = shapes[j][:2]
            lines.append(
                "CAT joins volumes of the same width and height along the depth: "
                f"branch {j + 1} is {w}×{h}, branch {k + 1} is {shapes[k][0]}×{shapes[k][1]}"
            )
        span = branch_span(node.branches[j])
        if span is not None:
            found = found._replace(location=Location.of(span))
    help = "\n".join(line for line in lines if line) or None
    return FindingError(found._replace(help=help))


def odd_branch(
    keys: Sequence[Shape | tuple[int, int]], given: Shape | tuple[int, int]
) -> tuple[int, int]:
    """The branch whose volume differs from most (on a tie, the one furthest in area from
    the merge's input: an FC's 1×1 beside a CONV's 30×30), and one it differs from."""

    def support(key: Shape | tuple[int, int]) -> tuple[int, int]:
        return keys.count(key), -abs(key[0] * key[1] - given[0] * given[1])

    usual = max(range(len(keys)), key=lambda i: support(keys[i]))
    odd = next(i for i in range(len(keys)) if keys[i] != keys[usual])
    return odd, usual


def branch_span(branch: Sequence[LayerNode | MergeNode]) -> Span | None:
    """A branch as written, from its first layer to its last (one source: a branch that a
    block call ends is its first layer)."""
    if not branch:
        return None
    first, last = branch[0].span, branch[-1].span
    if first.source is last.source and first.start <= last.start:
        return Span(first.source, first.start, max(first.end, last.end))
    return first


def broadcast_help(shapes: Sequence[Shape]) -> str:
    """What each MUL branch needs to multiply with the first full-size one (or the first)."""
    full = [s for s in shapes if s[:2] != (1, 1)]
    w, h, d = full[0] if full else shapes[0]
    fixes = []
    for i, s in enumerate(shapes):
        if s[:2] not in ((w, h), (1, 1)):
            fixes.append(
                f"branch {i + 1} is {s[0]}×{s[1]}, neither {w}×{h} nor 1×1 (GAP makes it 1×1)"
            )
        elif s[2] != d:
            fixes.append(f"branch {i + 1} needs depth {d}, not {s[2]} (end it with CONV({d}, F=1))")
    return (
        "; ".join(fixes) + "\na 1×1×D branch broadcasts over W×H×D, as in squeeze-and-excitation: "
        f"MUL{{ ID | GAP -> CONV({max(d // 4, 1)}, F=1) -> RELU -> CONV({d}, F=1) -> SIGMOID }}"
    )


def misaligned(node: MergeNode, fields: Sequence[tuple[int, RF]]) -> Finding:
    """CC303: the branches (by index) sample the input on different grids."""

    def grid(rf: RF) -> str:
        jump, centre = rf.jump, rf.centre
        assert centre is not None
        return (f"every {_num(jump[0])}×{_num(jump[1])} pixels from "
                f"({_num(centre[0])}, {_num(centre[1])})")  # fmt: skip

    listing = "; ".join(f"branch {i + 1} {grid(rf)}" for i, rf in fields)
    return at(
        node,
        "CC303",
        f"the branches of {node.kind} are misaligned: their units look at different places "
        f"of the input ({listing})",
        help="give the branches the same total stride, and windows centred alike: the "
        "same filter size and padding (P = (F − 1)/2) where they downsample",
    )


def _num(value: object) -> str:
    """A jump or centre: 2, 0.5, 1/3."""
    if isinstance(value, int):
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    return f"{number:g}" if number * 8 == int(number * 8) else str(value)


def misplaced_skip(node: LayerNode) -> FindingError:
    """CC305: SKIP anywhere but at the end of a branch."""
    return stop(
        node,
        "CC305",
        "SKIP must be the last layer of a branch of ADD{...}",
        help="write ADD{ CONV -> BN -> RELU -> CONV -> BN | SKIP }",
    )


def unmatched_skip(node: LayerNode, merge: MergeType) -> FindingError:
    """CC305: a SKIP in a merge that takes none, or with no sibling branch to match."""
    return stop(
        node,
        "CC305",
        "SKIP needs a sibling branch in ADD{...} to match"
        if merge.takes_skip
        else "SKIP works only inside ADD{...}",
    )


def no_skip_stride(node: LayerNode, x: Shape, target: Shape, i: int) -> FindingError:
    """CC305: no stride of a 1×1 projection takes this axis to its sibling's size."""
    return stop(
        node,
        "CC305",
        f"no 1×1 stride takes {show_shape(x)} to {show_shape(target)} along the {AXES[i]}",
    )


def projection(
    node: LayerNode, k: int, stride: Sequence[int], x: Shape, target: Shape
) -> Finding | None:
    """CC304: the projection a SKIP became to match its sibling branch, when it is not the
    textbook one (ResNet's: stride 1 or 2 alike on both axes, to as many channels or more)."""
    if stride[0] == stride[1] and stride[0] in (1, 2) and k >= x[2]:
        return None
    s_text = str(stride[0]) if stride[0] == stride[1] else f"({stride[0]}, {stride[1]})"
    return at(
        node,
        "CC304",
        f"SKIP becomes a projection CONV({k}, F=1, S={s_text}, "
        f"bias=false) -> BN, taking {show_shape(x)} to {show_shape(target)} like its "
        "sibling branch",
    )
