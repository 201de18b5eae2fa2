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
from .options import IntegerRange, budget_option, shown

MAX_GPUS = 1 << 20


def size_or(word: str, zero: bool) -> click.types.FuncParamType[str, int | str]:
    """SIZE (like 512MiB), or ``word`` (none, all): ``budget_option``'s sizes, and 0 when
    ``zero`` allows it."""

    def convert(value: str) -> int | str:
        if value.strip().lower() == word:
            return word
        if zero and value.strip() == "0":
            return 0
        result = budget_option(click.get_current_context(), None, value)  # type: ignore[arg-type]
        assert result is not None
        return result

    convert.__name__ = f"SIZE|{word}"
    return click.types.FuncParamType(convert)


def segments(value: str) -> int | str:
    """``--checkpoint 4`` or ``--checkpoint sqrt``."""
    text = value.strip().lower()
    if text == "sqrt":
        return "sqrt"
    if text.isdigit() and len(text) <= 9 and int(text) >= 1:
        return int(text)
    raise click.BadParameter(f"{shown(value)}: expected a number of segments (1 or more) or sqrt")


def layers_count(value: str) -> int | None:
    """``--layers 20`` or ``--layers all``."""
    text = value.strip().lower()
    if text == "all":
        return None
    if text.isdigit() and len(text) <= 9:
        return int(text)
    raise click.BadParameter(f"{shown(value)}: expected a number of layers or all")


def _checked(_: click.Context, param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    parse = {"checkpoint": segments, "layers": layers_count}[param.name or ""]
    return parse(value)


def _bytes(value: int | str) -> int:
    """A parsed SIZE|none: none is 0 bytes."""
    return 0 if value == "none" else int(value)


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@memory_options
@click.option(
    "--budget",
    callback=budget_option,
    help="Memory per device, like 12GiB, 16GB or 8000MiB: the largest batch that fits, first.",
)
@click.option("--amp", type=click.Choice(["fp16", "bf16"]),
              help="Mixed precision as PyTorch's autocast with a GradScaler: float32 "
              "parameters, gradients and optimizer state; half activations.")  # fmt: skip
@click.option(
    "--checkpoint",
    metavar="K|sqrt",
    callback=_checked,
    help="Activation checkpointing of K segments (checkpoint_sequential), or √n.",
)
@click.option("--gpus", type=IntegerRange(min=1, max=MAX_GPUS), default=1, show_default=True,
              help="Data-parallel devices; --batch and --budget are per device.")  # fmt: skip
@click.option("--zero", type=click.IntRange(0, 3),
              help="DeepSpeed ZeRO stage over the --gpus: mixed-precision model states "
              "(Adam: 16 bytes a parameter at stage 0) sharded.")  # fmt: skip
@click.option(
    "--overhead",
    type=size_or("none", zero=True),
    default="0",
    help="Framework or CUDA context allowance, like 500MiB (default 0).",
)
@click.option("--workspace", "workspace_limit", type=size_or("none", zero=False),
              help="A framework's workspace limit, like 64MiB, or none (default: the "
              "largest any layer's kernel takes in `convcalc run`).")  # fmt: skip
@click.option(
    "--layers",
    callback=_checked,
    metavar="N|all",
    default="10",
    show_default=True,
    help="Layers in the per-layer view: the N heaviest, or all.",
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
    amp: str | None,
    checkpoint: int | str | None,
    gpus: int,
    zero: int | None,
    overhead: int | str,
    workspace_limit: int | str | None,
    layers: int | None,
    format_: str,
    output: str | None,
    debug: bool,
) -> None:
    """Break down the memory SPEC needs to train and to infer, the answer first.

    With --budget the first line is the largest batch that fits on each device, then the
    breakdown at that batch, the total at 1, 2, 4, … images, and the heaviest layers:
    activations and their gradients, max-pool switches, one workspace (the largest any
    layer's kernel takes in `convcalc run`), parameters with their gradients and optimizer
    state, and the inference peak. --amp, --checkpoint, --gpus with --zero and --overhead
    model how people train. MB = 1024² bytes; GB = 1000³ and GiB = 1024³ bytes in sizes.
    Exits 1 when not even one image fits the budget.

    \b
    Examples:
      convcalc memory vgg16
      convcalc show vgg16 | convcalc memory -     (- reads standard input)
      convcalc memory resnet50 --budget 16GiB --optimizer adam --amp bf16
      convcalc memory vgg16 --batch 32 --checkpoint sqrt --layers all
      convcalc memory resnet50 --gpus 8 --zero 2 --optimizer adam --budget 16GiB
      convcalc memory resnet18 --budget 12GiB --format json
    """
    from ..analysis.memory import estimate
    from ..analysis.training import Training

    outcome = one_spec(
        spec, input=input_, variables=assignments, batch=batch, dtype=dtype, optimizer=optimizer
    )
    analysis = outcome.analysis
    if analysis is None or analysis.memory is None:
        refuse(outcome, console())
    base = analysis.memory
    training = Training(
        amp=amp,
        checkpoint=checkpoint,
        gpus=gpus,
        zero=zero,
        overhead=_bytes(overhead),
        workspace_limit=None if workspace_limit is None else _bytes(workspace_limit),
    )
    result = estimate(
        analysis.rows,
        dtype=base.dtype,
        batch=base.batch,
        optimizer=base.optimizer,
        training=training,
    )
    if format_ == "json":
        from ..report.data import memory_document

        doc = memory_document(analysis, result, budget)
        emit(json_dumps(doc), output)
    else:
        from ..report import memory as report

        buffer = io.StringIO() if output is not None else None
        out = console(buffer)
        report.print_memory(out, analysis, result, budget, layers)
        if buffer is not None:
            emit(buffer.getvalue(), output)
    sys.exit(1 if budget is not None and result.max_batch(budget) < 1 else 0)
