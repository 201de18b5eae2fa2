"""--output/-o never damages what it points at: devices, named pipes and symbolic links stay
what they are, a regular file keeps its permissions, owner and hard links, a new file gets
the umask's permissions, and a failed write leaves the old file as it was."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import convcalc.cli.output

from ..support import ROOT, run, unwrapped

CLEAN = "name: c\ninput: 8x8x1\narch: INPUT -> CONV(4, F=3, P=1) -> FC(2)\n"


@pytest.fixture
def spec_file(tmp_path: Path) -> str:
    path = tmp_path / "clean.yaml"
    path.write_text(CLEAN, encoding="utf-8")
    return str(path)


@pytest.fixture
def report(spec_file: str) -> str:
    """What `check --format json` prints on standard output for the clean spec."""
    result = run("check", spec_file, "--format", "json")
    assert result.exit_code == 0
    return result.output


@pytest.fixture
def no_rename_onto_special_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard around os.replace and os.rename: the code under test may never rename onto
    anything but a regular file (a regression must fail the test, not replace /dev/null)."""
    for name in ("replace", "rename"):
        real: Callable[..., None] = getattr(os, name)

        def guarded(src: object, dst: object, *args: object, _real: Callable[..., None] = real,
                    **kwargs: object) -> None:  # fmt: skip
            target = os.path.realpath(os.fspath(dst))  # type: ignore[call-overload]
            assert target != "/dev/null", "renamed onto /dev/null"
            if os.path.lexists(dst):  # type: ignore[arg-type]
                mode = os.lstat(dst).st_mode  # type: ignore[arg-type]
                assert stat.S_ISREG(mode), f"renamed onto a special file {dst!r}"
            _real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, name, guarded)


def _umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def umask_022() -> Iterator[None]:
    yield from _umask(0o022)


def check_to(spec: str, target: str | Path) -> int:
    result = run("check", spec, "--format", "json", "-o", str(target))
    assert result.output == ""
    return result.exit_code


def test_output_to_a_fifo_writes_through_and_leaves_the_fifo(
    tmp_path: Path, spec_file: str, report: str, no_rename_onto_special_files: None
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert check_to(spec_file, fifo) == 0
    thread.join(10)
    assert received == [report.encode("utf-8")]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.yaml", "pipe"]


def test_output_to_dev_null_leaves_it_a_character_device(
    spec_file: str, no_rename_onto_special_files: None
) -> None:
    before = os.stat("/dev/null")
    assert stat.S_ISCHR(before.st_mode)
    assert check_to(spec_file, "/dev/null") == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev, stat.S_IMODE(after.st_mode)) == (
        before.st_ino, before.st_rdev, stat.S_IMODE(before.st_mode))  # fmt: skip


def test_output_through_a_symlink_writes_its_target(
    tmp_path: Path, spec_file: str, report: str, umask_022: None,
    no_rename_onto_special_files: None,
) -> None:  # fmt: skip
    target = tmp_path / "real.json"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    assert check_to(spec_file, link) == 0
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert target.read_text(encoding="utf-8") == report
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.yaml", "link.json", "real.json"]


def test_output_through_a_dangling_symlink_creates_its_target(
    tmp_path: Path, spec_file: str, report: str, umask_022: None
) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    assert check_to(spec_file, link) == 0
    assert link.is_symlink()
    made = tmp_path / "made.json"
    assert made.read_text(encoding="utf-8") == report
    assert stat.S_IMODE(made.stat().st_mode) == 0o644


def test_output_through_a_symlink_to_a_fifo_writes_the_fifo(
    tmp_path: Path, spec_file: str, report: str, no_rename_onto_special_files: None
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert check_to(spec_file, link) == 0
    thread.join(10)
    assert received == [report.encode("utf-8")]
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_output_file_gets_the_umask_mode(
    tmp_path: Path, spec_file: str, umask: int, mode: int
) -> None:
    for _ in _umask(umask):
        assert check_to(spec_file, tmp_path / "new.json") == 0
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == mode


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o755])
def test_an_existing_output_file_keeps_its_mode(
    tmp_path: Path, spec_file: str, report: str, umask_022: None, mode: int
) -> None:
    target = tmp_path / "old.json"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(mode)
    assert check_to(spec_file, target) == 0
    assert target.read_text(encoding="utf-8") == report
    assert stat.S_IMODE(target.stat().st_mode) == mode


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_an_existing_output_file_keeps_its_owner(
    tmp_path: Path, spec_file: str, report: str
) -> None:
    target = tmp_path / "theirs.json"
    target.write_text("old\n", encoding="utf-8")
    os.chown(target, 4321, 4322)
    assert check_to(spec_file, target) == 0
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert target.read_text(encoding="utf-8") == report


def test_a_hard_linked_output_file_stays_linked(
    tmp_path: Path, spec_file: str, report: str
) -> None:
    target = tmp_path / "a.json"
    target.write_text("old\n", encoding="utf-8")
    other = tmp_path / "b.json"
    os.link(target, other)
    assert check_to(spec_file, target) == 0
    assert other.read_text(encoding="utf-8") == report
    assert os.path.samefile(target, other)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, spec_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "old.json"
    target.write_text("old\n", encoding="utf-8")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    result = run("check", spec_file, "--format", "json", "-o", str(target))
    assert result.exit_code == 2
    assert "cannot write" in result.output and "No space left on device" in result.output
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.yaml", "old.json"]


