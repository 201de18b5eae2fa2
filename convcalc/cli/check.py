"""`convcalc check`: the layer table, totals, memory and findings of each spec."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from ..errors import Severity
from ..frontend.spec import inline
from ..frontend.spec_schema import ROUNDINGS
from ..records import Shape
from ..report.escape import json_dumps
from ..report.text import Display
from .common import (
    Run,
    add_specs,
    console,
    debug_option,
    emit,
    error,
    lint_config,
    lint_options,
    memory_options,
    output_option,
    spec_options,
)
from .group import cli

if TYPE_CHECKING:
    from ..report.ci import Result

FORMATS = ("text", "json", "markdown", "github", "sarif", "junit")
FAIL_ON = ("error", "warning", "info", "never")


@cli.command()
@click.argument("specs", nargs=-1, metavar="SPEC...")
@click.option(
    "-e", "--pattern", help="Check an inline pattern instead of (or besides) files; needs --input."
)
@spec_options
@click.option(
    "--rounding",
    type=click.Choice(ROUNDINGS),
    help="How strides that don't fit are rounded (default: the spec's, else floor).",
)
@memory_options
@lint_options
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding at or above this severity exists.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too (same as --fail-on warning).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings exist.")
@click.option(
    "--skip-non-specs",
    is_flag=True,
    help="Skip, silently, YAML files without a top-level `arch:` key (unless named "
    "*.convcalc.yaml): other tools' YAML next to specs (the pre-commit hook uses it).",
)
@click.option(
    "--show-info/--hide-info",
    default=True,
    show_default=True,
    help="Print info findings (text, markdown, github); hidden ones still count for --fail-on.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only the findings and one summary line per spec (text format).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text, json, markdown (a PR comment), github (workflow commands), sarif, junit.",
)
@output_option
@debug_option
def check(
    specs: tuple[str, ...],
    pattern: str | None,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    rounding: str | None,
    batch: int | None,
    dtype: str | None,
    optimizer: str | None,
    select: frozenset[str] | None,
    ignore: frozenset[str] | None,
    severities: dict[str, Severity],
    fail_on: str,
    strict: bool,
    exit_zero: bool,
    skip_non_specs: bool,
    show_info: bool,
    quiet: bool,
    format_: str,
    output: str | None,
    debug: bool,
) -> None:
    """Check specs: shapes, strides that don't fit, parameters, MACs, memory, design advice.

    SPEC is a YAML file, a directory (every *.yaml and *.yml in it, recursively), the name
    of a bundled spec (see `convcalc list`), or - for a spec piped into standard input. A
    broken spec does not stop the others; a named pipe, a device, an empty standard input or
    a directory that cannot be read exits 2.

    \b
    Examples:
      convcalc check vgg16                       a bundled spec
      convcalc convert --fc-to-conv vgg16 | convcalc check -
      convcalc check specs/ --format github      every spec of a directory, in CI
      convcalc check my-net.yaml --format json   for scripts
      convcalc check alexnet --input 224x224x3   what the paper's 224 does
      convcalc check my-net.yaml --ignore CC504 --severity CC502=error --strict
      convcalc check specs/ -q --hide-info       findings and a line per spec
      convcalc check -e "INPUT -> [CONV(32) -> POOL]*2 -> FC(10)" --input 32x32x3
    """
    if not specs and pattern is None:
        raise click.UsageError(
            "give at least one SPEC (a file, a bundled name or - for standard input) or -e PATTERN"
        )
    if pattern is not None and input_ is None:
        raise click.UsageError("-e PATTERN needs --input WxHxD")
    options = {
        "input": input_,
        "variables": assignments,
        "rounding": rounding,
        "batch": batch,
        "dtype": dtype,
        "optimizer": optimizer,
        "lint": lint_config(select, ignore, severities),
    }
    run = Run()
    add_specs(run, specs, skip_other_yaml=skip_non_specs, **options)
    if pattern is not None:
        assert input_ is not None
        shape = input_
        run.add_spec("<pattern>", lambda: inline(pattern, shape), **options)
    if strict and fail_on in ("error", "never"):
        fail_on = "warning"
    threshold = None if fail_on == "never" or exit_zero else Severity.parse(fail_on)
    display = Display(show_info=show_info, quiet=quiet)
    emit(render(run, format_, threshold, output, display), output)
    code = run.exit_code(threshold)
    if format_ == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        from ..report import ci

        path = os.environ["GITHUB_STEP_SUMMARY"]
        try:
            with open(path, "a", encoding="utf-8") as summary:
                summary.write(ci.markdown(results(run, display)))
        except OSError as exc:
            error(f"cannot append the job summary to `{path}` ($GITHUB_STEP_SUMMARY): "
                  f"{exc.strerror or exc}")  # fmt: skip
            code = 2
    sys.exit(code)


def results(run: Run, display: Display | None = None) -> list[Result]:
    """The outcomes of the specs that were read, their findings as ``display`` shows them."""
    from ..report.ci import Result

    shown = display.shown if display is not None else list
    return [Result(o.file, o.analysis, shown(o.all_findings)) for o in run.checked]


def render(
    run: Run,
    format_: str,
    fail_on: Severity | None,
    output: str | None,
    display: Display | None = None,
) -> str:
    """The whole report of a run as text in one of the formats."""
    from .. import __version__
    from ..report import ci, data

    if format_ == "json":
        docs = [
            data.result_json(o.analysis) if o.analysis else data.failed_json(o.file, o.findings)
            for o in run.checked
        ]
        return json_dumps(data.check_document(docs))
    display = display or Display()
    if format_ == "markdown":
        return ci.markdown(results(run, display))
    if format_ == "github":
        return ci.github(results(run, display))
    found = results(run)
    if format_ == "sarif":
        return ci.sarif_text(found, __version__)
    if format_ == "junit":
        return ci.junit(found, fail_on)
    return _text(run, output, display, fail_on)


def _text(run: Run, output: str | None, display: Display, fail_on: Severity | None) -> str:
    """Each spec's report; after many, the legend once and a line for the whole run."""
    from ..report import text

    buffer = io.StringIO() if output is not None else None
    out = console(buffer)
    many = len(run.outcomes) > 1
    each = replace(display, legend=display.legend and not many)
    for i, o in enumerate(run.checked):
        if i and not display.quiet:
            out.print()
        if o.analysis is not None:
            text.print_analysis(out, o.analysis, each)
        else:
            text.print_failed(out, o.file, o.findings, each)
    if many:
        if not display.quiet and run.checked:
            out.print()
            text.print_wrapped(out, text.LEGEND, "dim")
        failed = any(o.file_error or o.failed(fail_on or Severity.ERROR) for o in run.outcomes)
        style = "bold red" if failed else "bold"
        text.print_wrapped(out, run_summary(run, fail_on, display), style)
    return buffer.getvalue() if buffer is not None else ""


def run_summary(run: Run, fail_on: Severity | None, display: Display) -> str:
    """``12 specs, 2 failed (1 unreadable) · 3 errors, 5 warnings, 40 info``: failed at
    --fail-on's level, at errors when nothing fails the run (--fail-on never, --exit-zero)."""
    from ..report.text import summary

    level = fail_on or Severity.ERROR
    unreadable = sum(1 for o in run.outcomes if o.file_error)
    failed = sum(1 for o in run.outcomes if o.file_error or o.failed(level))
    findings = [f for o in run.checked for f in o.all_findings]
    hidden = len(findings) - len(display.shown(findings))
    line = f"{len(run.outcomes):,} specs, {failed:,} failed"
    if unreadable:
        line += f" ({unreadable:,} unreadable)"
    return f"{line} · {summary(findings, hidden)}"
