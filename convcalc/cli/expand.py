"""`convcalc expand`: the fully expanded layer list of a spec."""

from __future__ import annotations

import sys

import click

from ..errors import Severity
from ..records import Shape
from ..report.escape import json_dumps
from .common import (
    debug_option,
    emit,
    one_spec,
    output_option,
    refuse,
    spec_options,
    stderr_console,
)
from .group import cli


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(("yaml", "json")),
    default="yaml",
    show_default=True,
    help="A spec with every layer written out, or a JSON list.",
)
@output_option
@debug_option
def expand(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    format_: str,
    output: str | None,
    debug: bool,
) -> None:
    """Print the fully expanded layer list of SPEC.

    Every repetition, block call and default is written out; the YAML form is itself a spec
    that checks to the same rows.

    \b
    Examples:
      convcalc expand vgg16
      convcalc show vgg16 | convcalc expand -     (- reads standard input)
      convcalc expand cs231n-pattern --set N=2 --format json
    """
    from ..report import text
    from ..report.expanded import expanded_json, expanded_yaml

    outcome = one_spec(spec, input=input_, variables=assignments)
    analysis = outcome.analysis
    errors = [f for f in outcome.all_findings if f.severity is Severity.ERROR]
    if analysis is None or analysis.graph is None:
        refuse(outcome, stderr_console())
    if format_ == "json":
        emit(json_dumps(expanded_json(analysis)), output)
    else:
        emit(expanded_yaml(analysis), output)
    if errors:
        text.print_findings(stderr_console(), errors)
        sys.exit(1)


@cli.command()
@click.argument("spec", metavar="SPEC")
@click.option(
    "--fc-to-conv",
    "fc_to_conv",
    is_flag=True,
    required=True,
    help="Turn every FC layer into the equivalent CONV layer (the notes' FC→CONV conversion).",
)
@spec_options
@output_option
@debug_option
def convert(
    spec: str,
    fc_to_conv: bool,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    output: str | None,
    debug: bool,
) -> None:
    """Print SPEC with every FC layer converted to a CONV layer, as a spec.

    The first FC, looking at a W×H×D volume, becomes CONV(K, F=W×H); the next ones CONV(K,
    F=1): the same weights, so the same parameter counts. With --input larger than the spec's
    input, the converted network slides over the whole image in one pass and gives an array
    of class scores (the notes: VGG-16 on 384×384×3 gives 6×6×1000, replacing 36 evaluations
    of 224×224 crops at stride 32). The summary goes to standard error.

    \b
    Examples:
      convcalc convert --fc-to-conv vgg16 > vgg16-conv.yaml
      convcalc convert --fc-to-conv vgg16 | convcalc check -
      convcalc convert --fc-to-conv vgg16 --input 384x384x3 -o vgg16-384.yaml
    """
    from ..analysis.convert import fc_to_conv as convert_graph
    from ..records import show_shape
    from ..report.expanded import converted_yaml
    from ..rules.design import strides

    outcome = one_spec(spec, variables=assignments)
    analysis = outcome.analysis
    if analysis is None or analysis.output is None:
        refuse(outcome, stderr_console())
    converted = convert_graph(analysis, input=input_)  # the one analysis of the converted net
    if converted.output is None:  # the input it cannot take, or a CONV past the limits
        note = (
            f"convert: {outcome.label} does not take an input of {show_shape(input_)}"
            if input_ is not None and input_ != analysis.input
            else "convert: the converted network does not check; the findings above are about it"
        )
        refuse(outcome._replace(analysis=converted), stderr_console(), note)
    converted_text = converted_yaml(analysis, converted, assignments)
    emit(converted_text, output)
    w, h, _ = converted.output
    original = analysis.input
    stride = max(strides(converted.rows))
    summary = (
        f"converted {sum(r.type == 'FC' for r in analysis.rows)} FC layers; "
        f"{converted.totals.params:,} parameters as before ({analysis.totals.params:,}); "
        f"{show_shape(converted.input)} → {show_shape(converted.output)}"
    )
    if (w, h) != (1, 1):
        summary += (
            f": one pass gives a {w}×{h} array of scores, replacing {w * h} evaluations of the "
            f"original on {original[0]}×{original[1]} crops at stride "
            f"{stride[0] if stride[0] == stride[1] else f'{stride[0]}×{stride[1]}'}"
        )
    from ..report.layout import wrap

    click.echo("\n".join(wrap(summary, stderr_console().width, indent="    ")), err=True)
