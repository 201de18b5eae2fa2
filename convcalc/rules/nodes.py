"""Findings about a node of the layer graph: named after it, located at its token, with its
expansion trace as a note. The analysis rules (windows.py, merges.py) fire them."""

from __future__ import annotations

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
