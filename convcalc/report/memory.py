"""The memory report: the answer first (the largest batch within a budget), the breakdown at
that batch, how the total grows with the batch, and the heaviest layers. Every line fits 80
columns: long lines are wrapped here, on words, never by the terminal."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..analysis.memory import SLOTS, Memory
from ..records import Row
from ..units import BYTES
from ..units import megabytes as mb
from .escape import visible
from .text import grid

WIDTH = 80
BAR = 12
_EIGHTHS = " ▏▎▍▌▋▊▉"
#: layers the per-layer view shows unless --layers says otherwise
HEAVIEST = 10


def bar(value: int, largest: int, width: int = BAR) -> str:
    """A horizontal bar of ``width`` cells for value/largest, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def wrap(text: str) -> list[str]:
    """A sentence as lines of at most 80 columns (continuations indented two)."""
    return textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def say(console: Console, text: str, style: str | None = None) -> None:
    for line in wrap(text):
        console.print(Text(line, style=style or ""), soft_wrap=True, crop=False)


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
    ]
    fixed = [
        ("workspace (one, reused)", memory.workspace),
        ("parameters", memory.parameters),
        ("buffers", memory.buffers),
        ("parameter gradients", memory.parameter_gradients),
        (f"optimizer state ({memory.optimizer})", memory.optimizer_state),
    ]
    if memory.weight_copies:
        fixed.append(("half weight copies (autocast)", memory.weight_copies))
    if memory.overhead:
        fixed.append(("overhead (--overhead)", memory.overhead))
    body = [[name, mb(value), mb(n * value), share(n * value)] for name, value in scaled]
    body += [[name, "", mb(value), share(value)] for name, value in fixed]
    training = ["training total", "", mb(total), "100.0%" if total else "—"]
    inference = ["inference peak", "", mb(memory.inference_peak), ""]
    return body, training, inference


def settings_line(analysis: Analysis, memory: Memory) -> str:
    """What the estimate assumes: input, precision, batch, optimizer, devices."""
    w, h, d = analysis.input
    slots = SLOTS[memory.optimizer]
    t = memory.training
    if t.mixed:
        how = "ZeRO's" if t.zero is not None else "--amp"
        precision = (
            f"{memory.activation_dtype} activations, float32 master weights and optimizer "
            f"state ({how} mixed precision)"
        )
    else:
        precision = f"{memory.dtype} ({BYTES[memory.dtype]} bytes a value)"
    devices = ""
    if t.gpus > 1 or t.zero is not None:
        stage = f", ZeRO stage {t.zero}" if t.zero is not None else ", replicated"
        devices = f" · {t.gpus} device{'s' if t.gpus > 1 else ''}{stage}"
    return (
        f"input {w}×{h}×{d} · {precision} · batch {memory.batch}"
        f"{' per device' if t.gpus > 1 else ''} · {memory.optimizer} ({slots} value"
        f"{'s' if slots != 1 else ''} per parameter){devices} · overhead "
        f"{mb(memory.overhead)} MB"
    )


def print_memory(
    console: Console,
    analysis: Analysis,
    memory: Memory,
    budget: int | None = None,
    layers: int | None = HEAVIEST,
) -> None:
    """The whole report; with a budget, its answer first and the breakdown at that batch."""
    spec = analysis.spec
    if budget is not None:  # the answer first
        for line in budget_lines(memory, budget):
            say(console, line, "bold")
        best = memory.max_batch(budget)
        if best >= 1:
            memory = memory.with_batch(best)
    say(console, f"{visible(spec.name)}  {visible(spec.path)}", "bold")
    say(console, settings_line(analysis, memory), "dim")
    body, training, inference = breakdown_cells(memory)
    header = ["MB (1024² bytes)", "per image", f"batch {memory.batch:,}", "share"]
    right = [False, True, True, True]
    console.print(grid(header, [*body, training], right, inference), soft_wrap=True, crop=False)
    per = memory.per_image
    say(
        console,
        f"inference peak = parameters + buffers + batch × the most activations alive at once "
        f"({mb(per.live_peak)} MB an image) + the workspace + the overhead. The workspace is "
        "the largest scratch any layer's kernel takes in `convcalc run` at this batch"
        + limit_note(memory)
        + ".",
        "dim",
    )
    if memory.checkpoint is not None:
        c = memory.checkpoint
        say(
            console,
            f"checkpointing {c.segments} segment{'s' if c.segments != 1 else ''}: "
            f"{mb(c.kept * BYTES[memory.activation_dtype])} MB an image kept through the "
            f"forward pass, plus {mb(c.recomputed * BYTES[memory.activation_dtype])} MB for the "
            f"largest segment run again; {c.extra_macs * memory.batch / 1e9:,.3f} GMACs "
            "recomputed a batch.",
            "dim",
        )
    if budget is not None:
        console.print()
        print_batches(console, memory, budget)
    console.print()
    print_layers(console, analysis, memory, layers)


