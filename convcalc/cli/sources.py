"""Where a SPEC comes from besides a file or a bundled name: standard input (`-`), and which
YAML files `--skip-non-specs` leaves alone (the pre-commit hook)."""

from __future__ import annotations

import io
import os
import re
import stat
import sys

from .. import limits
from ..errors import FileError
from ..frontend.spec import Spec
from ..source import STDIN

#: The SPEC argument that reads standard input (a file named `-` is `./-`).
STDIN_ARGUMENT = "-"
#: A top-level `arch:` key: a block mapping's key starts its line (quoted or not).
_ARCH = re.compile(rb"""^(?:\xef\xbb\xbf)?(?:arch|"arch"|'arch')[ \t]*:""", re.MULTILINE)
#: Files with these endings are specs by name: never skipped, even without `arch:`.
SPEC_SUFFIXES = (".convcalc.yaml", ".convcalc.yml")


def label(argument: str) -> str:
    """How a SPEC argument is named before it is read: `-` is ``<stdin>``."""
    return STDIN if argument == STDIN_ARGUMENT else argument


def load_stdin() -> Spec:
    """The spec piped into standard input (``convcalc convert --fc-to-conv vgg16 | convcalc
    check -``), shown as ``<stdin>``; a terminal, a closed or an empty input is refused."""
    from ..frontend.spec import load_stream

    stream = sys.stdin
    if stream is None or stream.closed:
        raise FileError("standard input is closed: pipe a spec into `-`, or give a file name")
    if stream.isatty():
        raise FileError(
            "`-` reads a spec from standard input, which is a terminal here: pipe one in "
            "(`convcalc show vgg16 | convcalc check -`, `convcalc check - < my-net.yaml`) "
            "or give the file's name"
        )
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text stream without bytes beneath (an embedding's replacement)
        buffer = io.BytesIO(stream.read(limits.MAX_FILE_BYTES + 1).encode("utf-8", "replace"))
    return load_stream(buffer)


def is_other_yaml(path: str) -> bool:
    """Whether ``path`` is a YAML file of something else, which `--skip-non-specs` skips: a
    regular file without a top-level `arch:` key whose name does not end in .convcalc.yaml.

    Anything that cannot be read this way (missing, not a regular file, unreadable) is not
    skipped: checking it reports the problem.
    """
    if path.endswith(SPEC_SUFFIXES):
        return False
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.set_blocking(fd, True)
        head = os.read(fd, limits.MAX_FILE_BYTES + 1)
    except OSError:
        return False
    finally:
        os.close(fd)
    return _ARCH.search(head) is None
