"""Findings about a node of the layer graph: named after it, located at its token, with its
expansion trace as a note. The analysis rules (windows.py, merges.py) fire them."""

from __future__ import annotations

from .. import limits
from ..errors import Finding, FindingError, Location
from ..expansion.graph import LayerNode, MergeNode, trace_text
from .catalogue import finding

AXES = ("width", "height")


def at(node: LayerNode | MergeNode, code: str, message: str, help: str | None = None) -> Finding:
    """A finding about a node: named, located at its token, with its trace as a note."""
    return finding(
        code,
        f"{node.name}: {message}",
        Location.of(node.span),
        help=help,
        layer=node.name,
        note=trace_text(node.trace),
    )


def stop(
    node: LayerNode | MergeNode, code: str, message: str, help: str | None = None
) -> FindingError:
    """A finding about a node, as the error that ends the walk."""
    return FindingError(at(node, code, message, help))


DIMENSIONS = ("width", "height", "depth")


def check_volume(node: LayerNode | MergeNode, y: tuple[int, int, int]) -> None:
    """CC126: every computed width, height and depth stays within the size limit, as the
    sizes a spec writes do (a repeated UP or a wide CAT could otherwise grow without end)."""
    for i, size in enumerate(y):
        if size > limits.MAX_SIZE:
            raise stop(
                node,
                "CC126",
                f"the output {DIMENSIONS[i]} would be {_size(size)}, above the limit of "
                f"{limits.MAX_SIZE:,}",
                help="fewer upsampling or concatenating layers, or a smaller input",
            )


def _size(n: int) -> str:
    """``16,777,217``, or ``about 10^146`` for a number too long to print."""
    text = f"{n:,}"
    return text if len(text) <= 40 else f"about 10^{len(str(n)) - 1}"
