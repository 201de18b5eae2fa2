"""The loading functions of the Python API refuse a wrong argument type with a TypeError that
names the function and the argument, as Python's own functions do."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.frontend import spec as spec_module

TEXT = "name: t\ninput: 8x8x3\narch: INPUT -> FC(2)\n"


class BytesPath(os.PathLike[bytes]):
    def __fspath__(self) -> bytes:
        return b"spec.yaml"


CALLS: list[tuple[Callable[[], Any], str]] = [
    (lambda: convcalc.load_text(None), "load_text() argument 'text' must be str, not NoneType"),
    (
        lambda: convcalc.load_text(TEXT.encode()),
        "load_text() argument 'text' must be str, not bytes",
    ),
    (
        lambda: convcalc.load_text(TEXT, None),
        "load_text() argument 'name' must be str, not NoneType",
    ),
    (
        lambda: convcalc.load(TEXT.encode()),
        "load() argument 'source' must be str or os.PathLike, not bytes",
    ),
    (
        lambda: convcalc.load(None),
        "load() argument 'source' must be str or os.PathLike, not NoneType",
    ),
    (lambda: convcalc.load(3), "load() argument 'source' must be str or os.PathLike, not int"),
    (
        lambda: convcalc.load(TEXT, name=b"n"),
        "load() argument 'name' must be str or None, not bytes",
    ),
    (
        lambda: convcalc.load(BytesPath()),
        "load() argument 'source' must be a path of str, not of bytes",
    ),
    (
        lambda: convcalc.load_file(None),
        "load_file() argument 'path' must be str or os.PathLike, not NoneType",
    ),
    (
        lambda: convcalc.load_file(b"spec.yaml"),
        "load_file() argument 'path' must be str or os.PathLike, not bytes",
    ),
    (
        lambda: convcalc.load_file(BytesPath()),
        "load_file() argument 'path' must be a path of str, not of bytes",
    ),
    (
        lambda: convcalc.load_file("spec.yaml", display=1),
        "load_file() argument 'display' must be str or None, not int",
    ),
    (
        lambda: spec_module.load_spec(None),
        "load_spec() argument 'argument' must be str or os.PathLike, not NoneType",
    ),
    (
        lambda: spec_module.inline(b"INPUT", (8, 8, 3)),
        "inline() argument 'pattern' must be str, not bytes",
    ),
    (
        lambda: spec_module.inline("INPUT", (8, 8, 3), name=None),
        "inline() argument 'name' must be str, not NoneType",
    ),
]


@pytest.mark.parametrize(("call", "message"), CALLS, ids=[m for _, m in CALLS])
def test_error_wrong_argument_types(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(TypeError) as info:
        call()
    assert str(info.value) == message


def test_right_argument_types_still_load(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(TEXT, encoding="utf-8")
    for spec in (
        convcalc.load_text(TEXT),
        convcalc.load(TEXT),
        convcalc.load(path),
        convcalc.load(str(path)),
        convcalc.load_file(path, display="shown.yaml"),
        convcalc.load("vgg16"),
    ):
        assert isinstance(spec, convcalc.Spec)
    assert convcalc.load_file(path, display="shown.yaml").path == "shown.yaml"


def test_error_a_path_with_a_nul_character_is_a_file_error() -> None:
    with pytest.raises(convcalc.FileError) as info:
        convcalc.load_file("spec\x00.yaml")
    assert str(info.value) == (
        "cannot read `'spec\\x00.yaml'`: a path cannot contain a NUL character"
    )


def test_load_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    """A FIFO with no writer would block a plain open() forever: in its own process, with a
    timeout, so that a regression fails instead of hanging the suite."""
    import subprocess
    import sys

    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    code = (
        "import sys, convcalc\n"
        "try:\n    convcalc.load_file(sys.argv[1])\n"
        "except convcalc.FileError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"`{fifo}` is a named pipe (FIFO), not a regular file")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/dev/null", "`/dev/null` is a character device, not a regular file"),
        (".", "`.` is a directory, not a spec file"),
    ],
)
def test_load_file_refuses_what_is_not_a_regular_file(path: str, message: str) -> None:
    with pytest.raises(convcalc.FileError, match="^" + message.replace(".", r"\.")):
        convcalc.load_file(path)


def test_load_file_reads_a_file_whose_size_is_unknown() -> None:
    """/proc files say they hold 0 bytes: they are read up to the limit, not as empty."""
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("no /proc")
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.load_file(status)
    assert "empty" not in info.value.findings[0].message
