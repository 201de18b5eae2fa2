"""SPEC arguments: only regular files are read (a FIFO would block forever), and directories
are walked robustly: an entry removed during the walk is skipped with a note, a directory that
cannot be read is an error (exit 2), never an internal error or a silent skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convcalc.cli.common
from convcalc.cli import main

from ..support import ROOT, unwrapped

CLEAN = "name: c\ninput: 8x8x1\narch: INPUT -> CONV(4, F=3, P=1) -> FC(2)\n"


def exit_code(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    assert isinstance(code, int)
    return code


def convcalc_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, with a timeout: a read that blocks fails the test."""
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=30, cwd=ROOT, check=False)  # fmt: skip


@pytest.mark.parametrize("command", ["check", "memory", "expand", "run"])
def test_a_fifo_spec_is_refused_without_blocking(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    done = convcalc_process(command, str(fifo))
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"`{fifo}` is a named pipe (FIFO), not a regular file" in unwrapped(done.stderr)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_symlink_to_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "net.yaml"
    link.symlink_to(fifo)
    done = convcalc_process("check", str(link))
    assert done.returncode == 2
    assert "is a named pipe (FIFO), not a regular file" in unwrapped(done.stderr)


def test_a_character_device_spec_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "/dev/null", "vgg16") == 2
    out, err = capsys.readouterr()
    assert "`/dev/null` is a character device, not a regular file" in err
    assert "VGG-16" in out  # the other specs are still checked


def _spy_scandir(monkeypatch: pytest.MonkeyPatch, before: Callable[[str], None]) -> None:
    """Run ``before(path)`` whenever os.scandir is about to list a directory."""
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if not isinstance(path, int):  # shutil.rmtree lists by descriptor
            before(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def _tree(tmp_path: Path) -> Path:
    top = tmp_path / "specs"
    (top / "sub").mkdir(parents=True)
    (top / "a.yaml").write_text(CLEAN, encoding="utf-8")
    (top / "sub" / "b.yaml").write_text(CLEAN, encoding="utf-8")
    return top


def test_a_subdirectory_removed_during_the_walk_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _tree(tmp_path)

    def remove_sub(path: str) -> None:
        if path.endswith("sub"):
            shutil.rmtree(path)

    _spy_scandir(monkeypatch, remove_sub)
    assert exit_code("check", str(top), "--format", "json") == 0
    out, err = capsys.readouterr()
    assert [r["file"] for r in json.loads(out)["results"]] == [str(top / "a.yaml")]
    assert f"`{top / 'sub'}` was removed while convcalc read it; skipped" in err
    assert "internal error" not in err


def test_a_file_removed_after_the_walk_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _tree(tmp_path)
    real = convcalc.cli.common.spec_files

    def then_remove(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        (top / "sub" / "b.yaml").unlink()
        return found

    monkeypatch.setattr(convcalc.cli.common, "spec_files", then_remove)
    assert exit_code("check", str(top), "--format", "json") == 0
    out, err = capsys.readouterr()
    assert [r["file"] for r in json.loads(out)["results"]] == [str(top / "a.yaml")]
    assert f"`{top / 'sub' / 'b.yaml'}` was removed while convcalc read it; skipped" in err


def test_an_unreadable_subdirectory_is_reported_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _tree(tmp_path)

    def deny(path: str) -> None:
        if path.endswith("sub"):
            raise PermissionError(13, "Permission denied", path)

    _spy_scandir(monkeypatch, deny)
    assert exit_code("check", str(top), "--format", "json") == 2
    out, err = capsys.readouterr()
    assert [r["file"] for r in json.loads(out)["results"]] == [str(top / "a.yaml")]
    message = f"convcalc: error: cannot read the directory `{top / 'sub'}`: Permission denied"
    assert message in unwrapped(err)


def test_an_unreadable_directory_argument_is_reported_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _tree(tmp_path)

    def deny(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    _spy_scandir(monkeypatch, deny)
    assert exit_code("check", str(top)) == 2
    err = capsys.readouterr().err
    assert f"cannot read the directory `{top}`: Permission denied" in unwrapped(err)
    assert "no *.yaml" not in err


def test_the_walk_does_not_follow_directory_symlinks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _tree(tmp_path)
    (top / "sub" / "loop").symlink_to("..", target_is_directory=True)
    (top / "link.yaml").symlink_to("a.yaml")
    os.mkfifo(top / "fifo.yaml")  # skipped: not a regular file
    assert exit_code("check", str(top), "--format", "json") == 0
    files = [r["file"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert files == [str(top / "a.yaml"), str(top / "link.yaml"), str(top / "sub" / "b.yaml")]


def test_the_walk_sorts_like_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """a/x.yaml before a.yaml (by path components), as before."""
    (tmp_path / "a").mkdir()
    for name in ("a/x.yaml", "a.yaml", "B.yml", "a-b.yaml"):
        (tmp_path / name).write_text(CLEAN, encoding="utf-8")
    assert exit_code("check", str(tmp_path), "--format", "json") == 0
    files = [r["file"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert files == [str(tmp_path / n) for n in ("B.yml", "a/x.yaml", "a-b.yaml", "a.yaml")]


def test_a_nul_in_a_spec_argument_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "a\x00b.yaml", "lenet5") == 2
    out, err = capsys.readouterr()
    assert "convcalc: error: `a\\x00b.yaml` is not a file name: it holds a NUL character" in err
    assert "internal error" not in err and "LeNet-5" in out
