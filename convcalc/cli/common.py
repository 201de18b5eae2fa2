"""What the commands share: option callbacks and decorators, running specs, consoles, output."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn, TypeVar

import click

from ..analysis.analyzer import Analysis, analyze
from ..errors import FileError, Finding, Severity, SpecError, SpecNotFound
from ..frontend.spec import Spec
from ..frontend.spec_schema import DTYPES, OPTIMIZERS
from ..report.escape import visible
from ..rules.lint import LintConfig
from .options import (
    IntegerRange,
    assignments_option,
    codes_option,
    severity_option,
    shape_option,
)
from .output import write_output
from .sources import STDIN_ARGUMENT, is_other_yaml, label, load_stdin

F = TypeVar("F", bound=Callable[..., Any])


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
        type=IntegerRange(min=1, max=1 << 30),
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


class OutputPath(click.Path):
    """click's Path, which would raise ValueError on a NUL in the name (exit 3)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\0" in value:
            message = f"cannot write `{visible(value)}`: a file name cannot hold a NUL character"
            self.fail(message, param, ctx)
        return super().convert(value, param, ctx)


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=OutputPath(dir_okay=False, writable=True),
        help="Write the report to this file instead of standard output (a regular file is "
        "replaced atomically, keeping its mode; devices and FIFOs are written in place).",
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

    def failed(self, level: Severity) -> bool:
        """Whether the spec did not load, or has a finding at ``level`` or above."""
        if self.analysis is None and not self.file_error:
            return True
        return any(f.severity >= level for f in self.all_findings)

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
        except Vanished as exc:
            _vanished(str(exc))
            return
        except FileError as exc:
            error(str(exc))
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


class Vanished(Exception):
    """A file found in a directory that was removed before it could be read."""


def add_specs(
    run: Run, arguments: Sequence[str], *, skip_other_yaml: bool = False, **options: Any
) -> None:
    """Every SPEC argument, with directories expanded to their *.yaml and *.yml files,
    recursively and sorted; an empty directory is an error like a missing file. With
    ``skip_other_yaml`` (--skip-non-specs), files that are no spec are left out silently
    (see :func:`is_other_yaml`)."""
    from ..frontend.spec import load_file

    if list(arguments).count(STDIN_ARGUMENT) > 1:
        raise click.UsageError("`-` (standard input) can be given only once")
    for argument in arguments:
        if argument == STDIN_ARGUMENT or not os.path.isdir(argument):
            if skip_other_yaml and argument != STDIN_ARGUMENT and is_other_yaml(argument):
                continue
            run.add_spec(label(argument), lambda a=argument: load_argument(a), **options)  # type: ignore[misc]
            continue
        found, unreadable = spec_files(argument)
        for path, message in unreadable:
            error(message)
            run.outcomes.append(Outcome(path, file_error=message))
        if not found and not unreadable:
            message = f"no *.yaml or *.yml file in the directory `{argument}`"
            error(message)
            run.outcomes.append(Outcome(argument, file_error=message))

        def load_found(file: str) -> Spec:
            try:
                return load_file(file)
            except SpecNotFound:
                raise Vanished(file) from None

        for file in found:
            if skip_other_yaml and is_other_yaml(file):
                continue
            run.add_spec(file, lambda f=file: load_found(f), **options)  # type: ignore[misc]


