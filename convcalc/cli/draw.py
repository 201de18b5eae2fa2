"""`convcalc draw` (the volumes diagram, SVG) and `convcalc report` (one HTML page)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import Severity
from ..records import Shape
from ..report.svg import LABELS, THEMES
from .common import (
    Outcome,
    debug_option,
    emit,
    memory_options,
    one_spec,
    output_option,
    refuse,
    spec_options,
    stderr_console,
)
from .group import cli
from .options import IntegerRange, budget_option

NO_PNG = (
    "PNG needs a rasteriser, and convcalc depends on none (no Pillow, cairo or browser "
    "library, not even as an extra): write SVG and convert it, e.g. "
    "`rsvg-convert -o net.png net.svg`, or "
    "`chromium --headless --screenshot=net.png --window-size=W,H net.svg` "
    "with W and H the SVG's width and height"
)


def picture_options(f: Any) -> Any:
    """--theme, --labels and --fold, shared by draw and report."""
    f = click.option(
        "--fold",
        is_flag=True,
        help="Fold repeated stages (identical layers, shapes and findings) into one, marked ×n.",
    )(f)
    f = click.option(
        "--labels",
        type=click.Choice(LABELS),
        default="shapes",
        show_default=True,
        help="none: boxes only; shapes: W×H×D under each volume and the filter on each "
        "arrow; full: also each layer's name, type and the layers drawn with it.",
    )(f)
    return click.option(
        "--theme", type=click.Choice(THEMES), default="light", show_default=True, help="Colours."
    )(f)


def _stopped(outcome: Outcome) -> bool:
    """Report the errors of a spec drawn anyway; True when there were any."""
    analysis = outcome.analysis
    assert analysis is not None
    errors = [f for f in analysis.findings if f.severity is Severity.ERROR]
    if not errors:
        return False
    from ..report import text

    out = stderr_console()
    text.print_findings(out, errors)
    where = "what was analysed before it stops" if analysis.output is None else "every layer"
    click.echo(
        f"convcalc: the spec has {len(errors)} error{'s' * (len(errors) > 1)} (above); the "
        f"picture shows {where}, with the layers at fault outlined (exit 1)",
        err=True,
    )
    return True


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(["svg", "png"]),
    default="svg",
    show_default=True,
    help="svg; png is refused with how to convert the SVG (convcalc has no rasteriser).",
)
@click.option(
    "--width",
    type=IntegerRange(min=100, max=100_000),
    help="Width of the picture in pixels, 100 to 100,000 (default: its natural width); the "
    "height follows.",
)
@picture_options
@output_option
@debug_option
def draw(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    format_: str,
    width: int | None,
    fold: bool,
    labels: str,
    theme: str,
    output: str | None,
    debug: bool,
) -> None:
    """Draw SPEC as the volumes figure of the papers, as SVG.

    Every volume is a box of W×H×D in perspective (log-scaled, so 224×224×64 and 7×7×512 both
    read), labelled with its shape; the arrows carry the filters (F×F, stride, padding); pools
    show as the shrink; FC layers are thin bars; ADD, CAT and MUL merges are junctions with
    their branches stacked (ResNet, Inception, DenseNet, U-Net). Layers with an error or a
    warning are outlined with their codes. A spec with errors is still drawn, as far as it
    was analysed, and exits 1; a spec that cannot be read prints its findings and exits 1.

    \b
    Examples:
      convcalc draw vgg16 -o vgg16.svg
      convcalc draw resnet50 --fold --theme dark -o resnet50.svg
      convcalc draw unet --labels full --width 1600 -o unet.svg
    """
    if format_ == "png":
        raise click.BadParameter(NO_PNG, param_hint="--format")
    from ..report import diagram, svg

    outcome = one_spec(spec, input=input_, variables=assignments)
    if outcome.analysis is None:
        refuse(outcome, stderr_console())
    picture = diagram.build(outcome.analysis, fold=fold)
    emit(svg.render(picture, labels=labels, theme=theme, width=width), output)
    sys.exit(1 if _stopped(outcome) else 0)


@cli.command()
@click.argument("spec", metavar="SPEC")
@spec_options
@memory_options
@click.option(
    "--budget",
    callback=budget_option,
    help="Memory to train in, like 12GiB: the page gives the largest batch that fits.",
)
@picture_options
@output_option
@debug_option
def report(
    spec: str,
    input_: Shape | None,
    assignments: dict[str, int | bool],
    batch: int | None,
    dtype: str | None,
    optimizer: str | None,
    budget: int | None,
    fold: bool,
    labels: str,
    theme: str,
    output: str | None,
    debug: bool,
) -> None:
    """Write one self-contained HTML page about SPEC.

    The diagram (as `convcalc draw`), the findings with their source lines, the memory
    breakdown (and with --budget the largest batch that fits), activations and MACs per
    layer as bar charts, and the layer table, sortable by any column. CSS, JavaScript and
    SVG are inline and the page fetches nothing: it works opened from disk. Exits 1 when the
    spec has errors (the page is still written) or when not even one image fits --budget.

    \b
    Examples:
      convcalc report vgg16 -o vgg16.html
      convcalc report resnet50 --budget 12GiB --batch 32 -o resnet50.html
    """
    from ..report import diagram, html, svg

    outcome = one_spec(
        spec, input=input_, variables=assignments, batch=batch, dtype=dtype, optimizer=optimizer
    )
    analysis = outcome.analysis
    if analysis is None:
        refuse(outcome, stderr_console())
    picture = diagram.build(analysis, fold=fold)
    drawing = svg.render(picture, labels=labels, theme=theme, standalone=False)
    emit(html.page(analysis, drawing, budget=budget, theme=theme), output)
    failed = _stopped(outcome)
    too_big = (
        budget is not None
        and analysis.memory is not None
        and (analysis.memory.max_batch(budget) < 1)
    )
    sys.exit(1 if failed or too_big else 0)
