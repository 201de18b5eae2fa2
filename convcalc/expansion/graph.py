"""The layer graph that expansion produces and analysis walks.

The graph is series-parallel, like the grammar: a sequence of nodes, where a
:class:`MergeNode` holds one sequence per branch. Each node keeps the span of the token it
came from and a trace of the repetitions and block calls that produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..errors import Finding, Location
from ..frontend.evaluate import show
from ..records import ArgValue
from ..source import Span


class Frame(NamedTuple):
    """One step of the trace: a repetition (``count`` > 0) or a block call. The text is made
    only when a finding needs it: a spec can have a hundred thousand frames."""

    span: Span  # the repeated term, or the call
    number: int = 0  # this repetition, from 1
    times: int = 0  # of how many; 0 for a block call
    values: tuple[tuple[str, ArgValue], ...] = ()

    @property
    def text(self) -> str:
        if self.times:
            body = self.span.text if len(self.span.text) <= 40 else self.span.text[:37] + "..."
            shown = ", ".join(f"{k}={show(v)}" for k, v in self.values)
            return f"repetition {self.number}/{self.times} of {body}" + (
                f" ({shown})" if shown else ""
            )
        line = Location.of(self.span).line
        name = self.span.text.split("(", 1)[0]
        return f"{name}({', '.join(show(v) for _, v in self.values)}) called at line {line}"


class LayerNode:
    """One layer, its arguments resolved; ``name`` is given once the whole graph exists."""

    __slots__ = ("args", "label", "label_span", "name", "span", "trace", "type")

    def __init__(
        self,
        type: str,
        args: Mapping[str, ArgValue],
        span: Span,
        trace: tuple[Frame, ...] = (),
        label: str | None = None,
        name: str = "",
        label_span: Span | None = None,
    ) -> None:
        self.type = type
        self.args = args
        self.span = span
        self.trace = trace
        self.label = label
        self.name = name
        self.label_span = label_span


class MergeNode:
    """ADD, CAT or MUL over branches, each a sequence of nodes."""

    __slots__ = ("branches", "kind", "label", "label_span", "name", "span", "trace")

    def __init__(
        self,
        kind: str,
        branches: tuple[list[Node], ...],
        span: Span,
        trace: tuple[Frame, ...] = (),
        label: str | None = None,
        name: str = "",
        label_span: Span | None = None,
    ) -> None:
        self.kind = kind
        self.branches = branches
        self.span = span
        self.trace = trace
        self.label = label
        self.name = name
        self.label_span = label_span


Node = LayerNode | MergeNode


class LayerGraph(NamedTuple):
    nodes: list[Node]
    findings: list[Finding]
    layers: int


def trace_text(trace: tuple[Frame, ...]) -> str | None:
    """``in repetition 3/5 of [...] (c=256), in stage(256, 3) at line 9``"""
    if not trace:
        return None
    frames = [frame.text for frame in reversed(trace)]
    if len(frames) > 4:
        frames = [*frames[:2], f"... {len(frames) - 4} more ...", *frames[-2:]]
    return "in " + ", in ".join(frames).replace("in ... ", "... ")
