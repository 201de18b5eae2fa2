"""`convcalc run`: a real NumPy forward pass that confirms every propagated shape."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import click

from ..records import Row, Shape
from ..report.escape import json_dumps, visible
from .common import (
    OutputPath,
    console,
    debug_option,
    emit,
    emit_bytes,
    fitted,
    format_option,
    one_spec,
    output_option,
    refuse,
    spec_options,
    stderr_console,
)
from .group import cli
from .options import MAX_SEED, IntegerRange, budget_option


@cli.command(name="run")
@click.argument("spec", metavar="SPEC")
@spec_options
@click.option("--batch", type=IntegerRange(min=1, max=1 << 16), default=1, show_default=True,
              help="Images in the random input batch.")  # fmt: skip
@click.option("--seed", type=IntegerRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="Seed of the He-initialised weights and the input.")  # fmt: skip
@click.option("--max-memory", "max_memory", callback=budget_option,
              help="Refuse passes estimated above this, like 4GiB (default: half the available "
              "memory).")  # fmt: skip
@click.option("--save-weights", "save_weights", type=OutputPath(), metavar="FILE",
              help="Also write the weights of --seed as an .npz in PyTorch's layout and names, "
              "which the module of `convcalc export --to torch` loads (load_npz).")  # fmt: skip
@format_option("text", "json")
@output_option
@debug_option
def run_(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    batch: int,
    seed: int,
    max_memory: int | None,
    save_weights: str | None,
    format_: str,
    output: str | None,
    debug: bool,
) -> None:
    """Run SPEC forward in NumPy on a random batch and compare every shape with the analysis.

    Weights are He-initialised from --seed; CONV layers run as im2col-style matrix products,
    as the notes describe. A shape that differs from the analysis exits 1 and names the layer.
    Before allocating anything, the pass estimates its memory and refuses to start above
    --max-memory.

    \b
    Examples:
      convcalc run vgg16
      convcalc run resnet18 --batch 8 --format json
      convcalc run unet --input 512x512x1 --max-memory 2GiB
      convcalc show lenet5 | convcalc run -       (- reads standard input)
      convcalc run resnet18 --seed 7 --save-weights resnet18.npz
    """
    from ..engine.forward import forward
    from ..engine.layout import MemoryLimitError
    from ..errors import ConvcalcError

    outcome = one_spec(spec, input=input_, variables=assignments, batch=batch)
    analysis = outcome.analysis
    if analysis is None or not analysis.ok or analysis.output is None:
        refuse(outcome, stderr_console(), "convcalc: the spec has errors: nothing was run")
    try:
        with _Progress(format_ == "text" and output is None, analysis.rows) as bar:
            result = forward(analysis, batch=batch, seed=seed, max_memory=max_memory,
                             progress=bar.layer, setup=bar.setup)  # fmt: skip
    except MemoryLimitError as exc:
        from .refusal import explain

        click.echo(explain(exc, spec, analysis, batch, stderr_console().width), err=True)
        sys.exit(1)
    except ConvcalcError as exc:
        click.echo(fitted(f"convcalc: {visible(str(exc), keep=chr(10))}"), err=True)
        sys.exit(1)
    if save_weights is not None:
        from ..export.torch_source import attribute_names
        from ..export.weights import draw, npz_bytes, torch_state

        params, _ = draw(analysis, seed)
        state = torch_state(analysis, params, attribute_names(analysis.rows))
        emit_bytes(npz_bytes(state), save_weights, "--save-weights")
    estimated = result.estimated_peak_bytes  # the pass's own estimate (see README, run)
    if format_ == "json":
        from ..report.data import run_document

        doc = run_document(result, estimated)
        emit(json_dumps(doc), output)
    else:
        from ..report.run import print_run

        buffer = io.StringIO() if output is not None else None
        print_run(console(buffer), analysis, result, seed, estimated)
        if buffer is not None:
            emit(buffer.getvalue(), output)
    sys.exit(0 if result.ok else 1)


class _Progress:
    """On a terminal (on stderr), a bar through the setup (planning, then the weights, row by
    row) and the pass, with the elapsed time and an estimate of the time left; nothing
    otherwise. The bars advance by each row's parameters and MACs, where the time goes."""

    def __init__(self, wanted: bool, rows: Sequence[Row]) -> None:
        self.bar: Any = None
        self.task: Any = None
        self.wanted = wanted and sys.stderr.isatty()
        self.rows = rows
        self.work = [r.macs + 1 for r in rows]  # + 1: a row without MACs still advances
        self.done = 0
        self.phase = ""
        self.prefix: list[int] = [0]

    def __enter__(self) -> _Progress:
        if not self.wanted:
            return self
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=stderr_console(), transient=True,
        )  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("planning", total=None)
        return self

    def setup(self, phase: str, done: int, total: int) -> None:
        """Planning, then the weights, which advance by each row's parameters."""
        if self.bar is None:
            return
        if phase != self.phase:  # a new phase starts its bar (and its estimate) afresh
            self.phase = phase
            cost = [r.params + 1 for r in self.rows] if phase == "weights" else [1] * total
            self.prefix = list(accumulate(cost, initial=0))
            self.bar.reset(self.task, total=self.prefix[-1], description=phase)
        self.bar.update(self.task, completed=self.prefix[done],
                        description=f"{phase} ({done:,}/{total:,})")  # fmt: skip

    def layer(self, done: int, total: int, name: str) -> None:
        if self.bar is None:
            return
        if self.phase != "forward":
            self.phase = "forward"
            self.done = 0
            self.bar.reset(self.task, total=sum(self.work), description="forward")
        self.done += self.work[done - 1]
        self.bar.update(self.task, completed=self.done,
                        description=f"forward {visible(name)} ({done:,}/{total:,})")  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
