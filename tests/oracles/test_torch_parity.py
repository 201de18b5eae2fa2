"""The zoo against PyTorch: torchvision's networks rebuilt in plain torch, layer by layer.

No torchvision: each model below mirrors torchvision's module code. A forward pass on a
1×3×224×224 input records, in execution order, every Conv2d, Linear and BatchNorm2d with its
parameter count, buffer count and output shape; convcalc's CONV, FC and BN rows must say the
same, in the same order, and the totals must agree. Skipped when torch is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import convcalc

from ..support import DATA

torch = pytest.importorskip("torch")
nn = torch.nn

Shape = tuple[int, int, int]
Layer = tuple[str, int, int, Shape, int]  # type, parameters, buffers, output W×H×D, MACs

KINDS = {nn.Conv2d: "CONV", nn.Linear: "FC", nn.BatchNorm2d: "BN"}


# --- AlexNet and VGG --------------------------------------------------------------------------


def alexnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, 1000),
    )  # fmt: skip


VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}  # fmt: skip


def vgg(config: Sequence[int | str]) -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(v, int)
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096, 1000),
    )  # fmt: skip


# --- ResNet -----------------------------------------------------------------------------------


def downsample(inplanes: int, planes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == planes:
        return None
    return nn.Sequential(
        nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(planes),
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample(inplanes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's v1.5: the stride is on the 3×3 conv."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample(inplanes, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def resnet(block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int]) -> nn.Module:
    modules: list[nn.Module] = [
        nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    ]  # fmt: skip
    inplanes = 64
    for planes, blocks, stride in zip((64, 128, 256, 512), layers, (1, 2, 2, 2), strict=True):
        for i in range(blocks):
            modules.append(block(inplanes, planes, stride if i == 0 else 1))
            inplanes = planes * block.expansion
    modules += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(inplanes, 1000)]
    return nn.Sequential(*modules)


# --- GoogLeNet --------------------------------------------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:  # fmt: skip
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(cin, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(  # torchvision's "5x5" branch: a 3×3 conv
            BasicConv2d(cin, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(cin, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], 1)


def googlenet() -> nn.Module:
    return nn.Sequential(
        BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        BasicConv2d(64, 64, kernel_size=1),
        BasicConv2d(64, 192, kernel_size=3, padding=1),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        Inception(192, 64, 96, 128, 16, 32, 32),
        Inception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        Inception(480, 192, 96, 208, 16, 48, 64),
        Inception(512, 160, 112, 224, 24, 64, 64),
        Inception(512, 128, 128, 256, 24, 64, 64),
        Inception(512, 112, 144, 288, 32, 64, 64),
        Inception(528, 256, 160, 320, 32, 128, 128),
        nn.MaxPool2d(2, stride=2, ceil_mode=True),
        Inception(832, 256, 160, 320, 32, 128, 128),
        Inception(832, 384, 192, 384, 48, 128, 128),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1024, 1000),
    )  # fmt: skip


# --- MobileNetV2 ------------------------------------------------------------------------------


def conv_bn_relu6(cin: int, cout: int, kernel_size: int = 3, stride: int = 1,
                  groups: int = 1) -> list[nn.Module]:  # fmt: skip
    padding = (kernel_size - 1) // 2
    return [
        nn.Conv2d(cin, cout, kernel_size, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU6(inplace=True),
    ]  # fmt: skip


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += conv_bn_relu6(inp, hidden, kernel_size=1)
        layers += conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden)
        layers += [nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def mobilenet_v2() -> nn.Module:
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]  # fmt: skip
    features: list[nn.Module] = conv_bn_relu6(3, 32, stride=2)
    channels = 32
    for t, c, n, s in settings:
        for i in range(n):
            features.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
            channels = c
    features += conv_bn_relu6(channels, 1280, kernel_size=1)
    return nn.Sequential(
        *features, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Dropout(0.2), nn.Linear(1280, 1000),
    )  # fmt: skip


# --- DenseNet-121 -----------------------------------------------------------------------------


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int = 32, bn_size: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        out = self.conv1(torch.relu(self.norm1(torch.cat(features, 1))))
        return self.conv2(torch.relu(self.norm2(out)))


class DenseBlock(nn.ModuleList):
    def __init__(self, layers: int, cin: int, growth: int = 32) -> None:
        super().__init__(DenseLayer(cin + i * growth) for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self:
            features.append(layer(features))
        return torch.cat(features, 1)


def transition(cin: int) -> nn.Module:
    return nn.Sequential(
        nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
        nn.Conv2d(cin, cin // 2, kernel_size=1, bias=False),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )  # fmt: skip


def densenet121() -> nn.Module:
    modules: list[nn.Module] = [
        nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    ]  # fmt: skip
    channels = 64
    for i, layers in enumerate((6, 12, 24, 16)):
        modules.append(DenseBlock(layers, channels))
        channels += layers * 32
        if i != 3:
            modules.append(transition(channels))
            channels //= 2
    modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten(), nn.Linear(channels, 1000)]  # fmt: skip
    return nn.Sequential(*modules)


# --- ShuffleNetV2 and MobileNetV3 (tests/data/modern/) ------------------------------------------


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class ShuffleUnit(nn.Module):
    """torchvision's shufflenetv2.InvertedResidual."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        c = oup // 2
        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, bias=False, groups=inp), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, c, 1, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            )  # fmt: skip
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else c, c, 1, 1, 0, bias=False), nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, stride, 1, bias=False, groups=c), nn.BatchNorm2d(c),
            nn.Conv2d(c, c, 1, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class Mean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean([2, 3])


def shufflenet_v2() -> nn.Module:
    modules: list[nn.Module] = [
        nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    ]  # fmt: skip
    channels = 24
    for repeats, out in zip((4, 8, 4), (116, 232, 464), strict=True):
        modules.append(ShuffleUnit(channels, out, 2))
        modules += [ShuffleUnit(out, out, 1) for _ in range(repeats - 1)]
        channels = out
    modules += [nn.Conv2d(channels, 1024, 1, 1, 0, bias=False), nn.BatchNorm2d(1024),
                nn.ReLU(inplace=True), Mean(), nn.Linear(1024, 1000)]  # fmt: skip
    return nn.Sequential(*modules)


def make_divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation with MobileNetV3's hard-sigmoid."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(self.avgpool(x)))))
        return scale * x


def conv_bn_act(cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1,
                act: type[nn.Module] | None = nn.Hardswish) -> list[nn.Module]:  # fmt: skip
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=0.001, momentum=0.01),
    ]
    return layers + ([act()] if act is not None else [])


