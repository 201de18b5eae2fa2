"""What the commands share: option callbacks and decorators, running specs, consoles, output."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn, TypeVar

import click

from ..analysis.analyzer import Analysis, analyze
from ..errors import FileError, Finding, Severity, SpecError
from ..frontend.spec import Spec
from ..frontend.spec_schema import DTYPES, OPTIMIZERS, parse_shape
from ..records import Shape
from ..rules.lint import LintConfig, unknown_codes
from ..units import parse_size

F = TypeVar("F", bound=Callable[..., Any])


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


def codes_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> frozenset[str] | None:
    """``--ignore CC504,CC506 --ignore CC5``: codes or prefixes, checked against the catalogue."""
    if not values:
        return None
    codes = frozenset(c.strip().upper() for v in values for c in v.split(",") if c.strip())
    bad = unknown_codes(sorted(codes))
    if bad:
        raise click.BadParameter(f"no rule is {', '.join(bad)} (see `convcalc rules`)")
    return codes


def severity_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Severity]:
    """``--severity CC502=error``"""
    result = {}
    for value in values:
        m = re.fullmatch(r"\s*(CC\d{0,3})\s*=\s*(error|warning|info)\s*", value, re.I)
        if m is None:
            raise click.BadParameter(f"{value!r}: expected CODE=LEVEL, like CC502=error")
        code = m.group(1).upper()
        if unknown_codes([code]):
            raise click.BadParameter(f"no rule is {code} (see `convcalc rules`)")
        result[code] = Severity.parse(m.group(2))
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


def lint_options(f: F) -> F:
    """--select, --ignore and --severity over the spec's own `lint:`."""
    f = click.option(
        "--severity",
        "severities",
        multiple=True,
        callback=severity_option,
        metavar="CODE=LEVEL",
        help="Re-grade a rule (or a prefix), e.g. --severity CC502=error (repeatable).",
    )(f)
    f = click.option(
        "--ignore",
        multiple=True,
        callback=codes_option,
        metavar="CODES",
        help="Rules (or prefixes, like CC5) not to report, comma-separated (repeatable).",
    )(f)
    return click.option(
        "--select",
        multiple=True,
        callback=codes_option,
        metavar="CODES",
        help="Only these rules (or prefixes), comma-separated (repeatable).",
    )(f)


def lint_config(
    select: frozenset[str] | None, ignore: frozenset[str] | None, severity: dict[str, Severity]
) -> LintConfig | None:
    if select is None and not ignore and not severity:
        return None
    return LintConfig(select, ignore or frozenset(), severity)


def format_option(*choices: str) -> Callable[[F], F]:
    """--format with these choices, the first being the default."""
    return click.option(
        "--format",
        "format_",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        help="Write the report to this file (atomically) instead of standard output.",
    )(f)


def debug_option(f: F) -> F:
    return click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")(f)


class Outcome(NamedTuple):
    """What one SPEC argument came to."""

    label: str
    analysis: Analysis | None = None
    findings: Sequence[Finding] = ()
    file_error: str | None = None

    @property
    def all_findings(self) -> Sequence[Finding]:
        return self.analysis.findings if self.analysis else self.findings

    @property
    def file(self) -> str:
        if self.analysis is not None:
            return self.analysis.spec.path
        return self.findings[0].file if self.findings else self.label


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

    @property
    def checked(self) -> list[Outcome]:
        """The outcomes of specs that were read (loaded or refused with findings)."""
        return [o for o in self.outcomes if not o.file_error]

    def exit_code(self, fail_on: Severity | None) -> int:
        if any(o.file_error for o in self.outcomes):
            return 2
        worst = max((f.severity for o in self.outcomes for f in o.all_findings), default=None)
        return 1 if fail_on is not None and worst is not None and worst >= fail_on else 0


def add_specs(run: Run, arguments: Sequence[str], **options: Any) -> None:
    """Every SPEC argument, with directories expanded to their *.yaml and *.yml files,
    recursively and sorted; an empty directory is an error like a missing file."""
    from ..frontend.spec import load_spec

    for argument in arguments:
        if not os.path.isdir(argument):
            run.add_spec(argument, lambda a=argument: load_spec(a), **options)  # type: ignore[misc]
            continue
        from pathlib import Path

        path = Path(argument)
        found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            message = f"no *.yaml or *.yml file in the directory `{argument}`"
            click.echo(f"convcalc: error: {message}", err=True)
            run.outcomes.append(Outcome(argument, file_error=message))
        for file in found:
            run.add_spec(str(file), lambda f=file: load_spec(f), **options)  # type: ignore[misc]


def one_spec(spec: str, **options: Any) -> Outcome:
    """The outcome of one SPEC argument, for the commands that take one; a file that cannot be
    read has been reported and exits 2."""
    from ..frontend.spec import load_spec

    run = Run()
    run.add_spec(spec, lambda: load_spec(spec), **options)
    outcome = run.outcomes[0]
    if outcome.file_error:
        sys.exit(2)
    return outcome


def refuse(outcome: Outcome, out: Any, note: str | None = None) -> NoReturn:
    """Print the findings that stop a command on ``out`` (a console), then exit 1."""
    from ..report import text

    text.print_findings(out, outcome.all_findings)
    if note is not None:
        click.echo(note, err=True)
    sys.exit(1)


def console(file: Any = None) -> Any:
    from rich.console import Console

    kwargs: dict[str, Any] = {"highlight": False}
    if file is not None:
        kwargs.update(file=file, width=120, color_system=None, force_terminal=False)
    elif not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        kwargs["width"] = 120
    return Console(**kwargs)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def write_atomically(path: str, text: str) -> None:
    """Write a file so that an interrupted run never leaves it truncated: a temporary file in
    the same directory, then a rename over the target."""
    import tempfile
    from pathlib import Path

    target = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path(".")
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(text: str, output: str | None) -> None:
    """A report to standard output, or atomically to --output."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomically(output, text)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write `{output}`: {exc.strerror or exc}", param_hint="--output"
        ) from None
