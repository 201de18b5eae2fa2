"""The specs shipped inside the package (``convcalc check vgg16`` from any directory)."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "specs"


def names() -> list[str]:
    return sorted(p.stem for p in DIRECTORY.glob("*.yaml"))


def path(name: str) -> Path | None:
    name = name.removesuffix(".yaml")
    candidate = DIRECTORY / f"{name}.yaml"
    if "/" in name or "\\" in name or not candidate.is_file():
        return None
    return candidate


def display(name: str) -> str:
    """How a bundled spec's file is shown in reports: stable on every machine."""
    return f"specs/{name.removesuffix('.yaml')}.yaml"
