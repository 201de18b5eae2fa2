"""`convcalc memory`: what a spec needs to train and to infer, and the batch that fits."""

from __future__ import annotations

import io
import sys

import click

from ..records import Shape
from ..report.escape import json_dumps
from .common import (
    console,
    debug_option,
    emit,
    format_option,
    memory_options,
    one_spec,
    output_option,
    refuse,
    spec_options,
)
from .group import cli
from .options import budget_option


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@memory_options
@click.option(
    "--budget",
    callback=budget_option,
    help="Memory to train in, like 12GiB, 16GB or 8000MiB: prints the largest batch that fits.",
)
@format_option("text", "json")
@output_option
@debug_option
def memory(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    batch: int | None,
    dtype: str | None,
    optimizer: str | None,
    budget: int | None,
    format_: str,
    output: str | None,
    debug: bool,
) -> None:
    """Break down the memory SPEC needs to train and to infer, per image and per batch.

    Activations and their gradients, max-pool switches, im2col workspace, parameters with
    their gradients and optimizer state (the notes' three sources of memory), the inference
    peak with tensors freed after their last use, and per layer, where the activations and
    the parameters sit. MB = 1024² bytes; GB = 1000³ and GiB = 1024³ bytes in --budget.
    Exits 1 when not even one image fits the budget.

    \b
    Examples:
      convcalc memory vgg16
      convcalc show vgg16 | convcalc memory -     (- reads standard input)
      convcalc memory vgg16 --batch 32 --optimizer adam --dtype float16
      convcalc memory resnet18 --budget 12GiB --format json
    """
    outcome = one_spec(
        spec, input=input_, variables=assignments, batch=batch, dtype=dtype, optimizer=optimizer
    )
    analysis = outcome.analysis
    if analysis is None or analysis.memory is None:
        refuse(outcome, console())
    estimate = analysis.memory
    if format_ == "json":
        from ..report.data import memory_document

        doc = memory_document(analysis, estimate, budget)
        emit(json_dumps(doc), output)
    else:
        from ..report import memory as report

        buffer = io.StringIO() if output is not None else None
        out = console(buffer)
        report.print_memory(out, analysis, estimate)
        if budget is not None:
            out.print()
            for line in report.budget_lines(estimate, budget):
                out.print(line, soft_wrap=True)
        if buffer is not None:
            emit(buffer.getvalue(), output)
    sys.exit(1 if budget is not None and estimate.max_batch(budget) < 1 else 0)
