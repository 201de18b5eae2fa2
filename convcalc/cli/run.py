"""`convcalc run`: a real NumPy forward pass that confirms every propagated shape."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import click

from ..records import Shape
from ..report.escape import json_dumps, visible
from .common import (
    MAX_SEED,
    IntegerRange,
    budget_option,
    console,
    debug_option,
    emit,
    format_option,
    one_spec,
    output_option,
    refuse,
    spec_options,
    stderr_console,
)
from .group import cli


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
    """
    from ..engine.forward import forward
    from ..errors import ConvcalcError

    outcome = one_spec(spec, input=input_, variables=assignments, batch=batch)
    analysis = outcome.analysis
    if analysis is None or not analysis.ok or analysis.output is None:
        refuse(outcome, stderr_console(), "convcalc: the spec has errors: nothing was run")
    try:
        with _progress(format_ == "text" and output is None) as progress:
            result = forward(analysis, batch=batch, seed=seed, max_memory=max_memory,
                             progress=progress)  # fmt: skip
    except ConvcalcError as exc:
        click.echo(f"convcalc: {visible(str(exc), keep=chr(10))}", err=True)
        sys.exit(1)
    estimated = result.estimated_peak_bytes  # the pass's own estimate, as the guard's
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


class _progress:
    """A per-layer progress bar on a terminal (on stderr); nothing otherwise."""

    def __init__(self, wanted: bool) -> None:
        self.bar: Any = None
        self.wanted = wanted and sys.stderr.isatty()

    def __enter__(self) -> Callable[[int, int, str], None] | None:
        if not self.wanted:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=stderr_console(), transient=True,
        )  # fmt: skip
        self.bar.start()
        task = self.bar.add_task("forward", total=None)

        def update(done: int, total: int, name: str) -> None:
            self.bar.update(task, completed=done, total=total, description=name)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
