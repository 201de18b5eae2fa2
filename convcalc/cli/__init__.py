"""The command line: parse options, call the library, pick a renderer, map results to exit codes.

Exit codes (CONTRACT §7): 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage
errors and unreadable files; 3 an internal error (a traceback only with --debug).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..report.escape import visible
from . import check, expand, info, memory, run  # noqa: F401  (they register their commands)
from .group import cli

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: no traceback ever escapes, unless --debug asks for one."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="convcalc", standalone_mode=False)
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
    except Exception as exc:  # the one place that turns bugs into exit 3
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
    sys.exit(code if isinstance(code, int) else 0)