class Bneck(nn.Module):
    """torchvision's mobilenetv3.InvertedResidual."""

    def __init__(self, i: int, k: int, e: int, o: int, se: bool, hs: bool, s: int) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers = conv_bn_act(i, e, act=act) if e != i else []
        layers += conv_bn_act(e, e, k, s, groups=e, act=act)
        if se:
            layers.append(SqueezeExcitation(e, make_divisible(e // 4)))
        layers += conv_bn_act(e, o, act=None)
        self.block = nn.Sequential(*layers)
        self.residual = s == 1 and i == o

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v3_small() -> nn.Module:
    settings = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
                (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
                (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
                (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
                (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
                (96, 5, 576, 96, True, True, 1)]  # fmt: skip
    return nn.Sequential(
        *conv_bn_act(3, 16, 3, 2), *[Bneck(*setting) for setting in settings],
        *conv_bn_act(96, 576), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(576, 1024), nn.Hardswish(inplace=True), nn.Dropout(0.2),
        nn.Linear(1024, 1000),
    )  # fmt: skip


# --- the comparison ---------------------------------------------------------------------------

MODELS: dict[str, Callable[[], nn.Module]] = {
    "alexnet-torchvision": alexnet,
    **{name: (lambda config=config: vgg(config)) for name, config in VGG_CONFIGS.items()},
    "resnet18": lambda: resnet(BasicBlock, (2, 2, 2, 2)),
    "resnet34": lambda: resnet(BasicBlock, (3, 4, 6, 3)),
    "resnet50": lambda: resnet(Bottleneck, (3, 4, 6, 3)),
    "resnet101": lambda: resnet(Bottleneck, (3, 4, 23, 3)),
    "resnet152": lambda: resnet(Bottleneck, (3, 8, 36, 3)),
    "googlenet": googlenet,
    "mobilenet-v2": mobilenet_v2,
    "densenet121": densenet121,
}


def build(factory: Callable[[], nn.Module]) -> nn.Module:
    """The model without its random initialisation (seconds for VGG's FC layers): zeros."""
    with torch.device("meta"):
        model = factory()
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model.eval()


def macs_of(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates from the module's own attributes: one per weight per output
    position (a conv's outputs each read in_channels/groups × kh × kw inputs)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = module.in_channels // module.groups * kh * kw
        return int(output[0].numel()) * per_output
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def torch_layers(model: nn.Module, size: tuple[int, int] = (224, 224)) -> list[Layer]:
    layers: list[Layer] = []

    def record(module: nn.Module, _: object, output: torch.Tensor) -> None:
        params = sum(p.numel() for p in module.parameters())
        buffers = sum(b.numel() for b in module.buffers() if b.is_floating_point())
        shape = tuple(output.shape)
        wh_d = (shape[3], shape[2], shape[1]) if len(shape) == 4 else (1, 1, shape[1])
        layers.append((KINDS[type(module)], params, buffers, wh_d, macs_of(module, output)))

    hooks = [m.register_forward_hook(record) for m in model.modules() if type(m) in KINDS]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size[1], size[0]))
    finally:
        for hook in hooks:
            hook.remove()
    return layers


def convcalc_layers(a: convcalc.Analysis) -> list[Layer]:
    kinds = set(KINDS.values())
    return [(r.type, r.params, r.buffers, r.output, r.macs) for r in a.rows if r.type in kinds]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(MODELS))
def test_layer_by_layer(name: str) -> None:
    model = build(MODELS[name])
    a = convcalc.analyze(convcalc.load(name))
    assert a.ok and a.input == (224, 224, 3)
    expected = torch_layers(model)
    actual = convcalc_layers(a)
    assert len(actual) == len(expected)
    for i, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
        assert mine == theirs, f"layer {i} of {len(expected)}"
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.macs == sum(layer[4] for layer in expected)
    assert a.output == expected[-1][3]


#: specs written with MUL, APOOL, SLICE and SHUFFLE (tests/data/modern/), and the inputs
MODERN: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "shufflenet-v2": (shufflenet_v2, (224, 160)),
    "mobilenet-v3-small": (mobilenet_v3_small, (224, 96)),
    "alexnet-adaptive": (alexnet, (224, 256, 160, 97)),  # 6×6, 7×7, 4×4 and 2×2 pooled to 6×6
}


@pytest.mark.parametrize("name", list(MODERN))
def test_modern_networks_layer_by_layer(name: str) -> None:
    factory, sizes = MODERN[name]
    model = build(factory)
    spec = convcalc.load(str(DATA / "modern" / f"{name}.yaml"))
    for size in sizes:
        a = convcalc.analyze(spec, input=(size, size, 3))
        assert a.ok, [f.render() for f in a.findings]
        expected = torch_layers(model, (size, size))
        actual = convcalc_layers(a)
        assert len(actual) == len(expected)
        for i, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
            assert mine == theirs, f"layer {i} of {len(expected)} at {size}"
        assert a.totals.params == sum(p.numel() for p in model.parameters())
        assert a.totals.macs == sum(layer[4] for layer in expected)