def limit_note(memory: Memory) -> str:
    limit = memory.training.workspace_limit
    if limit is None:
        return ""
    return (
        ", none with --workspace none" if limit == 0 else f", at most {mb(limit)} MB (--workspace)"
    )


def batches(memory: Memory, budget: int) -> list[int]:
    """1, 2, 4, … while the total fits the budget, the largest batch that fits, the next."""
    best = memory.max_batch(budget)
    out = []
    b = 1
    while b <= best and b < 1 << 40:
        out.append(b)
        b *= 2
    return sorted({*out, *([best] if best >= 1 else []), best + 1})


def print_batches(console: Console, memory: Memory, budget: int) -> None:
    """How the training total grows with the batch, against the budget."""
    body = []
    for b in batches(memory, budget):
        m = memory.with_batch(b)
        total = m.training_total
        body.append([
            f"{b:,}", mb(b * m.per_image.training), mb(m.workspace), mb(total),
            f"{100 * total / budget:.1f}%", "" if total <= budget else "over",
        ])  # fmt: skip
    header = ["batch", "activations MB", "workspace MB", "total MB", "of budget", ""]
    console.print(grid(header, body, [True] * 5 + [False]), soft_wrap=True, crop=False)


def heaviest(rows: tuple[Row, ...], count: int | None) -> list[Row]:
    """The rows with the most activations plus parameters (values), in network order."""
    rows_ = [r for r in rows if r.activations or r.params]
    if count is None or count >= len(rows_):
        return rows_
    keep = set(
        sorted(range(len(rows_)), key=lambda i: -(rows_[i].activations + rows_[i].params))[:count]
    )
    return [r for i, r in enumerate(rows_) if i in keep]


def print_layers(
    console: Console, analysis: Analysis, memory: Memory, count: int | None = HEAVIEST
) -> None:
    """Activations and parameters per layer as bars: early CONVs hold the activations, late
    FCs the parameters. By default the heaviest layers only, in network order."""
    act_width = BYTES[memory.activation_dtype]
    par_width = memory.parameters // max(1, sum(r.params for r in analysis.rows)) or 4
    every = [r for r in analysis.rows if r.activations or r.params]
    rows = heaviest(analysis.rows, count)
    largest_act = max((r.activations for r in every), default=0)
    largest_par = max((r.params for r in every), default=0)
    body = [
        [
            visible(r.name)[:18],
            r.type,
            mb(r.activations * act_width),
            bar(r.activations, largest_act),
            mb(r.params * par_width),
            bar(r.params, largest_par),
        ]
        for r in rows
    ]
    what = "every layer" if len(rows) == len(every) else (
        f"the {len(rows)} heaviest of {len(every)} layers (activations + parameters)"
    )  # fmt: skip
    say(console, f"per layer, for one image: {what}")
    header = ["layer", "type", "act. MB", "activations", "param. MB", "parameters"]
    console.print(
        grid(header, body, [False, False, True, False, True, False]),
        soft_wrap=True,
        crop=False,
    )
    if len(rows) < len(every):
        say(console, f"… {len(every) - len(rows)} more (--layers all shows every layer)", "dim")


def budget_lines(memory: Memory, budget: int) -> list[str]:
    """What fits in a budget: the largest batch, or why not even one image fits."""
    best = memory.max_batch(budget)
    shown = f"{mb(budget)} MB"
    per_device = " per device" if memory.training.gpus > 1 else ""
    if best >= 1:
        at_best = memory.with_batch(best).training_total
        at_next = memory.with_batch(best + 1).training_total
        return [
            f"largest batch in {shown}: {best:,}{per_device} ({mb(at_best)} MB; "
            f"{best + 1:,} needs {mb(at_next)} MB)",
        ]
    fixed = memory.fixed
    if fixed > budget:
        return [
            f"budget {shown}: not even batch 1 fits: what does not grow with the batch needs "
            f"{mb(fixed)} MB (parameters {mb(memory.parameters)}, gradients "
            f"{mb(memory.parameter_gradients)}, {memory.optimizer} state "
            f"{mb(memory.optimizer_state)}, buffers {mb(memory.buffers)}, overhead "
            f"{mb(memory.overhead)})",
        ]
    one = memory.with_batch(1)
    per = one.per_image
    return [
        f"budget {shown}: not even batch 1 fits: one image needs {mb(per.training)} MB "
        f"(activations and their gradients {mb(per.activations + per.activation_gradients)}, "
        f"switches {mb(per.pool_switches)}) and the workspace {mb(one.workspace)} MB on top "
        f"of {mb(fixed)} MB for the parameters",
    ]
