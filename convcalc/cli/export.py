"""`convcalc export`: a checked spec as PyTorch source or as an ONNX model."""

from __future__ import annotations

import sys

import click

from ..records import Shape
from ..report.escape import visible
from .common import (
    debug_option,
    emit,
    emit_bytes,
    one_spec,
    output_option,
    refuse,
    spec_options,
    stderr_console,
)
from .group import cli
from .options import MAX_SEED, IntegerRange


@cli.command(name="export")
@click.argument("spec", metavar="SPEC")
@click.option("--to", "target", type=click.Choice(("torch", "onnx")), required=True,
              help="torch: a PyTorch module's source; onnx: an ONNX model with the weights of "
              "--seed (needs `pip install convcalc[onnx]`).")  # fmt: skip
@spec_options
@click.option("--seed", type=IntegerRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="ONNX: the seed of the weights in the initializers, as `convcalc run "
              "--seed`.")  # fmt: skip
@output_option
@debug_option
def export(
    spec: str,
    target: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    seed: int,
    output: str | None,
    debug: bool,
) -> None:
    """Write SPEC as PyTorch source (--to torch) or as an ONNX model (--to onnx).

    The PyTorch module imports only torch, has one submodule per row, named as convcalc
    names the rows, and writes the merges out in forward; `load_npz(model, FILE)` loads the
    weights that `convcalc run --seed S --save-weights FILE` writes. The ONNX model carries
    the weights of --seed (opset 18) and passes onnx.checker; a layer ONNX has no operator
    for (LOCAL) is reported and nothing is written (exit 1).

    \b
    Examples:
      convcalc export --to torch resnet18 -o resnet18.py
      convcalc export --to onnx resnet18 --seed 7 -o resnet18.onnx
    """
    outcome = one_spec(spec, input=input_, variables=assignments)
    analysis = outcome.analysis
    if analysis is None or not analysis.ok or analysis.output is None:
        refuse(outcome, stderr_console(), "convcalc: the spec has errors: nothing was exported")
    if target == "torch":
        from ..export.torch_source import ExportError, torch_source

        try:
            emit(torch_source(analysis), output)
        except ExportError as exc:
            click.echo(f"convcalc: {visible(str(exc))}", err=True)
            sys.exit(1)
        return
    if output is None:
        raise click.BadParameter("an ONNX model is binary: give a file", param_hint="--output")
    try:
        from ..export.onnx_model import ExportError as OnnxExportError
        from ..export.onnx_model import onnx_bytes
    except ImportError as exc:
        click.echo(f"convcalc: export --to onnx needs the onnx package ({exc}); "
                   "install it with `pip install 'convcalc[onnx]'`", err=True)  # fmt: skip
        sys.exit(2)
    try:
        data = onnx_bytes(analysis, seed)
    except OnnxExportError as exc:
        click.echo(f"convcalc: {visible(str(exc))}", err=True)
        sys.exit(1)
    emit_bytes(data, output)


@cli.command(name="import")
@click.argument("model", metavar="MODEL.onnx")
@output_option
@debug_option
def import_(model: str, output: str | None, debug: bool) -> None:
    """Write the ONNX model MODEL.onnx as a spec in the arrow grammar.

    Every operator becomes a layer, labelled after its node (`@layer1.0.conv1`); branches
    that meet in an Add, Concat or Mul become ADD{ | }, CAT{ | } and MUL{ | } merges. The spec
    checks to the numbers `convcalc check MODEL.onnx` gives. An operator without a convcalc
    layer is a finding that names it and its node (exit 1).

    \b
    Examples:
      convcalc import resnet50.onnx -o resnet50.yaml
      convcalc check resnet50.onnx
    """
    from ..errors import FileError, SpecError
    from ..frontend.onnx_spec import spec_text
    from ..report import text

    try:
        emit(spec_text(model), output)
    except FileError as exc:
        click.echo(f"convcalc: error: {visible(str(exc))}", err=True)
        sys.exit(2)
    except SpecError as exc:
        text.print_findings(stderr_console(), exc.findings)
        sys.exit(1)
