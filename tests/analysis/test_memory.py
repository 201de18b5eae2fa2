"""Memory (README, Memory) against the notes' figures and hand-computed cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

import convcalc
from convcalc.frontend.spec_schema import OPTIMIZERS
from convcalc.units import parse_size

from ..support import check, run, spec

MIB = 1024 * 1024


def vgg16(**options: object) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load("vgg16"), **options)  # type: ignore[arg-type]


def memory(a: convcalc.Analysis) -> convcalc.Memory:
    assert a.memory is not None
    return a.memory


def test_vgg16_activations_forward_and_backward() -> None:
    m = memory(vgg16())
    assert m.activations == 15_237_608 * 4
    assert round(m.activations / MIB, 2) == 58.13
    # with the gradients "of equal size": 116.25 MB exactly (the 116.26 is 2 × 58.13,
    # doubling the rounded figure)
    assert round((m.activations + m.activation_gradients) / MIB, 2) == 116.25
    assert 2 * round(m.activations / MIB, 2) == 116.26


def test_vgg16_switches_and_parameters() -> None:
    m = memory(vgg16())
    pooled = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
    assert m.pool_switches == pooled * 8  # one int64 per max-pool output value
    assert round(m.activations / 1e6, 2) == 60.95 and round(m.pool_switches / 1e6, 2) == 12.24
    assert m.parameters == 138_357_544 * 4
    # one workspace, the largest step's of the pass (tests/analysis/test_training.py checks it
    # against the engine): conv4's Winograd F(4×4, 3×3) buffers, its input padded to
    # 114×114×128 and four chunks of tiles, each aligned to 64 bytes
    padded = 114 * 114 * 128 * 4
    assert m.workspace == padded + 3 * 6_709_248 + 2_981_888 + 5 * 64 == 29_763_904


def test_the_notes_three_conv_layers_take_about_72_mb() -> None:
    # "filtering a 224x224x3 image with three 3x3 CONV layers with 64 filters each and padding
    # 1 would create three activation volumes of size [224x224x64]. This amounts to a total of
    # about 10 million activations, or 72MB of memory (per image, for both activations and
    # gradients)."
    a = check(spec("INPUT -> [CONV(64, F=3, P=1)]*3", "224x224x3"))
    volumes = sum(r.activations for r in a.rows if r.type == "CONV")
    assert volumes == 3 * 224 * 224 * 64 and round(volumes / 1e6) == 10
    m = memory(a)
    conv_bytes = volumes * 4 * 2
    assert abs(conv_bytes / MIB - 72) / 72 < 0.03  # 73.50 MB: the notes' "about 72MB"
    assert m.activations + m.activation_gradients == (volumes + 224 * 224 * 3) * 8


# values each optimizer keeps per parameter, as torch.optim's state holds them: plain SGD
# none; momentum and Nesterov a velocity; Adagrad the sum of squares; RMSprop the square
# average; Adam and AdamW two moments
OPTIMIZER_VALUES = {
    "sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2,
}  # fmt: skip


@pytest.mark.parametrize(("optimizer", "state"), sorted(OPTIMIZER_VALUES.items()))
def test_parameter_memory_factor(optimizer: str, state: int) -> None:
    # "the memory to store the parameter vector alone must usually be multiplied by a factor of
    # at least 3 or so": parameters, their gradients and a step cache
    m = memory(vgg16(optimizer=optimizer))
    assert m.optimizer_state == state * 138_357_544 * 4
    assert m.parameters + m.parameter_gradients + m.optimizer_state == (2 + state) * m.parameters


def test_every_optimizer_has_its_literal_factor() -> None:
    assert set(OPTIMIZER_VALUES) == set(OPTIMIZERS)


@pytest.mark.parametrize(("dtype", "ratio"), [("float16", 0.5), ("bfloat16", 0.5), ("float64", 2)])
def test_dtype_scales_every_value(dtype: str, ratio: float) -> None:
    base, other = memory(vgg16()), memory(vgg16(dtype=dtype))
    # (not the workspace: the kernels cut their work into chunks of a few MB, in bytes)
    for field in ("activations", "activation_gradients", "parameters", "parameter_gradients",
                  "optimizer_state", "buffers"):  # fmt: skip
        assert getattr(other, field) == getattr(base, field) * ratio, field
    assert other.pool_switches == base.pool_switches  # switches are int64 indices whatever dtype


def test_batch_scales_only_the_per_image_parts() -> None:
    one, eight = memory(vgg16()), memory(vgg16(batch=8))
    for field in ("activations", "activation_gradients", "pool_switches"):
        assert getattr(eight, field) == 8 * getattr(one, field), field
    for field in ("parameters", "buffers", "parameter_gradients", "optimizer_state"):
        assert getattr(eight, field) == getattr(one, field), field
    grown = eight.workspace - one.workspace
    assert eight.training_total - one.training_total == 7 * one.per_image.training + grown


def test_training_total_is_the_sum_of_its_parts() -> None:
    m = memory(vgg16(batch=4, optimizer="adam"))
    doc = m.to_json()
    parts = ("activations", "activation_gradients", "pool_switches", "workspace", "parameters",
             "buffers", "parameter_gradients", "optimizer_state", "weight_copies",
             "overhead")  # fmt: skip
    assert sum(doc[p] for p in parts) == doc["training_total"]  # type: ignore[misc]


def test_max_batch_is_the_largest_that_fits() -> None:
    m = memory(vgg16())
    budget = parse_size("12GiB")
    best = m.max_batch(budget)
    assert best >= 1
    assert m.with_batch(best).training_total <= budget < m.with_batch(best + 1).training_total
    assert m.max_batch(m.fixed - 1) == 0


def test_buffers_of_batch_norm() -> None:
    m = memory(convcalc.analyze(convcalc.load("resnet18")))
    bn_channels = sum(r.output[2] for r in convcalc.analyze(convcalc.load("resnet18")).rows
                      if r.type == "BN")  # fmt: skip
    assert m.buffers == 2 * bn_channels * 4


def test_liveness_of_an_add() -> None:
    # rows: input 16, conv1 32, conv2 32, id (= conv1), add. The ADD sums into conv2's output
    # (PyTorch's `out += identity`), so while it runs conv1 (through the ID branch) and
    # conv2/the sum are alive: 64 values, as while conv2 runs.
    a = check(spec("INPUT -> CONV(2, F=1) -> ADD{ CONV(2, F=1) | ID }", "4x4x1"))
    assert [r.activations for r in a.rows] == [16, 32, 32, 0, 0]
    assert a.rows[-1].in_place and a.rows[-1].inputs == (2, 3)
    assert memory(a).per_image.live_peak == 64 * 4


def test_liveness_of_an_add_of_two_fresh_branches() -> None:
    # conv1 16 -> conv2 32, conv3 32 (both read conv1), add sums into conv2: at conv3, conv1,
    # conv2 and conv3 are alive (16 + 32 + 32), at the add conv2/sum and conv3 (64)
    a = check(spec("INPUT -> CONV(1, F=1) -> ADD{ CONV(2, F=1) | CONV(2, F=1) }", "4x4x1"))
    assert memory(a).per_image.live_peak == 80 * 4
    # conv3's output is read only by the ADD, which keeps nothing for backward
    assert [r.activations for r in a.rows] == [16, 16, 32, 0, 0]


def test_an_add_sums_through_a_droppath_that_ends_its_branch() -> None:
    # rows: input 16, conv1 32, conv2 32, droppath, id, add. In training the DROPPATH makes a
    # new output that torchvision's `result += input` sums into, and nothing keeps conv2's:
    # one volume, as without the DROPPATH (the ADD sums into conv2's storage)
    a = check(spec("INPUT -> CONV(2, F=1) -> ADD{ CONV(2, F=1) -> DROPPATH(0.1) | ID }", "4x4x1"))
    assert [r.activations for r in a.rows] == [16, 32, 32, 0, 0, 0]
    assert a.rows[-1].in_place and a.rows[-1].inputs == (3, 4)
    assert memory(a).per_image.live_peak == 64 * 4
    # a second fresh branch, read by the ADD alone through its DROPPATH, is not kept
    two = "INPUT -> ADD{ CONV(2, F=1) -> DROPPATH(0.1) | CONV(2, F=1) -> DROPOUT }"
    assert [r.activations for r in check(spec(two, "4x4x1")).rows] == [16, 32, 0, 0, 0, 0]


def test_an_add_with_nothing_fresh_allocates() -> None:
    a = check(spec("INPUT -> CONV(2, F=1) -> ADD{ ID | ID }", "4x4x1"))
    add = a.rows[-1]
    assert not add.in_place and add.activations == 32


def test_liveness_of_a_cat() -> None:
    # input 32 stays alive until the second branch has read it (32 + 48 + 80 = 160); then the
    # two branches and the concatenation: 48 + 80 + 128 = 256 values
    a = check(spec("INPUT -> CAT{ CONV(3, F=1) | CONV(5, F=1) }", "4x4x2"))
    assert memory(a).per_image.live_peak == 256 * 4


def test_liveness_with_in_place_layers() -> None:
    # the RELU writes into conv1's storage; conv2 reads it: 32 + 32 values at most
    a = check(spec("INPUT -> CONV(2, F=1) -> RELU -> CONV(2, F=1)", "4x4x1"))
    assert memory(a).per_image.live_peak == 64 * 4
    pattern = "INPUT -> CONV(2, F=1) -> RELU(inplace=false) -> CONV(2, F=1)"
    not_in_place = check(spec(pattern, "4x4x1"))
    # conv1 + relu while the RELU runs, then relu + conv2
    assert memory(not_in_place).per_image.live_peak == 64 * 4


def test_inference_peak_formula() -> None:
    m = memory(vgg16(batch=2))
    per = m.per_image
    assert m.inference_peak == m.parameters + m.buffers + 2 * per.live_peak + m.workspace
    assert per.live_peak == 2 * 224 * 224 * 64 * 4  # conv1 and conv2 outputs, nothing more


def test_budget_findings() -> None:
    text = spec("INPUT -> [CONV(64, F=3, P=1)]*3 -> FC(10)", "224x224x3",
                "budgets: {activations: 30MiB, parameters: 1MB}\n")  # fmt: skip
    a = check(text)
    codes = {f.code: f for f in a.findings}
    assert codes["CC401"].message.startswith("activations per image take 37.32 MB at float32")
    assert "over the budget of 30.00 MB" in codes["CC401"].message
    assert codes["CC402"].location.line == 3
    fine = check(text.replace("30MiB", "40MiB").replace("1MB", "200MB"))
    assert not {"CC401", "CC402"} & {f.code for f in fine.findings}


def test_cc403_one_layer_holds_most_parameters() -> None:
    (f,) = [f for f in vgg16().findings if f.code == "CC403"]
    assert f.layer == "fc1" and "74%" in f.message
    assert not [f for f in convcalc.analyze(convcalc.load("resnet18")).findings
                if f.code == "CC403"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [("12GiB", 12 * 1024**3), ("16GB", 16 * 1000**3), ("8000MiB", 8000 * 1024**2),
     ("512 MB", 512 * 1000**2), ("1.5GiB", 3 * 1024**3 // 2), ("1000", 1000)],
)  # fmt: skip
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_parse_size_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="like 12GiB, 16GB"):
        parse_size("12 gigs")


def test_check_json_has_the_memory_object() -> None:
    result = run("check", "vgg16", "--format", "json", "--batch", "2", "--optimizer", "adam")
    mem = json.loads(result.output)["results"][0]["memory"]
    assert mem["dtype"] == "float32" and mem["batch"] == 2 and mem["optimizer"] == "adam"
    assert mem["activations"] == 2 * 60_950_432
    assert mem["optimizer_state"] == 2 * 553_430_176


def test_memory_command_text() -> None:
    result = run("memory", "vgg16", "--batch", "8", "--budget", "12GiB")
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("largest batch in 12,288.00 MB: 70 (12,257.30 MB; 71 needs 12,409.79 MB)")
    assert "activations                     58.13   4,068.88" in out  # at batch 70
    assert "fc1     FC       0.02  ▏                392.02  ████████████" in out


def test_memory_command_json() -> None:
    result = run("memory", "resnet18", "--budget", "8000MiB", "--format", "json")
    doc = json.loads(result.output)
    m = memory(convcalc.analyze(convcalc.load("resnet18")))
    assert doc["max_batch"] == m.max_batch(8000 * 1024**2) and doc["budget"] == 8000 * 1024**2
    # with a budget, the figures are at the largest batch that fits
    assert doc["training_total"] == m.with_batch(doc["max_batch"]).training_total
    assert doc["batch"] == doc["max_batch"] and doc["per_image"]["live_peak"] > 0


def test_even_batch_one_does_not_fit() -> None:
    result = run("memory", "vgg16", "--budget", "1GiB")
    assert result.exit_code == 1
    assert result.output.startswith(
        "budget 1,024.00 MB: not even batch 1 fits: what does not grow with the batch\n"
        "  needs 1,583.38 MB (parameters 527.79,"
    )
    acts = run("memory", "vgg16", "--budget", "1.7GB")
    assert "not even batch 1 fits: one image needs 127.93 MB" in acts.output


def test_memory_usage_errors() -> None:
    assert run("memory", "vgg16", "--budget", "lots").exit_code == 2
    assert run("memory", "vgg16", "--batch", "0").exit_code == 2
    assert run("memory", "vgg16", "--optimizer", "lion").exit_code == 2


# -- what PyTorch's autograd keeps, for the modern layers ---------------------------------


def torch_saved_values(arch: str, shape: tuple[int, int, int]) -> tuple[int, int]:
    """(values autograd saves in a training forward, convcalc's activations) for a chain
    of modern layers, each built as torchvision builds it: nn.ReLU6/Hardswish/Hardsigmoid/
    SiLU (inplace as the row says), ConvNeXt's LayerNorm2d and layer scale on NHWC, Linear
    on NHWC, StochasticDepth's row mode (a per-sample noise times the input), the residual
    sum as torchvision's in-place `result += input`. Parameters, and tensors of at most one
    value a position (the noise, LN's mean and 1/σ), are left out; the network's output,
    which convcalc counts and the loss would read, is added."""
    torch = pytest.importorskip("torch")
    from torch import nn

    a = check(spec(arch, "x".join(map(str, shape))))
    assert a.ok and a.memory is not None
    acts = {"RELU6": nn.ReLU6, "HSWISH": nn.Hardswish, "HSIGMOID": nn.Hardsigmoid,
            "SILU": nn.SiLU, "SWISH": nn.SiLU, "RELU": nn.ReLU}  # fmt: skip
    w, h, d = shape
    x = torch.randn(2, d, h, w)
    outs: list[torch.Tensor] = []
    params = nn.ParameterList()
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.numel() > 2 * w * h:  # N = 2: more than a value a position
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes() // 4 // 2
        return t

    def nhwc(f: Any, t: torch.Tensor) -> torch.Tensor:
        return f(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for row in a.rows:
            args, c = row.args, (row.input_shapes[0][2] if row.input_shapes else d)
            t = outs[row.inputs[0]] if row.inputs else x
            m: Any = None
            if row.type == "CONV":
                f, p = args["F"], args["P"]
                m = nn.Conv2d(c, row.output[2], f[0], padding=p[0], groups=args["groups"])  # type: ignore[index]
            elif row.type == "BN":
                m = nn.BatchNorm2d(c)
            elif row.type in acts:
                m = acts[row.type](inplace=bool(args["inplace"]))
            elif row.type == "GELU":  # no in-place form in PyTorch
                m = nn.GELU()
            elif row.type == "LRN":
                m = nn.LocalResponseNorm(int(args["size"]), float(args["alpha"]),  # type: ignore[arg-type]
                                         float(args["beta"]), float(args["k"]))  # type: ignore[arg-type]  # fmt: skip
            elif row.type == "LRELU":
                m = nn.LeakyReLU(float(args["slope"]), inplace=bool(args["inplace"]))  # type: ignore[arg-type]
            elif row.type == "ELU":
                m = nn.ELU(float(args["alpha"]), inplace=bool(args["inplace"]))  # type: ignore[arg-type]
            elif row.type == "LN":
                ln = nn.LayerNorm(c, eps=float(args["eps"]))  # type: ignore[arg-type]
                params.extend(ln.parameters())
                m = lambda t, ln=ln: nhwc(ln, t)  # noqa: E731
            elif row.type == "LINEAR":
                lin = nn.Linear(c, row.output[2])
                params.extend(lin.parameters())
                m = lambda t, lin=lin: nhwc(lin, t)  # noqa: E731
            elif row.type == "SCALE":
                gamma = nn.Parameter(torch.full((c, 1, 1), 1e-6))
                params.append(gamma)
                m = lambda t, g=gamma: g * t  # noqa: E731
            elif row.type == "DROPPATH":
                noise = torch.ones(2, 1, 1, 1).bernoulli_(1 - float(args["p"]))  # type: ignore[arg-type]
                m = lambda t, n=noise: t * n  # noqa: E731
            if isinstance(m, nn.Module):
                params.extend(m.parameters())
                m.train()
            if row.type == "ADD":
                y = outs[row.inputs[0]]
                for i in row.inputs[1:]:
                    y += outs[i]
            else:
                y = m(t) if m is not None else t
            outs.append(y)
    for q in params:  # a weight or its transpose (a view) is a parameter, not an activation
        seen.pop(q.untyped_storage().data_ptr(), None)
    out = a.rows[-1].output  # the network's output, which the loss would read
    return sum(seen.values()) + out[0] * out[1] * out[2], a.memory.per_image.activations // 4


@pytest.mark.parametrize(
    "arch",
    [
        # MobileNetV3's activations, in place as torchvision builds them, and not
        "INPUT -> CONV(8, F=3, P=1) -> BN -> HSWISH -> CONV(8, F=1) -> BN -> RELU6 "
        "-> CONV(8, F=1) -> SILU -> CONV(8, F=1) -> HSIGMOID -> CONV(8, F=1)",
        "INPUT -> CONV(8, F=3, P=1) -> HSWISH(inplace=false) -> CONV(8, F=1) "
        "-> SWISH(inplace=false) -> CONV(8, F=1)",
        # EfficientNet's MBConv tail and ConvNeXt's block, with stochastic depth
        "INPUT -> CONV(8, F=1) -> RES{ CONV(16, F=1) -> BN -> SILU -> CONV(8, F=1) -> BN "
        "-> DROPPATH(0.5) } -> CONV(8, F=1)",
        "INPUT -> CONV(8, F=1) -> RES{ CONV(8, F=7, P=3, groups=8) -> LN -> LINEAR(32) "
        "-> GELU(inplace=false) -> LINEAR(8) -> SCALE -> DROPPATH(0.5) } -> CONV(8, F=1)",
    ],
)
def test_training_activations_are_what_torch_saves(arch: str) -> None:
    theirs, ours = torch_saved_values(arch, (6, 5, 3))
    assert ours == theirs


@pytest.mark.parametrize(
    "arch",
    [
        # ConvNeXt's MLP: GELU keeps its input and makes a new output, which LINEAR keeps
        "INPUT -> CONV(8, F=1) -> LINEAR(32) -> GELU -> LINEAR(8) -> CONV(8, F=1)",
        # an output read only by an ADD is let go unless its layer's backward reads it
        "INPUT -> CONV(8, F=1) -> ADD{ CONV(8, F=1) -> GELU | CONV(8, F=1) -> GELU } "
        "-> CONV(8, F=1)",
        # out of place, LRELU and ELU keep their input: the second operand is let go
        "INPUT -> CONV(8, F=1) -> ADD{ CONV(8, F=1) -> LRELU(0.1, inplace=false) "
        "| CONV(8, F=1) -> ELU(inplace=false) } -> CONV(8, F=1)",
        "INPUT -> CONV(8, F=1) -> ADD{ CONV(8, F=1) -> ELU(inplace=false) "
        "| CONV(8, F=1) -> LRELU(0.2, inplace=false) } -> CONV(8, F=1)",
        # in place, leaky_relu_ and elu_ keep their result, the overwritten input
        "INPUT -> CONV(8, F=1) -> ADD{ CONV(8, F=1) -> BN | CONV(8, F=1) -> LRELU(0.1) } "
        "-> CONV(8, F=1)",
        "INPUT -> CONV(8, F=1) -> ADD{ CONV(8, F=1) -> BN | CONV(8, F=1) -> ELU } "
        "-> CONV(8, F=1)",
        "INPUT -> CONV(8, F=3, P=1) -> LRELU(0.1) -> CONV(8, F=1) -> ELU(0.5) -> CONV(8, F=1) "
        "-> GELU -> CONV(8, F=1)",
        # local_response_norm is built from elementwise ops: it keeps its input, the padded
        # squares, the base of the power and the divisor
        "INPUT -> CONV(8, F=3, P=1) -> RELU -> LRN -> CONV(8, F=1)",
        "INPUT -> CONV(8, F=1) -> LRN(size=3, k=1.0) -> CONV(8, F=1)",
    ],
)
def test_gelu_lrelu_elu_and_lrn_keep_what_torch_saves(arch: str) -> None:
    theirs, ours = torch_saved_values(arch, (6, 5, 3))
    assert ours == theirs


# -- what autograd saves for the new parts ------------------------------------------------


def _saved_bytes(forward: Any, x: Any, params: set[int]) -> int:
    """Bytes of the distinct storages autograd saves in one training forward, parameters
    excluded (as benchmarks/memory_vs_torch.py counts them)."""
    import torch

    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward(x)
    return sum(seen.values())


def test_the_new_parts_keep_what_autograd_keeps() -> None:
    """Squeeze-and-excitation (MUL keeps both operands), a ShuffleNet unit (SLICE is a view;
    the CAT that only SHUFFLE reads is not kept, nor anything of SHUFFLE's) and an adaptive
    max pool (its input, and an int64 index per output): convcalc's activations without the
    network's output, plus the switches, are the bytes torch's autograd saves."""
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    cases: list[tuple[str, str, Any]] = []

    c1, c2 = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 4, 1)
    c3, c4 = nn.Conv2d(4, 16, 1), nn.Conv2d(16, 8, 1)

    def se(x: Any) -> Any:
        y = F.relu(c1(x), inplace=True)
        s = F.adaptive_avg_pool2d(y, 1)
        s = torch.sigmoid_(c3(F.relu(c2(s), inplace=True)))
        return c4(y * s)

    cases.append(("INPUT -> CONV(16, P=1) -> RELU -> MUL{ ID | GAP -> CONV(4, F=1) -> RELU "
                  "-> CONV(16, F=1) -> SIGMOID } -> CONV(8, F=1)", "8x8x3", se))  # fmt: skip
    s1, s2, s3 = nn.Conv2d(3, 16, 1), nn.Conv2d(8, 8, 1), nn.Conv2d(16, 4, 1)

    def shuffle(x: Any) -> Any:
        y = F.relu(s1(x), inplace=True)
        a, b = y.chunk(2, dim=1)
        y = torch.cat((a, F.relu(s2(b), inplace=True)), 1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return s3(y)

    cases.append(("INPUT -> CONV(16, F=1) -> RELU -> CAT{ SLICE(0, 8) | SLICE(8) -> CONV(8, F=1) "
                  "-> RELU } -> SHUFFLE(2) -> CONV(4, F=1)", "8x8x3", shuffle))  # fmt: skip
    p1, p2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1)
    cases.append(("INPUT -> CONV(8, P=1) -> APOOL(3, type=max) -> CONV(4, F=1)", "7x7x3",
                  lambda x: p2(F.adaptive_max_pool2d(p1(x), 3))))  # fmt: skip
    modules = [c1, c2, c3, c4, s1, s2, s3, p1, p2]
    params = {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}
    for arch, shape, forward in cases:
        a = check(spec(arch, shape))
        assert a.memory is not None
        w, h, d = a.input
        theirs = _saved_bytes(forward, torch.randn(1, d, h, w), params)
        ours = (a.totals.activations - a.rows[-1].activations) * 4 + a.memory.pool_switches
        assert ours == theirs, arch


def test_lrn_tconv_and_a_pool_on_the_input_keep_what_autograd_keeps() -> None:
    """LRN keeps what PyTorch's composed LocalResponseNorm saves (the padded squares, the
    base and the divisor, besides its output); a TCONV read only by a CAT is not kept (cat
    keeps nothing); a max pool on the network's input needs no backward (no switches), its
    output kept only by the CONV that reads it. Exact bytes, the network's output excluded."""
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    c1, c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1)
    lrn = nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)
    t1, t2 = nn.Conv2d(3, 8, 1), nn.ConvTranspose2d(8, 8, 2, 2)
    t3, t4 = nn.Conv2d(16, 4, 1), nn.Conv2d(3, 4, 1)
    cases: list[tuple[str, str, Any]] = [
        ("INPUT -> CONV(8, P=1) -> RELU -> LRN -> POOL(2) -> CONV(4, F=1)", "8x8x3",
         lambda x: c2(F.max_pool2d(lrn(F.relu(c1(x), inplace=True)), 2))),
        ("INPUT -> CONV(8, F=1) -> RELU -> CAT{ ID | POOL(2) -> TCONV(8, F=2, S=2) } "
         "-> CONV(4, F=1)", "8x8x3",
         lambda x: t3(torch.cat((y := F.relu(t1(x), inplace=True), t2(F.max_pool2d(y, 2))), 1))),
        ("INPUT -> POOL(F=3, S=1, P=1) -> CONV(4, F=1)", "8x8x3",
         lambda x: t4(F.max_pool2d(x, 3, 1, 1))),
    ]  # fmt: skip
    modules = [c1, c2, t1, t2, t3, t4]
    params = {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}
    for arch, shape, forward in cases:
        a = check(spec(arch, shape))
        assert a.memory is not None
        w, h, d = a.input
        theirs = _saved_bytes(forward, torch.randn(1, d, h, w), params)
        ours = a.memory.activations - a.rows[-1].activations * 4 + a.memory.pool_switches
        assert ours == theirs, arch