def spec_files(top: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The *.yaml and *.yml regular files under the directory ``top`` (symbolic links to
    files included, links to directories not followed), sorted by path components; and the
    paths that could not be read, each with its error message. An entry removed during the
    walk is skipped with a note."""
    from pathlib import Path

    found: list[Path] = []
    unreadable: list[tuple[str, str]] = []
    pending = [Path(top)]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except (FileNotFoundError, NotADirectoryError):
            _vanished(str(directory))
            continue
        except OSError as exc:
            reason = exc.strerror or str(exc)
            unreadable.append(
                (str(directory), f"cannot read the directory `{directory}`: {reason}")
            )
            continue
        for entry in entries:
            path = directory / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif path.suffix in (".yaml", ".yml") and entry.is_file():
                    found.append(path)
            except FileNotFoundError:
                _vanished(str(path))
            except OSError as exc:
                unreadable.append((str(path), f"cannot read `{path}`: {exc.strerror or exc}"))
    found.sort(key=lambda p: p.parts)
    unreadable.sort()
    return [str(p) for p in found], unreadable


def _vanished(path: str) -> None:
    click.echo(
        f"convcalc: note: `{visible(path)}` was removed while convcalc read it; skipped", err=True
    )


def error(message: str) -> None:
    """``convcalc: error: message`` on standard error, what it quotes escaped."""
    click.echo(fitted(f"convcalc: error: {visible(message)}"), err=True)


def fitted(text: str) -> str:
    """A message for standard error, wrapped at words to its width (report/layout.py)."""
    from ..report.layout import wrap

    return "\n".join(wrap(text, stderr_console().width, indent="  "))


def load_argument(argument: str) -> Spec:
    """A SPEC argument that is not a directory: `-` (standard input), a regular file, else a
    bundled name.

    Anything else is refused before it is read (``load_file`` opens without blocking and
    looks first): reading a named pipe would block until something writes to it, and a
    device is no spec.
    """
    from ..frontend.spec import load_spec, not_regular

    if argument == STDIN_ARGUMENT:
        return load_stdin()
    if "\0" in argument:
        raise FileError(f"`{argument}` is not a file name: it holds a NUL character")
    try:
        info = os.stat(argument)
    except (FileNotFoundError, NotADirectoryError):
        return load_spec(argument)  # a bundled name, or a missing file
    except OSError as exc:
        raise FileError(f"cannot read `{argument}`: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise not_regular(argument, info.st_mode)
    return load_spec(argument)


def one_spec(spec: str, **options: Any) -> Outcome:
    """The outcome of one SPEC argument, for the commands that take one; a file that cannot be
    read has been reported and exits 2."""
    run = Run()
    run.add_spec(label(spec), lambda: load_argument(spec), **options)
    outcome = run.outcomes[0]
    if outcome.file_error:
        sys.exit(2)
    return outcome


def refuse(outcome: Outcome, out: Any, note: str | None = None) -> NoReturn:
    """Print the findings that stop a command on ``out`` (a console), then exit 1."""
    from ..report import text

    text.print_findings(out, outcome.all_findings)
    if note is not None:
        click.echo(fitted(note), err=True)
    sys.exit(1)


def console(file: Any = None) -> Any:
    """The console of a text report: a terminal's width, else COLUMNS, else PIPED_WIDTH (a
    pipe, and ``-o`` files always, with no colour)."""
    from rich.console import Console

    from ..report.layout import PIPED_WIDTH

    kwargs: dict[str, Any] = {"highlight": False}
    if file is not None:
        kwargs.update(file=file, width=PIPED_WIDTH, color_system=None, force_terminal=False)
    elif not sys.stdout.isatty() and not _columns():
        kwargs["width"] = PIPED_WIDTH
    return Console(**kwargs)


def _columns() -> bool:
    """Whether COLUMNS holds a width (rich ignores it otherwise)."""
    return os.environ.get("COLUMNS", "").strip().isdigit()


def stderr_console() -> Any:
    """Standard error's console, sized as :func:`console` sizes standard output's."""
    from rich.console import Console

    from ..report.layout import PIPED_WIDTH

    piped = not sys.stderr.isatty() and not _columns()
    return Console(stderr=True, highlight=False, width=PIPED_WIDTH if piped else None)


def write_atomically(path: str, text: str) -> None:
    """The former name of :func:`write_output` (tests/test_limits.py calls it)."""
    write_output(path, text)


def emit_bytes(data: bytes, output: str, option: str = "--output") -> None:
    """A binary file (weights, a model) to ``output`` (see :func:`write_bytes`)."""
    from .output import write_bytes

    try:
        write_bytes(output, data)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write `{visible(output)}`: {visible(exc.strerror or str(exc))}",
            param_hint=option,
        ) from None


def emit(text: str, output: str | None) -> None:
    """A report to standard output, or to --output (see :func:`write_output`)."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_output(output, text)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write `{visible(output)}`: {visible(exc.strerror or str(exc))}",
            param_hint="--output",
        ) from None