def test_output_to_dev_stdout_writes_to_the_descriptor(tmp_path: Path, spec_file: str) -> None:
    """`-o /dev/stdout >> log` appends (reopening /dev/stdout would truncate the log)."""
    log = tmp_path / "log"
    log.write_text("earlier\n", encoding="utf-8")
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    args = [sys.executable, "-c", code, "check", spec_file, "--format", "json"]
    with open(log, "ab") as out:
        done = subprocess.run([*args, "-o", "/dev/stdout"], stdout=out, cwd=ROOT, check=False)
    assert done.returncode == 0
    expected = subprocess.run(args, capture_output=True, cwd=ROOT, check=False).stdout
    assert log.read_bytes() == b"earlier\n" + expected
    assert stat.S_ISREG(os.lstat(log).st_mode)


def test_output_to_a_directory_is_a_usage_error(tmp_path: Path, spec_file: str) -> None:
    result = run("check", spec_file, "-o", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output


def test_the_atomic_helper_refuses_to_rename_onto_a_special_file(tmp_path: Path) -> None:
    """Even when a FIFO appears after the helper looked (a race), no rename replaces it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="no longer a regular file"):
        convcalc.cli.output.replace_file(str(fifo), b"text", None)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_output_to_a_block_device_is_refused(tmp_path: Path, spec_file: str) -> None:
    """A disk is never written: a report on one is always a slip."""
    device = tmp_path / "disk"
    try:
        os.mknod(device, 0o600 | stat.S_IFBLK, os.makedev(0, 0))  # no driver behind 0:0
    except (PermissionError, AttributeError):
        pytest.skip("cannot make a block device here")
    result = run("check", spec_file, "-o", str(device))
    assert result.exit_code == 2
    assert "it is a block device" in result.output and "Traceback" not in result.output
    assert stat.S_ISBLK(os.lstat(device).st_mode)


def _process(*args: str, shell_prefix: str = "") -> list[str]:
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", code, *args]
    return ["sh", "-c", f'{shell_prefix}exec "$@"', "sh", *command] if shell_prefix else command


@pytest.mark.parametrize("format_", ["text", "json"])
def test_a_full_standard_output_is_an_error(spec_file: str, format_: str) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(_process("check", spec_file, "--format", format_), stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "convcalc: error: cannot write the report: No space left on device" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize("format_", ["text", "json"])
def test_a_closed_standard_output_is_an_error(spec_file: str, format_: str) -> None:
    args = _process("check", spec_file, "--format", format_, shell_prefix="exec >&-; ")
    done = subprocess.run(args, stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    assert done.returncode == 2, done.stderr
    assert "cannot write the report: standard output is closed" in done.stderr


def test_output_to_a_file_needs_no_standard_output(tmp_path: Path, spec_file: str) -> None:
    target = tmp_path / "r.json"
    args = _process("check", spec_file, "--format", "json", "-o", str(target),
                    shell_prefix="exec >&-; ")  # fmt: skip
    done = subprocess.run(args, stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8").startswith('{\n  "version": 1')


def test_an_unwritable_step_summary_is_an_error(
    tmp_path: Path, spec_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "no" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    warn = tmp_path / "w.yaml"
    warn.write_text(CLEAN.replace("P=1", "S=2"), encoding="utf-8")
    result = run("check", str(warn), "--format", "github")
    assert result.exit_code == 2
    assert result.output.startswith("::warning file=")  # the annotations are out first
    message = (f"convcalc: error: cannot append the job summary to `{summary}` "
               "($GITHUB_STEP_SUMMARY): No such file or directory")  # fmt: skip
    assert message in unwrapped(result.output)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("a\x00b.json", "cannot write `a\\x00b.json`: a file name cannot hold a NUL character"),
        ("", "cannot write ``: the file name is empty"),
    ],
)
def test_output_names_that_are_no_file_names(spec_file: str, target: str, message: str) -> None:
    result = run("check", spec_file, "-o", target)
    assert result.exit_code == 2 and message in result.output
    assert "internal error" not in result.output


def test_output_to_dev_stdin_never_rewrites_the_file_read_as_input(
    tmp_path: Path, spec_file: str
) -> None:
    """`-o /dev/stdin < file`: standard input is read-only; its file is left alone."""
    source = tmp_path / "input.txt"
    source.write_text("precious\n", encoding="utf-8")
    with open(source, "rb") as stdin:
        done = subprocess.run(_process("check", spec_file, "-o", "/dev/stdin"), stdin=stdin,
                              capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "cannot write `/dev/stdin`: Bad file descriptor" in done.stderr
    assert source.read_text(encoding="utf-8") == "precious\n"


@pytest.mark.parametrize("format_", ["text", "json", "markdown"])
def test_a_standard_output_that_cannot_encode_the_report(spec_file: str, format_: str) -> None:
    """An ASCII locale: characters it cannot show become escapes, not an internal error."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run(_process("check", "lenet5", "--format", format_), capture_output=True,
                          env=env, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"" and b"LeNet-5" in done.stdout


def test_a_file_system_that_cannot_sync_is_written_anyway(
    tmp_path: Path, spec_file: str, report: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot(fd: int) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "fsync", cannot)
    assert check_to(spec_file, tmp_path / "r.json") == 0
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == report
