"""`convcalc list`, `show`, `rules` and `schema`: what convcalc knows."""

from __future__ import annotations

import re
import sys

import click

from ..analysis.analyzer import analyze
from ..frontend import bundled
from ..frontend.spec import load_spec
from ..report.escape import json_dumps
from .common import console, debug_option, emit, format_option, output_option
from .group import cli
from .options import shown

#: Where the modeline of a spec printed by `show` finds the JSON Schema: next to the spec.
SCHEMA = "convcalc.schema.json"


@cli.command(name="list")
@format_option("text", "json")
@debug_option
def list_(format_: str, debug: bool) -> None:
    """List the bundled specs, with their input, output, parameters and MACs.

    \b
    Examples:
      convcalc list
      convcalc list --format json
    """
    from ..report.data import list_document
    from ..report.info import print_specs

    names = bundled.names()
    analyses = [analyze(load_spec(name)) for name in names]
    if format_ == "json":
        doc = list_document(names, analyses)
        click.echo(json_dumps(doc), nl=False)
        return
    print_specs(console(), names, analyses)


@cli.command()
@click.argument("name", metavar="NAME", required=False)
@output_option
@debug_option
def show(name: str | None, output: str | None, debug: bool) -> None:
    """Print the source of the bundled spec NAME, to start a design of your own.

    The file as it ships, comments included: `convcalc show vgg16 > my-net.yaml`, edit
    my-net.yaml, then `convcalc check my-net.yaml`. Its first line points editors at
    convcalc.schema.json next to it (`convcalc schema -o convcalc.schema.json` writes it).
    `convcalc expand` prints the expanded layer list instead. An unknown NAME exits 2.

    \b
    Examples:
      convcalc show vgg16
      convcalc show resnet18 -o my-resnet.yaml
    """
    from ..errors import did_you_mean

    if name is None:
        raise click.UsageError(
            "give the NAME of a bundled spec, e.g. `convcalc show vgg16 > my-net.yaml`; "
            f"the names: {', '.join(bundled.names())}"
        )
    found = bundled.path(name)
    if found is None:
        raise click.BadParameter(
            f"no bundled spec is named {shown(name)}{did_you_mean(name, bundled.names())} "
            "(see `convcalc list`)",
            param_hint="NAME",
        )
    with open(found, encoding="utf-8") as handle:
        source = handle.read()
    # the bundled files point at the repository's schema; a copy points next to itself
    emit(re.sub(r"\A(# yaml-language-server: \$schema=)\S*", r"\1" + SCHEMA, source), output)
    sys.exit(0)


@cli.command()
@click.argument("code", required=False)
@format_option("text", "json")
@debug_option
def rules(code: str | None, format_: str, debug: bool) -> None:
    """List the rule catalogue, or explain one rule (like `ruff rule`).

    CODE may be a prefix: `convcalc rules CC5` explains every design rule.

    \b
    Examples:
      convcalc rules
      convcalc rules CC201
      convcalc rules CC5 --format json
    """
    from ..report.data import rules_document
    from ..report.info import print_explanations, print_rules
    from ..rules.catalogue import RULES

    chosen = [r for c, r in RULES.items() if code is None or c.startswith(code.upper())]
    if not chosen:
        from ..errors import did_you_mean

        raise click.BadParameter(
            f"no rule is {code}{did_you_mean(str(code), RULES)}", param_hint="CODE"
        )
    if format_ == "json":
        doc = rules_document(chosen)
        click.echo(json_dumps(doc), nl=False)
        return
    if code is None:
        print_rules(console(), chosen)
    else:
        print_explanations(console(), chosen)


@cli.command()
@output_option
@debug_option
def schema(output: str | None, debug: bool) -> None:
    """Print the JSON Schema (draft-07) of spec files, for editors and CI.

    With the yaml-language-server (VS Code's YAML extension and others), a first line
    `# yaml-language-server: $schema=convcalc.schema.json` in a spec gives completion,
    hover documentation and errors while typing.

    \b
    Examples:
      convcalc schema > convcalc.schema.json
      convcalc schema --output convcalc.schema.json
    """
    from ..report.json_schema import json_schema

    emit(json_dumps(json_schema()), output)
    sys.exit(0)
