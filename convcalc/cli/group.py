"""The `convcalc` command group; each command lives in its own module."""

from __future__ import annotations

import importlib

import click

#: Each command and the module of convcalc.cli that defines it.
MODULES = {
    "check": "check",
    "draw": "draw",
    "report": "draw",
    "expand": "expand",
    "convert": "expand",
    "export": "export",
    "import": "export",
    "list": "info",
    "show": "info",
    "rules": "info",
    "schema": "info",
    "memory": "memory",
    "run": "run",
}


class LazyGroup(click.Group):
    """Imports a command's module when that command runs, so that `check` does not load the
    picture, export and forward-pass commands first; listing the commands loads them all."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in MODULES:
            importlib.import_module(f"{__package__}.{MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(MODULES.values())):
            importlib.import_module(f"{__package__}.{module}")
        return super().list_commands(ctx)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="convcalc")
def cli() -> None:
    """Check convolutional-network architectures before anyone trains them.

    A spec is a short YAML file with the architecture in the arrow notation of the CS231n
    notes: INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC.
    convcalc propagates W×H×D volumes, flags strides that don't fit with a concrete fix, and
    counts parameters, multiply-adds and memory.

    \b
    Examples:
      convcalc check vgg16
      convcalc check specs/ --format json
      convcalc memory vgg16 --batch 32 --budget 12GiB
      convcalc expand resnet18
      convcalc draw resnet50 --fold -o resnet50.svg
      convcalc report vgg16 --budget 12GiB -o vgg16.html
      convcalc rules CC201
      convcalc list
      convcalc show vgg16 > my-net.yaml
    """
