"""What the tests share: the repository's paths, the CLI in-process, a spec from a pattern."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import convcalc
from convcalc.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def run(*args: str) -> Result:
    """Run the CLI in-process, like the console script (no traceback ever escapes)."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False, prog_name="convcalc")


def unwrapped(text: str) -> str:
    """Text as it reads before the report wrapped it to its width: each continuation line
    (indented) joined to the line before it with one space."""
    return re.sub(r"\n +(?=\S)(?![|^~]|\d+ \|)", " ", text)


def check(text: str, **options: object) -> convcalc.Analysis:
    """Analyse a spec given as YAML text."""
    return convcalc.analyze(convcalc.load_text(text, "spec.yaml"), **options)  # type: ignore[arg-type]


def spec(arch: str, shape: str = "32x32x3", extra: str = "") -> str:
    """A minimal spec around an arch pattern."""
    return f"name: t\ninput: {shape}\n{extra}arch: |\n  {arch}\n"


def matches_golden(path: Path, actual: str, regenerate: bool) -> None:
    """Assert that ``actual`` is the reviewed golden text at ``path``.

    A missing golden fails like a different one: it is written only with ``pytest
    --regenerate``, and whoever regenerates reviews the diff before committing it.
    """
    if regenerate:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(
            f"no golden file {path.relative_to(ROOT)}: run `pytest --regenerate`, review the "
            "new file by hand and commit it"
        )
    assert actual == path.read_text(encoding="utf-8")


def padding(pad: object, size: int, f: int, s: int, dilation: int = 1) -> tuple[int, int]:
    """The padding before and after one axis, written from the conventions, not the code:
    an integer pads both sides; `valid` pads nothing; `same` is TensorFlow's, an output of
    ceil(size/S) with the odd pixel of the total padding after."""
    if pad == "valid":
        return 0, 0
    if pad == "same":
        out = -(-size // s)
        total = max(0, (out - 1) * s + dilation * (f - 1) + 1 - size)
        return total // 2, total - total // 2
    assert isinstance(pad, int)
    return pad, pad


def paddings(args: Mapping[str, object], shape: tuple[int, int, int]) -> list[tuple[int, int]]:
    """``[(left, right), (top, bottom)]`` of a CONV/LOCAL/POOL row's arguments on its input."""
    pad, f, s = args["P"], args["F"], args["S"]
    dilation = args.get("dilation", (1, 1))
    assert isinstance(f, tuple) and isinstance(s, tuple) and isinstance(dilation, tuple)
    return [
        padding(pad[i] if isinstance(pad, tuple) else pad, shape[i], f[i], s[i], dilation[i])
        for i in (0, 1)
    ]
