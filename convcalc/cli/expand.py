"""`convcalc expand`: the fully expanded layer list of a spec."""

from __future__ import annotations

import json
import sys

import click

from ..errors import Severity
from ..layers import Shape
from ..spec import load_spec
from .common import Run, debug_option, emit, output_option, spec_options, stderr_console
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
      convcalc expand cs231n-pattern --set N=2 --format json
    """
    from ..expand import expanded_json, expanded_yaml
    from ..report import text

    run = Run()
    run.add_spec(spec, lambda: load_spec(spec), input=input_, variables=assignments)
    outcome = run.outcomes[0]
    if outcome.file_error:
        sys.exit(2)
    analysis = outcome.analysis
    errors = [f for f in outcome.all_findings if f.severity is Severity.ERROR]
    if analysis is None or analysis.graph is None:
        text.print_findings(stderr_console(), outcome.all_findings)
        sys.exit(1)
    if format_ == "json":
        emit(json.dumps(expanded_json(analysis), indent=2, ensure_ascii=False) + "\n", output)
    else:
        emit(expanded_yaml(analysis), output)
    if errors:
        text.print_findings(stderr_console(), errors)
        sys.exit(1)
