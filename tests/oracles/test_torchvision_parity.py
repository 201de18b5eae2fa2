"""The zoo against torchvision itself: every bundled spec of a torchvision model, layer by layer.

test_torch_parity.py rebuilds torchvision's networks in plain torch; this module builds them
with torchvision's own builders (weights=None, eval mode), on the meta device and then
`to_empty` (no random initialisation), and runs a zero input of the spec's input size on one
thread. It compares, for each spec:

- parameters, buffers (floating-point buffers only: BN's running mean and variance, not
  num_batches_tracked) and MACs (Conv2d: output values × in_channels/groups × kh × kw;
  ConvTranspose2d: input values × out_channels/groups × kh × kw; Linear: in × out; from each
  module's own attributes), in total;
- the output shape;
- every CONV, TCONV, POOL, FC and LINEAR row's output W×H×D in execution order, against the
  outputs of torch's Conv2d, ConvTranspose2d, Linear (on N×C an FC, on ConvNeXt's N×H×W×C a
  LINEAR) and max/average pools (not the adaptive ones, which convcalc writes GAP, APOOL or
  ID), and the geometry of those layers (kernel, stride, padding,
  dilation, groups, bias; pool type and rounding), which catches a (width, height) pair written
  the wrong way round where the shapes cannot (Inception v3's 1×7 and 7×1 convs on 17×17).

Pools are recorded by wrapping torch.nn.functional.max_pool2d and avg_pool2d rather than with
module hooks: MaxPool2d and AvgPool2d call them, and torchvision's Inception3 calls them
directly inside its blocks, where no module hook can see them. Skipped when torchvision is not
importable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import pytest

import convcalc

torchvision = pytest.importorskip("torchvision")
import torch  # noqa: E402  (torchvision imports torch; only after the skip)

nn = torch.nn
F = torch.nn.functional

Shape = tuple[int, int, int]
Pair = tuple[int, int]

# spec name: torchvision builder and its arguments. Each new spec is named after its builder
# with "_" → "-"; alexnet-torchvision, older, is the one exception.
BUILDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "alexnet-torchvision": ("alexnet", {}),
    "vgg11": ("vgg11", {}),
    "vgg13": ("vgg13", {}),
    # vgg16.yaml is the notes' layout (no dropout), but dropout has no rows to compare
    "vgg16": ("vgg16", {}),
    "vgg19": ("vgg19", {}),
    "vgg16-bn": ("vgg16_bn", {}),
    "resnet18": ("resnet18", {}),
    "resnet34": ("resnet34", {}),
    "resnet50": ("resnet50", {}),
    "resnet101": ("resnet101", {}),
    "resnet152": ("resnet152", {}),
    "resnext50-32x4d": ("resnext50_32x4d", {}),
    "wide-resnet50-2": ("wide_resnet50_2", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "inception-v3": ("inception_v3", {"aux_logits": False, "init_weights": False}),
    "mobilenet-v2": ("mobilenet_v2", {}),
    "mnasnet1-0": ("mnasnet1_0", {}),
    "densenet121": ("densenet121", {}),
    "densenet169": ("densenet169", {}),
    "squeezenet1-0": ("squeezenet1_0", {}),
    "squeezenet1-1": ("squeezenet1_1", {}),
    "regnet-x-400mf": ("regnet_x_400mf", {}),
    "regnet-y-400mf": ("regnet_y_400mf", {}),
    "mobilenet-v3-small": ("mobilenet_v3_small", {}),
    "mobilenet-v3-large": ("mobilenet_v3_large", {}),
    "efficientnet-b0": ("efficientnet_b0", {}),
    "shufflenet-v2-x1-0": ("shufflenet_v2_x1_0", {}),
    "convnext-tiny": ("convnext_tiny", {}),
}

# RegNet's BlockParams computes its widths with torch.arange and .tolist(), which cannot run on
# the meta device: built on the CPU (5.5M parameters, a fraction of a second).
NOT_ON_META = {"regnet-x-400mf", "regnet-y-400mf"}


class Layer(NamedTuple):
    """A CONV, TCONV, POOL or FC row, or the torch layer that computes it."""

    type: str
    output: Shape
    geometry: tuple[Any, ...]
    macs: int


class Observed(NamedTuple):
    params: int
    buffers: int
    output: Shape
    layers: list[Layer]


def wh_d(shape: tuple[int, ...]) -> Shape:
    """N×C×H×W or N×C as W×H×D."""
    return (shape[3], shape[2], shape[1]) if len(shape) == 4 else (1, 1, shape[1])


def pair(value: Any) -> Pair:
    """torch's int or (h, w) as convcalc's (w, h)."""
    if isinstance(value, int):
        return (value, value)
    h, w = value
    return (int(w), int(h))


def conv_layer(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> Layer:
    kind = "TCONV" if isinstance(module, nn.ConvTranspose2d) else "CONV"
    kh, kw = module.kernel_size
    groups, bias = module.groups, module.bias is not None
    geometry = (module.out_channels, pair(module.kernel_size), pair(module.stride),
                pair(module.padding), pair(module.dilation), groups, bias)  # fmt: skip
    if kind == "CONV":
        macs = int(output[0].numel()) * module.in_channels // groups * kh * kw
    else:
        macs = int(inputs[0][0].numel()) * module.out_channels // groups * kh * kw
    return Layer(kind, wh_d(tuple(output.shape)), geometry, macs)


def fc_layer(module: nn.Module, _: tuple[Any, ...], output: Any) -> Layer:
    """An FC on N×C, or a LINEAR at every position of N×H×W×C (ConvNeXt's MLP)."""
    geometry = (module.out_features, module.bias is not None)
    macs = module.in_features * module.out_features
    if output.dim() == 2:
        return Layer("FC", wh_d(tuple(output.shape)), geometry, macs)
    _, h, w, c = output.shape
    return Layer("LINEAR", (w, h, c), geometry, macs * h * w)


HOOKED: dict[type, Callable[[nn.Module, tuple[Any, ...], Any], Layer]] = {
    nn.Conv2d: conv_layer,
    nn.ConvTranspose2d: conv_layer,
    nn.Linear: fc_layer,
}

# the parameters of F.max_pool2d and F.avg_pool2d after the input, in order, with defaults
POOL_SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    "max": (("kernel_size", None), ("stride", None), ("padding", 0), ("dilation", 1),
            ("ceil_mode", False), ("return_indices", False)),
    "avg": (("kernel_size", None), ("stride", None), ("padding", 0), ("ceil_mode", False),
            ("count_include_pad", True), ("divisor_override", None)),
}  # fmt: skip


