"""What the tests share: the repository's paths, the CLI in-process, a spec from a pattern."""

from __future__ import annotations

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
