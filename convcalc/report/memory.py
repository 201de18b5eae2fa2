"""The memory report: the breakdown per image and per batch, the per-layer bars, the budget."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..analysis.memory import SLOTS, Memory
from ..units import BYTES
from ..units import megabytes as mb
from .escape import visible
from .text import grid

BAR = 24
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, largest: int, width: int = BAR) -> str:
    """A horizontal bar of ``width`` cells for value/largest, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def breakdown_cells(memory: Memory) -> tuple[list[list[str]], list[str], list[str]]:
    """Rows of the breakdown table: part, per image, batch, share of the training total."""
    total = memory.training_total
    n = memory.batch
    per = memory.per_image

    def share(value: int) -> str:
        return f"{100 * value / total:.1f}%" if total else "—"

    scaled = [
        ("activations", per.activations),
        ("activation gradients", per.activation_gradients),
        ("pool switches (int64)", per.pool_switches),
        ("workspace (im2col)", per.workspace),
    ]
    fixed = [
        ("parameters", memory.parameters),
        ("buffers", memory.buffers),
        ("parameter gradients", memory.parameter_gradients),
        (f"optimizer state ({memory.optimizer})", memory.optimizer_state),
    ]
    body = [[name, mb(value), mb(n * value), share(n * value)] for name, value in scaled]
    body += [[name, "", mb(value), share(value)] for name, value in fixed]
    training = [
        "training total",
        mb(per.training),
        mb(total),
        "100.0%" if total else "—",
    ]
    inference = [
        "inference peak",
        mb(per.live_peak + per.workspace),
        mb(memory.inference_peak),
        "",
    ]
    return body, training, inference


def print_memory(console: Console, analysis: Analysis, memory: Memory) -> None:
    spec = analysis.spec
    console.print(Text.assemble((visible(spec.name), "bold"), "  ", (visible(spec.path), "dim")))
    w, h, d = analysis.input
    slots = SLOTS[memory.optimizer]
    console.print(Text(
        f"input {w}×{h}×{d} · {memory.dtype} ({BYTES[memory.dtype]} bytes a value) · batch "
        f"{memory.batch} · {memory.optimizer} ({slots} value{'s' if slots != 1 else ''} per "
        "parameter)",
        style="dim",
    ))  # fmt: skip
    body, training, inference = breakdown_cells(memory)
    header = ["MB (1024² bytes)", "per image", f"batch {memory.batch}", "share"]
    right = [False, True, True, True]
    console.print(grid(header, [*body, training], right, inference), soft_wrap=True, crop=False)
    per = memory.per_image
    console.print(Text(
        f"inference peak = parameters + buffers + batch × (the most activations alive at once, "
        f"{mb(per.live_peak)} MB, + the largest workspace, {mb(per.workspace)} MB)",
        style="dim",
    ))  # fmt: skip
    console.print()
    print_layers(console, analysis, memory)


def print_layers(console: Console, analysis: Analysis, memory: Memory) -> None:
    """Activations and parameters per layer as bars: early CONVs hold the activations, late
    FCs the parameters."""
    width = BYTES[memory.dtype]
    rows = [r for r in analysis.rows if r.activations or r.params]
    largest_act = max((r.activations for r in rows), default=0)
    largest_par = max((r.params for r in rows), default=0)
    body = [
        [
            r.name,
            r.type,
            mb(r.activations * width),
            bar(r.activations, largest_act),
            mb(r.params * width),
            bar(r.params, largest_par),
        ]
        for r in rows
    ]
    header = ["layer", "type", "act. MB", "activations (one image)", "param. MB", "parameters"]
    console.print(
        grid(header, body, [False, False, True, False, True, False]),
        soft_wrap=True,
        crop=False,
    )


def budget_lines(memory: Memory, budget: int) -> list[str]:
    """What fits in a budget: the largest batch, or why not even one image fits."""
    best = memory.max_batch(budget)
    shown = f"{budget:,} bytes ({mb(budget)} MB)"
    if best >= 1:
        at_best = memory.with_batch(best).training_total
        at_next = memory.with_batch(best + 1).training_total
        return [
            f"budget {shown}: the largest batch that trains within it is {best:,}",
            f"training total at batch {best:,}: {mb(at_best)} MB; at {best + 1:,}: "
            f"{mb(at_next)} MB",
        ]
    fixed = memory.fixed
    if fixed > budget:
        return [
            f"budget {shown}: not even batch 1 fits: the parameters alone need {mb(fixed)} MB "
            f"(parameters {mb(memory.parameters)}, gradients {mb(memory.parameter_gradients)}, "
            f"{memory.optimizer} state {mb(memory.optimizer_state)}, buffers "
            f"{mb(memory.buffers)})",
        ]
    per = memory.per_image
    return [
        f"budget {shown}: not even batch 1 fits: one image needs {mb(per.training)} MB "
        f"(activations and their gradients {mb(per.activations + per.activation_gradients)}, "
        f"switches {mb(per.pool_switches)}, workspace {mb(per.workspace)}) on top of "
        f"{mb(fixed)} MB for the parameters",
    ]
