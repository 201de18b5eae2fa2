"""The pre-commit hook end to end: a repository whose .pre-commit-config.yaml points at this
checkout fails on a broken spec, and passes once it is fixed; other YAML under specs/ (an
OpenAPI file) is passed over, a *.convcalc.yaml file is always checked.

pre-commit clones this checkout at its HEAD commit and installs convcalc into its own
environment (the first run takes 35 to 50 s, most of it pip installing the dependencies;
later runs reuse ~/.cache/pre-commit and take about 1.5 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..support import ROOT

pytest.importorskip("pre_commit")

BROKEN = "name: net\ninput: 8x8x3\narch: INPUT -> CONV(16, F=9) -> FC(10)\n"
FIXED = "name: net\ninput: 8x8x3\narch: INPUT -> CONV(16, F=3, P=1) -> FC(10)\n"


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode:
        pytest.skip(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def pre_commit(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRE_COMMIT_")}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )


@pytest.mark.slow  # the first run installs convcalc with its dependencies: 35 to 50 s here
def test_pre_commit_hook_fails_on_a_broken_spec_and_passes_when_fixed(tmp_path: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=ROOT)
    git("cat-file", "-e", f"{head}:.pre-commit-hooks.yaml", cwd=ROOT)
    repo = tmp_path / "project"
    (repo / "specs").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head}\n    hooks:\n      - id: convcalc\n",
        encoding="utf-8",
    )
    spec = repo / "specs" / "net.yaml"
    spec.write_text(BROKEN, encoding="utf-8")
    (repo / "notes.yaml").write_text("not: a spec\n", encoding="utf-8")  # outside specs/
    (repo / "specs" / "api").mkdir()
    openapi = "openapi: 3.0.0\ninfo: {title: API, version: '1'}\npaths: {}\n"
    (repo / "specs" / "api" / "openapi.yaml").write_text(openapi, encoding="utf-8")
    (repo / "model.convcalc.yaml").write_text("name: m\ninput: 8x8x3\n", encoding="utf-8")
    git("add", "-A", cwd=repo)

    failed = pre_commit(repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "specs/net.yaml:3:16: CC203 error: conv1" in failed.stdout
    assert "notes.yaml" not in failed.stdout
    # --quiet: the findings and a line per spec, no layer table and no legend
    assert "layer     type" not in failed.stdout
    assert "MACs: multiply-accumulates" not in failed.stdout
    assert "openapi" not in failed.stdout  # other YAML under specs/ is passed over
    # a file named *.convcalc.yaml is a spec by its name: a missing `arch` is an error
    assert "model.convcalc.yaml:1:1: CC105 error: missing required key `arch`" in failed.stdout

    (repo / "model.convcalc.yaml").unlink()

    spec.write_text(FIXED, encoding="utf-8")
    git("add", "-A", cwd=repo)
    passed = pre_commit(repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
