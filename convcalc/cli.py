"""The command line: parse options, call the library, pick a renderer, map results to exit codes.

Exit codes (CONTRACT §7): 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage
errors and unreadable files; 3 an internal error (a traceback only with --debug).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import click

from . import bundled
from .analysis import Analysis, analyze
from .errors import FileError, Finding, Severity, SpecError
from .layers import Shape
from .memory import parse_size
from .schema import DTYPES, OPTIMIZERS, ROUNDINGS, parse_shape
from .spec import Spec, inline, load_spec

F = TypeVar("F", bound=Callable[..., Any])
FAIL_ON = ("error", "warning", "info", "never")


def shape_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Shape | None:
    """``--input 224x224x3``"""
    if value is None:
        return None
    try:
        return parse_shape(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}") from None


def budget_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``--budget 12GiB``"""
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def assignments_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int | bool]:
    """``--set N=3 --set pool=false``"""
    result: dict[str, int | bool] = {}
    for value in values:
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*=\s*(\S+)\s*", value)
        if m is None:
            raise click.BadParameter(f"{value!r}: expected NAME=VALUE, like N=3 or pool=false")
        name, text = m.groups()
        if text.lower() in ("true", "false"):
            result[name] = text.lower() == "true"
            continue
        try:
            result[name] = int(text)
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: the value must be an integer or true/false"
            ) from None
    return result


def spec_options(f: F) -> F:
    """--input and --set, for every command that reads a spec."""
    f = click.option(
        "--set",
        "assignments",
        callback=assignments_option,
        multiple=True,
        help="Set a variable of the spec, e.g. --set N=3 (repeatable).",
    )(f)
    return click.option(
        "--input",
        "input_",
        callback=shape_option,
        help="Override the input volume, e.g. 224x224x3.",
    )(f)


def memory_options(f: F) -> F:
    """--batch, --dtype and --optimizer of the memory estimate."""
    f = click.option(
        "--optimizer",
        type=click.Choice(OPTIMIZERS),
        help="Optimizer whose state is counted (default: the spec's, else momentum).",
    )(f)
    f = click.option(
        "--dtype",
        type=click.Choice(DTYPES),
        help="Value type (default: the spec's, else float32).",
    )(f)
    return click.option(
        "--batch",
        type=click.IntRange(min=1, max=1 << 30),
        help="Images per batch (default: the spec's, else 1).",
    )(f)


def debug_option(f: F) -> F:
    return click.option(
        "--debug", is_flag=True, hidden=False, help="Show a traceback for internal errors."
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="convcalc")
def cli() -> None:
    """Check convolutional-network architectures before anyone trains them.

    A spec is a short YAML file with the architecture in the arrow notation of the CS231n
    notes: INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC.
    convcalc propagates W×H×D volumes, flags strides that don't fit with a concrete fix, and
    counts parameters, multiply-adds and activation memory.

    \b
    Examples:
      convcalc check vgg16
      convcalc check specs/*.yaml --format json
      convcalc expand resnet18
      convcalc list
    """


class Outcome(NamedTuple):
    """What one SPEC argument came to."""

    label: str
    analysis: Analysis | None = None
    findings: Sequence[Finding] = ()
    file_error: str | None = None

    @property
    def all_findings(self) -> Sequence[Finding]:
        return self.analysis.findings if self.analysis else self.findings


