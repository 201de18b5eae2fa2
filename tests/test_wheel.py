"""The bundled specs: the repository keeps them in the top-level specs/ folder, the wheel ships
them as convcalc/specs/, and an installed convcalc finds them from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from convcalc.frontend import bundled

from .support import ROOT

SPECS = sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))


def test_the_checkout_reads_the_top_level_specs_folder() -> None:
    assert Path(bundled.DIRECTORY) == ROOT / "specs"
    assert sorted(f"{n}.yaml" for n in bundled.names()) == SPECS
    assert "vgg16.yaml" in SPECS
    # a merge that left a spec in the old place would ship it, but the checkout would not see it
    left = sorted(p.name for p in (ROOT / "convcalc").glob("specs/*.y*ml"))
    assert not left, f"move {left} to specs/ (git mv), their first line to ../convcalc.schema.json"


def test_pyproject_packages_every_folder_and_maps_the_specs() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    setuptools = config["setuptools"]
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "convcalc").rglob("__init__.py")
    }
    missing = folders - set(setuptools["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"
    assert set(setuptools["packages"]) == folders | {"convcalc.specs"}
    assert setuptools["package-dir"] == {"convcalc.specs": "specs"}
    assert setuptools["package-data"]["convcalc.specs"] == ["*.yaml"]


@pytest.mark.slow
def test_the_wheel_ships_every_spec_and_check_finds_them_from_anywhere(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources (so the checkout gets no build/ folder),
    then run the packaged convcalc from another directory."""
    pytest.importorskip("setuptools.command.bdist_wheel")  # setuptools 70.1 (the test extra)
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("convcalc", "specs"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    out = tmp_path / "dist"
    build = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    wheel = out / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("convcalc/specs/"))
        assert shipped == SPECS
        assert not [n for n in names if n.startswith("specs/")]
        assert archive.read("convcalc/specs/vgg16.yaml") == (ROOT / "specs/vgg16.yaml").read_bytes()
        installed = tmp_path / "installed"
        archive.extractall(installed)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed)}
    result = subprocess.run(
        [sys.executable, "-m", "convcalc", "check", "vgg16", "--format", "json"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '"file": "vgg16 (bundled)"' in result.stdout
    assert '"params": 138357544' in result.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import convcalc.frontend.bundled as b; print(b.DIRECTORY)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert Path(where) == installed / "convcalc" / "specs"