def pool_layer(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Layer:
    names = POOL_SIGNATURES[kind]
    bound = {name: default for name, default in names}
    bound.update(zip((name for name, _ in names), args, strict=False))
    bound.update(kwargs)
    kernel = pair(bound["kernel_size"])
    stride = pair(bound["stride"]) if bound["stride"] not in (None, [], ()) else kernel
    assert pair(bound.get("dilation", 1)) == (1, 1)  # convcalc's POOL has no dilation
    geometry = (kind, kernel, stride, pair(bound["padding"]), bool(bound["ceil_mode"]))
    return Layer("POOL", wh_d(tuple(output.shape)), geometry, 0)


@contextmanager
def recording_pools(layers: list[Layer]) -> Iterator[None]:
    originals = {"max": F.max_pool2d, "avg": F.avg_pool2d}

    def wrap(kind: str) -> Callable[..., Any]:
        def pool(input: Any, *args: Any, **kwargs: Any) -> Any:
            output = originals[kind](input, *args, **kwargs)
            result = output[0] if isinstance(output, tuple) else output
            layers.append(pool_layer(kind, args, kwargs, result))
            return output

        return pool

    F.max_pool2d, F.avg_pool2d = wrap("max"), wrap("avg")
    try:
        yield
    finally:
        F.max_pool2d, F.avg_pool2d = originals["max"], originals["avg"]


def build(name: str) -> nn.Module:
    """torchvision's model without its random initialisation: zeros, in eval mode."""
    builder, kwargs = BUILDERS[name]
    factory = getattr(torchvision.models, builder)
    if name in NOT_ON_META:
        model = factory(weights=None, **kwargs)
    else:
        with torch.device("meta"):
            model = factory(weights=None, **kwargs)
        model = model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model.eval()


@functools.cache
def observe(name: str, input: Shape) -> Observed:
    model = build(name)
    layers: list[Layer] = []

    def record(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        layers.append(HOOKED[type(module)](module, inputs, output))

    hooks = [m.register_forward_hook(record) for m in model.modules() if type(m) in HOOKED]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w, h, d = input
        with torch.no_grad(), recording_pools(layers):
            output = model(torch.zeros(1, d, h, w))
    finally:
        torch.set_num_threads(threads)
        for hook in hooks:
            hook.remove()
    return Observed(
        params=sum(p.numel() for p in model.parameters()),
        buffers=sum(b.numel() for b in model.buffers() if b.is_floating_point()),
        output=wh_d(tuple(output.shape)),
        layers=layers,
    )


def convcalc_layers(rows: Sequence[convcalc.Row]) -> list[Layer]:
    layers = []
    for r in rows:
        if r.type in ("CONV", "TCONV"):
            g = r.args
            geometry = (g["K"], g["F"], g["S"], g["P"], g["dilation"], g["groups"], g["bias"])
        elif r.type == "POOL":
            geometry = (r.args["type"], r.args["F"], r.args["S"], r.args["P"], r.args["ceil"])
        elif r.type in ("FC", "LINEAR"):
            geometry = (r.args["K"], r.args["bias"])
        else:
            continue
        layers.append(Layer(r.type, r.output, geometry, r.macs))
    return layers


def both(name: str) -> tuple[convcalc.Analysis, Observed]:
    a = convcalc.analyze(convcalc.load(name))
    assert a.ok, [f.render() for f in a.findings]
    return a, observe(name, a.input)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_totals_and_output(name: str) -> None:
    a, torch_ = both(name)
    assert a.totals.params == torch_.params
    assert a.totals.buffers == torch_.buffers
    assert a.totals.macs == sum(layer.macs for layer in torch_.layers)
    assert a.output == torch_.output


def describe(layers: list[Layer], i: int) -> str:
    return f"layer {i} of {len(layers)}: {layers[i] if i < len(layers) else None}"


@pytest.mark.parametrize("name", list(BUILDERS))
def test_layer_outputs_in_execution_order(name: str) -> None:
    a, torch_ = both(name)
    mine = [(x.type, x.output) for x in convcalc_layers(a.rows)]
    theirs = [(x.type, x.output) for x in torch_.layers]
    assert len(mine) == len(theirs)
    for i, (m, t) in enumerate(zip(mine, theirs, strict=True)):
        assert m == t, describe(torch_.layers, i)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_layer_geometry_in_execution_order(name: str) -> None:
    a, torch_ = both(name)
    mine = [(x.type, x.geometry, x.macs) for x in convcalc_layers(a.rows)]
    theirs = [(x.type, x.geometry, x.macs) for x in torch_.layers]
    assert len(mine) == len(theirs)
    for i, (m, t) in enumerate(zip(mine, theirs, strict=True)):
        assert m == t, describe(torch_.layers, i)


@pytest.mark.parametrize("input", [(256, 256, 3), (320, 240, 3)])
@pytest.mark.parametrize("name", ["alexnet-torchvision", "vgg16-bn"])
def test_the_adaptive_pool_holds_at_other_inputs(name: str, input: Shape) -> None:
    """AdaptiveAvgPool2d keeps the classifier's input at 6×6 (7×7) at any size: APOOL too."""
    a = convcalc.analyze(convcalc.load(name), input=input)
    torch_ = observe(name, input)
    assert (a.totals.params, a.totals.macs, a.output) == (
        torch_.params, sum(layer.macs for layer in torch_.layers), torch_.output)
    assert convcalc_layers(a.rows) == torch_.layers
