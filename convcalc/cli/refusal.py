"""`run`'s refusal above --max-memory, in the CLI's words: what the pass needs, the layer that
needs it, and what to do: `convert --fc-to-conv` where an FC layer is the culprit because the
input is larger than the spec's, a smaller input or batch, or --max-memory itself."""

from __future__ import annotations

from ..analysis.analyzer import Analysis, analyze
from ..engine.layout import MemoryLimitError
from ..records import Row, show_shape
from ..report.escape import visible
from ..report.layout import wrap
from ..units import BYTES, mb


def explain(exc: MemoryLimitError, spec: str, analysis: Analysis, batch: int, width: int) -> str:
    """The refusal as lines of at most ``width``: ``convcalc: error: ...`` and its help."""
    lines = wrap(f"convcalc: error: {exc.needs}", width, indent="  ")
    if exc.culprit:
        lines += wrap(exc.culprit, width, indent="    ", first="  culprit: ")
    for advice in _advice(exc, spec, analysis, batch):
        lines += wrap(visible(advice), width, indent="        ", first="  help: ")
    return "\n".join(lines)


def _advice(exc: MemoryLimitError, spec: str, analysis: Analysis, batch: int) -> list[str]:
    advice = []
    fc = _growing_fc(analysis)
    if fc is not None:
        row, at_spec = fc
        w, h, _ = row.input_shapes[0]
        size = "x".join(map(str, analysis.input))
        dtype = analysis.spec.dtype  # the pass computes bfloat16 in float32
        itemsize = BYTES["float32" if dtype == "bfloat16" else dtype]
        advice.append(
            f"{row.name} is an FC layer reading a {show_shape(row.input_shapes[0])} volume: "
            f"`convcalc convert --fc-to-conv {spec} --input {size} -o conv.yaml` turns it "
            f"into a CONV layer with the {at_spec.weights:,} weights it has at the spec's own "
            f"input ({show_shape(analysis.spec.input)}), sliding over the {w}×{h} volume: its "
            f"weights shrink from {mb(row.weights * itemsize, 0)} to "
            f"{mb(at_spec.weights * itemsize, 0)}; run that spec instead"
        )
    smaller = "a smaller --input" + (" or --batch" if batch > 1 else "")
    now = f"{mb(exc.limit, 0)}, half the available memory" if exc.default else mb(exc.limit, 0)
    advice.append(
        f"{'or ' if advice else ''}use {smaller}, or, if the machine has the memory, raise the "
        f"limit with --max-memory (now {now}), e.g. --max-memory {_gib(exc.estimate.total)}GiB"
    )
    return advice


def _growing_fc(analysis: Analysis) -> tuple[Row, Row] | None:
    """The FC layer with the most weights when it has more than at the spec's own input (it
    reads a larger volume), with its row at that input."""
    rows = [r for r in analysis.rows if r.type == "FC"]
    if not rows or analysis.input == analysis.spec.input:
        return None
    row = max(rows, key=lambda r: r.weights)
    own = analyze(analysis.spec)
    at_spec = next((r for r in own.rows if r.name == row.name), None)
    if at_spec is None or own.output is None or at_spec.weights >= row.weights:
        return None
    return row, at_spec


def _gib(size: int) -> int:
    """``size`` bytes in whole GiB, rounded up."""
    return -(-size // (1 << 30))