class Run:
    """The outcomes of every SPEC argument, in order."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def add_spec(self, label: str, load: Callable[[], Spec], **options: Any) -> None:
        try:
            spec = load()
        except FileError as exc:
            click.echo(f"convcalc: error: {exc}", err=True)
            self.outcomes.append(Outcome(label, file_error=str(exc)))
            return
        except SpecError as exc:
            self.outcomes.append(Outcome(label, findings=exc.findings))
            return
        self.outcomes.append(Outcome(label, analysis=analyze(spec, **options)))

    def exit_code(self, fail_on: str) -> int:
        if any(o.file_error for o in self.outcomes):
            return 2
        if fail_on == "never":
            return 0
        threshold = Severity.parse(fail_on)
        worst = max((f.severity for o in self.outcomes for f in o.all_findings), default=None)
        return 1 if worst is not None and worst >= threshold else 0


def _console() -> Any:
    from rich.console import Console

    kwargs: dict[str, Any] = {"highlight": False}
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        kwargs["width"] = 120
    return Console(**kwargs)


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
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit 1 when a finding at or above this severity exists.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too (same as --fail-on warning).")
@click.option(
    "--format",
    "format_",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Output format.",
)
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
    fail_on: str,
    strict: bool,
    format_: str,
    debug: bool,
) -> None:
    """Check specs: shapes, strides that don't fit, parameters, MACs, memory.

    SPEC is a YAML file or the name of a bundled spec (see `convcalc list`).

    \b
    Examples:
      convcalc check vgg16                       a bundled spec
      convcalc check my-net.yaml --format json   for scripts and CI
      convcalc check alexnet --input 224x224x3   what the paper's 224 does
      convcalc check -e "INPUT -> [CONV(32) -> RELU -> POOL]*2 -> FC(10)" --input 32x32x3
    """
    if not specs and pattern is None:
        raise click.UsageError("give at least one SPEC (a file or a bundled name) or -e PATTERN")
    if pattern is not None and input_ is None:
        raise click.UsageError("-e PATTERN needs --input WxHxD")
    options = {
        "input": input_,
        "variables": assignments,
        "rounding": rounding,
        "batch": batch,
        "dtype": dtype,
        "optimizer": optimizer,
    }
    run = Run()
    for name in specs:
        run.add_spec(name, lambda name=name: load_spec(name), **options)  # type: ignore[misc]
    if pattern is not None:
        assert input_ is not None
        shape = input_
        run.add_spec("<pattern>", lambda: inline(pattern, shape), **options)
    if strict and fail_on in ("error", "never"):
        fail_on = "warning"
    _render_check(run, format_)
    sys.exit(run.exit_code(fail_on))


def _render_check(run: Run, format_: str) -> None:
    from .report import data

    if format_ == "json":
        results = []
        for o in run.outcomes:
            if o.analysis is not None:
                results.append(data.result_json(o.analysis))
            elif not o.file_error:
                results.append(data.failed_json(o.findings[0].file, o.findings))
        click.echo(json.dumps(data.check_document(results), indent=2, ensure_ascii=False))
        return
    from .report import text

    console = _console()
    for i, o in enumerate(run.outcomes):
        if o.file_error:
            continue
        if i:
            console.print()
        if o.analysis is not None:
            text.print_analysis(console, o.analysis)
        else:
            text.print_failed(console, o.findings[0].file, o.findings)


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
@debug_option
def expand(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    format_: str,
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
    from .expand import expanded_json, expanded_yaml
    from .report import text

    run = Run()
    run.add_spec(spec, lambda: load_spec(spec), input=input_, variables=assignments)
    outcome = run.outcomes[0]
    if outcome.file_error:
        sys.exit(2)
    analysis = outcome.analysis
    errors = [f for f in outcome.all_findings if f.severity is Severity.ERROR]
    if analysis is None or analysis.graph is None:
        text.print_findings(_stderr_console(), outcome.all_findings)
        sys.exit(1)
    if format_ == "json":
        click.echo(json.dumps(expanded_json(analysis), indent=2, ensure_ascii=False))
    else:
        click.echo(expanded_yaml(analysis), nl=False)
    if errors:
        text.print_findings(_stderr_console(), errors)
        sys.exit(1)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@memory_options
@click.option(
    "--budget",
    callback=budget_option,
    help="Memory to train in, like 12GiB, 16GB or 8000MiB: prints the largest batch that fits.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Output format.",
)
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
    debug: bool,
) -> None:
    """Break down the memory SPEC needs to train and to infer, per image and per batch.

    Activations and their gradients, max-pool switches, im2col workspace, parameters with
    their gradients and optimizer state (the notes' three sources of memory), the inference
    peak with tensors freed after their last use, and per layer, where the activations and
    the parameters sit. MB = 1024² bytes; GB = 1000³ and GiB = 1024³ bytes in --budget.

    \b
    Examples:
      convcalc memory vgg16
      convcalc memory vgg16 --batch 32 --optimizer adam --dtype float16
      convcalc memory resnet18 --budget 12GiB --format json
    """
    from .report import memory as report

    run = Run()
    options = {"input": input_, "variables": assignments}
    run.add_spec(spec, lambda: load_spec(spec), batch=batch, dtype=dtype, optimizer=optimizer,
                 **options)  # fmt: skip
    outcome = run.outcomes[0]
    if outcome.file_error:
        sys.exit(2)
    analysis = outcome.analysis
    if analysis is None or analysis.memory is None:
        from .report import text

        text.print_findings(_console(), outcome.all_findings)
        sys.exit(1)
    estimate = analysis.memory
    if format_ == "json":
        doc: dict[str, Any] = {
            "version": 1,
            "file": analysis.spec.path,
            "name": analysis.spec.name,
            **estimate.to_json(),
            "per_image": estimate.per_image._asdict(),
            "layers": report.layer_json(analysis, estimate),
        }
        if budget is not None:
            doc["budget"] = budget
            doc["max_batch"] = estimate.max_batch(budget)
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        console = _console()
        report.print_memory(console, analysis, estimate)
        if budget is not None:
            console.print()
            for line in report.budget_lines(estimate, budget):
                console.print(line, soft_wrap=True)
    sys.exit(1 if budget is not None and estimate.max_batch(budget) < 1 else 0)


@cli.command(name="list")
@click.option(
    "--format", "format_", type=click.Choice(("text", "json")), default="text", show_default=True
)
@debug_option
def list_(format_: str, debug: bool) -> None:
    """List the bundled specs, with their input, output, parameters and MACs.

    \b
    Examples:
      convcalc list
      convcalc list --format json
    """
    analyses = [analyze(load_spec(name)) for name in bundled.names()]
    if format_ == "json":
        entries = [
            {
                "name": name,
                "title": a.spec.name,
                "input": list(a.input),
                "output": list(a.output) if a.output else None,
                "params": a.totals.params,
                "macs": a.totals.macs,
                "source": _source_line(a),
                "file": a.spec.path,
            }
            for name, a in zip(bundled.names(), analyses, strict=True)
        ]
        click.echo(json.dumps({"version": 1, "specs": entries}, indent=2, ensure_ascii=False))
        return
    from .analysis import show_shape
    from .report.text import grid

    body = [
        [
            name,
            show_shape(a.input),
            show_shape(a.output) if a.output else "—",
            f"{a.totals.params:,}",
            f"{a.totals.macs:,}",
            _source_line(a),
        ]
        for name, a in zip(bundled.names(), analyses, strict=True)
    ]
    header = ["name", "input", "output", "params", "MACs", "source"]
    right = [False, False, False, True, True, False]
    _console().print(grid(header, body, right), soft_wrap=True, crop=False)


def _source_line(analysis: Analysis) -> str:
    """The first sentence of a spec's description."""
    text = " ".join((analysis.spec.description or "").split())
    return re.split(r"(?<!\bal)\.\s+(?=[A-Z])", text)[0].rstrip(".")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: no traceback ever escapes, unless --debug asks for one."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="convcalc", standalone_mode=False)
    except click.exceptions.UsageError as exc:  # includes BadParameter, NoSuchOption
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the one place that turns bugs into exit 3
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"convcalc: internal error: {type(exc).__name__}: {exc}\n"
                "Run again with --debug for the traceback, and please report it.",
                err=True,
            )
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
