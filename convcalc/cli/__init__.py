"""The command line: parse options, call the library, pick a renderer, map results to exit codes.

Exit codes (README, Commands): 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage
errors, unreadable files and reports that cannot be written; 3 an internal error (a traceback
only with --debug).
"""

from __future__ import annotations

import errno
import gc
import io
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from ..report.escape import visible
from .group import cli  # each command's module is imported when it runs (group.MODULES)

__all__ = ["cli", "main"]


#: Errors of writing the report (to standard output: -o reports its own): exit 2, not 3.
WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF})


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process was started without one (sys.stdout is None)."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


def _collect_rarely() -> None:
    """A spec at the limits builds a few million objects that all live to the end of the run,
    and the cycle collector's passes over them took a third of its time (30,000 blocks: 1.85 s
    of CPU, 1.23 s without). The modules loaded so far are frozen out of its passes, and a
    young-generation pass waits for 100,000 new objects instead of 700, so the old
    generation is almost never traversed again; what convcalc builds is freed by reference
    counts, not left to the collector."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: no traceback ever escapes, unless --debug asks for one."""
    if argv is None:  # the program itself, not a caller's process
        _collect_rarely()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if sys.stdout is None:  # a report to -o needs none; one to standard output says so
        sys.stdout = _ClosedOutput()
    elif isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        # a terminal that cannot show × or → gets \xd7, not an internal error
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        try:
            code = cli.main(args=args, prog_name="convcalc", standalone_mode=False)
        finally:
            sys.stdout.flush()  # a full disk shows here, not as a warning at exit
    except click.exceptions.UsageError as exc:  # includes BadParameter, NoSuchOption
        setattr(exc, "message", visible(exc.message, keep="\n"))  # noqa: B010  (Final in the stubs)
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
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            _internal_error(exc, debug)
        click.echo(f"convcalc: error: cannot write the report: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        _internal_error(exc, debug)
    sys.exit(code if isinstance(code, int) else 0)


def _internal_error(exc: Exception, debug: bool) -> NoReturn:
    """The one place that turns bugs into exit 3."""
    if debug:
        import traceback

        traceback.print_exc()
    else:
        click.echo(
            f"convcalc: internal error: {type(exc).__name__}: {visible(str(exc))}\n"
            "Run again with --debug for the traceback, and please report it.",
            err=True,
        )
    sys.exit(3)
