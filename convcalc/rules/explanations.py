"""The long explanation of every rule, shown by `convcalc rules CODE`.

Each has what the rule checks and why, an example that fires, and its fix.
"""

from __future__ import annotations

EXPLANATIONS: dict[str, str] = {
    "CC100": """\
The file cannot be read as text: it is empty, has a NUL byte, is UTF-16, or is not UTF-8.

Example: a spec saved by an editor as UTF-16, or an empty `net.yaml`.
Fix: save the spec as UTF-8 text with at least `name`, `input` and `arch`.""",
    "CC101": """\
YAML could not parse the file. The most common cause in a spec is an `arch` pattern that
YAML reads itself: a value starting with `[` is a YAML list, `*2` is an alias and `: ` starts
a mapping.

Example:  arch: [CONV -> RELU]*2 -> FC(10)
Fix:      arch: |
            [CONV -> RELU]*2 -> FC(10)""",
    "CC102": """\
Specs are plain YAML: what `yaml.safe_load` reads, without tags (`!!python/...`, `!custom`),
merge keys (`<<`) or keys that are lists or mappings.

Example:  name: !!python/object/apply:os.system ["echo hi"]
Fix:      name: my-network""",
    "CC103": """\
A key appears twice in the same mapping. YAML would silently keep the last one.

Example:  vars: {N: 2, N: 3}
Fix:      vars: {N: 3}""",
    "CC104": """\
A key that the spec format does not have (with a did-you-mean), also in `memory:`,
`budgets:` and for the arguments of a layer type in `defaults:`.

Example:  arhc: INPUT -> FC(10)
Fix:      arch: INPUT -> FC(10)""",
    "CC105": """\
A required key is missing (`name`, `input`, `arch`) or a value has the wrong type or range.

Example:  input: 224x224        (no depth)
Fix:      input: 224x224x3      (width x height x depth, or [224, 224, 3])""",
    "CC106": """\
YAML read `arch` as a list or a mapping, not as a string, because it starts with `[` or
contains `: `.

Example:  arch: [CONV -> RELU]
Fix:      arch: |
            [CONV -> RELU]""",
    "CC107": """\
The pattern does not follow the arrow grammar: an unbalanced bracket, a missing `->`, an empty
branch, an unexpected character. The caret points at the token where parsing stopped.

Example:  INPUT -> [CONV(16) -> RELU -> FC(10)
Fix:      INPUT -> [CONV(16) -> RELU] -> FC(10)""",
    "CC108": """\
A name in the pattern is neither a layer type nor a block defined under `blocks:` (layer types
are upper case).

Example:  INPUT -> conv(16) -> RELU
Fix:      INPUT -> CONV(16) -> RELU""",
    "CC109": """\
A name in a count, an argument or an optional `X?name` has no value: it is not in `vars:`, not
a block parameter and not set with --set.

Example:  INPUT -> [CONV(16) -> RELU]*N -> FC(10)
Fix:      vars: {N: 2}      (or: convcalc check spec.yaml --set N=2)""",
    "CC110": """\
`over` must give exactly one value per repetition.

Example:  [CONV(c) -> RELU]*3 over c=(16, 32)
Fix:      [CONV(c) -> RELU]*3 over c=(16, 32, 64)""",
    "CC111": """\
A layer argument is unknown, repeated, of the wrong kind or out of range; a required one (the
K of CONV and FC) is missing; or only the first argument is positional (the first two of
SLICE).

Example:  CONV(16, stride=2)         CONV(16, 3)
Fix:      CONV(16, S=2)              CONV(16, F=3)""",
    "CC112": """\
A bare optional stage `X?` is present by default. Name it to choose from vars or the command
line.

Example:  INPUT -> [[CONV -> RELU]*N -> POOL?]*M
Fix:      INPUT -> [[CONV -> RELU]*N -> POOL?pool]*M   with vars: {pool: true}""",
    "CC113": """\
A block or variable definition is invalid (a reserved name, a parameter given twice, defaults
before plain parameters), a block call does not match the block's parameters, or a label
names two different layers.

Example:  blocks: {"stage(c, n=2)": ...}   called as stage(16, m=2)
Fix:      stage(16, n=2)""",
    "CC114": """\
Arithmetic that has no meaning: division by zero, a negative repetition count, a pair in
arithmetic, a word where a number is needed.

Example:  [CONV(8)]*(N - 3)   with N = 2
Fix:      a count of 0 or more""",
    "CC115": """\
INPUT stands for the spec's input volume: it may only open the pattern (and is implied when
it does not), once, not repeated and not optional.

Example:  INPUT -> CONV(16) -> INPUT -> FC(10)
Fix:      INPUT -> CONV(16) -> FC(10)""",
    "CC120": """\
The spec file is larger than 1 MiB. No architecture needs that; repetitions and blocks keep
specs short.

Fix: write repeated parts once, with [...]*n and blocks.""",
    "CC121": """\
The pattern expands to more than 20,000 layers, or takes more than 100,000 expansion steps
(repetitions of nothing, block calls and every arithmetic operator evaluated count too).
convcalc bounds what a pattern, a repetition or a block call expands to before expanding it,
and refuses at once.

Example:  [[[[ID]*10000]*10000]*10000]*10000
Fix:      smaller repetition counts""",
    "CC122": """\
A single repetition count is above 20,000.

Example:  [FC(2)]*1000000000
Fix:      a realistic count""",
    "CC123": """\
Brackets, merges and parentheses nest more than 64 levels deep, or the YAML does. Brackets
and merges count through block calls too: a block called inside brackets adds its own.

Fix: brackets are only needed around what repeats or is optional; a block can name a
deep part.""",
    "CC124": """\
Block calls nest more than 32 levels deep: usually a recursive block without a stopping
condition.

Example:  blocks: {"down(n)": "CONV -> down(n)"}
Fix:      blocks: {"down(n)": "CONV -> down(n - 1)?n"}   (stops when n reaches 0)""",
    "CC125": """\
The YAML has more than 100,000 nodes (keys, values and list items), or aliases expand it
past that many (a "billion laughs" bomb), or an alias refers to itself.

Fix: write the repeated part once; blocks and [...]*n repeat layers.""",
    "CC126": """\
An integer is too large: above 2^40 in arithmetic, above 2^24 as a size (K, F, S, P, an input
dimension), or longer than 30 digits.

Example:  CONV(99999999999)
Fix:      a realistic size""",
    "CC130": """\
An ONNX model is read as a spec (`convcalc check model.onnx`), operator by operator; this one
has no convcalc layer, or uses it in a way a layer cannot say (asymmetric pads, a Concat
along the width, a graph that needs one layer in two branches). The finding names the
operator and the node.

Example:  a model with a Pad node before a Conv, or an Einsum
Fix:      export the model with symmetric padding inside the Conv, or check the part of the
          network convcalc reads as a spec in the arrow grammar (`convcalc import` writes one)""",
    "CC131": """\
The file named .onnx is not an ONNX model protobuf: it is empty, truncated (a copy that
stopped early), or something else under that name. Nothing of it was read.

Example:  a model.onnx that a download cut off half way
Fix:      export the model again: torch.onnx.export(model, x, "model.onnx", dynamo=False,
          do_constant_folding=False)""",
    "CC132": """\
PyTorch's ONNX exporter, in eval mode with constant folding (its default), folds each
BatchNorm into the convolution before it: the BN's γ, β and running statistics become the
CONV's weights and a bias, and the BN node is gone. convcalc reports the file's network as
it is (no BN rows, a bias per CONV), so the counts differ from the model in PyTorch. It can
tell from the CONVs' weights: unnamed constants (onnx::Conv_...) rather than the modules'
parameter names.

Example:  torch.onnx.export(resnet50, x, "r.onnx") and `convcalc check r.onnx`
Fix:      torch.onnx.export(resnet50, x, "r.onnx", dynamo=False, do_constant_folding=False)""",
    "CC201": """\
The stride does not fit: (W − F_eff + 2P)/S + 1 is not an integer and real input rows or
columns are never read (the notes call these hyperparameters "invalid"). With --rounding strict
this is an error. The help gives a symmetric P that fits, else the asymmetric total padding,
the nearest input sizes that fit this layer, and the input sizes near yours for which the whole
network fits.

Example:  input 224x224x3, CONV(96, F=11, S=4)     (224 − 11)/4 + 1 = 54.25
Fix:      input 227x227x3 (as the notes say AlexNet really used), or pad 3 in total""",
    "CC202": """\
The stride does not fit, but what is left unread is only padding, or no more than the gap a
stride larger than the window leaves between any two windows (a 1×1 stride-2 CONV).
Frameworks floor the output; nothing is lost. Two sound designs are not reported: padding
(F − 1)/2 on both sides of an odd window (every pixel is read and the output is ⌈W/S⌉, as
TensorFlow's 'same' and ResNet's stride-2 layers give), and the projection inferred for a SKIP.
Inside a merge's branch, the help offers only fixes that keep the size the other branches give.

Example:  CONV(64, F=3, S=2, P=2) on 56: (56 − 3 + 4)/2 + 1 = 29.5 → 29
Fix:      none needed; P=1 or an odd input would make it exact""",
    "CC203": """\
The output would be smaller than 1 pixel: the window does not fit in the (padded) input, or a
TCONV's padding removes everything. The help names the stride-1 CONVs on the way that shrank
the volume ("conv1–conv6 shrink the volume by 2 each; P=1 keeps it"), and the findings of the
layers before it, the design advice included, are reported with it.

Example:  8x8 input, [CONV(16, F=5) -> POOL]*3
Fix:      pad (P=2 keeps 8x8 at F=5), use smaller filters, or fewer pooling layers""",
    "CC204": """\
The stride is larger than the window, so the input pixels between windows are never read.

Example:  POOL(F=1, S=2)
Fix:      a window at least as large as the stride, unless skipping is intended (1×1
          stride-2 projections; the one inferred for a SKIP is not reported)""",
    "CC205": """\
The output size depends on the framework: ceil rounding (PyTorch ceil_mode=True, Caffe's
pooling, --rounding caffe) and floor rounding (Keras, TensorFlow, PyTorch's default) differ.

Example:  POOL(F=3, S=2, ceil=true) on 112: ceil gives 56, floor 55
Fix:      choose F, S, P so that the stride fits; then every framework agrees""",
    "CC206": """\
`same` padding needs an odd total here, so the extra pixel goes after (TensorFlow), PyTorch's
padding='same' refuses strides above 1, and Caffe cannot express it.

Example:  CONV(8, F=4, P=same)
Fix:      an odd filter at stride 1, or explicit padding""",
    "CC207": """\
Grouped convolutions need groups to divide both the input depth and K; a channel shuffle
needs them to divide the input depth.

Example:  CONV(10, groups=4) on a 16-deep input      SHUFFLE(3) on 116 channels
Fix:      groups=2, or K=12                          SHUFFLE(2) (116 = 2 × 58)""",
    "CC208": """\
APOOL pools to a fixed width and height over PyTorch's bins: bin i spans floor(i·W/out) to
ceil((i + 1)·W/out). An output larger than the input is allowed, as in PyTorch, but then the
bins are one or two pixels wide and overlap: input values are repeated, not pooled
(torchvision's AlexNet on a small image pools 1×1 to 6×6 this way).

Example:  INPUT -> APOOL(6)            (on 4x4x256)
Fix:      INPUT -> APOOL(4), or UP to upsample on purpose""",
    "CC209": """\
SLICE(start, stop) takes channels start to stop − 1 of its input (stop omitted: to the last),
so it needs 0 ≤ start < stop ≤ D. ShuffleNetV2 splits D channels into SLICE(0, D/2) and
SLICE(D/2, D).

Example:  INPUT -> CAT{ SLICE(0, 58) | SLICE(58, 120) -> CONV(58, F=1) }   (on 116 channels)
Fix:      INPUT -> CAT{ SLICE(0, 58) | SLICE(58, 116) -> CONV(58, F=1) }""",
    "CC301": """\
ADD sums its branches, so they need the same W×H×D; the message lists every branch's shape,
the caret marks the branch that differs from the others, and the help names the layers in it
that shrank it.

Example:  ADD{ CONV(16, P=1) | CONV(32, S=2) }
Fix:      make the shapes equal, or end a branch with SKIP to project it""",
    "CC302": """\
CAT concatenates along depth, so the branches need the same width and height. The caret
marks the branch that differs from the others, and the help names the layers in it that
shrank it ("conv2 shrinks the volume by 2; P=1 keeps it").

Example:  CAT{ CONV(16, P=1) | CONV(16) }          (32x32 against 30x30)
Fix:      CAT{ CONV(16, P=1) | CONV(16, P=1) }""",
    "CC303": """\
The branches of an ADD or CAT have the same shape but look at different places of the input:
a different total stride or differently centred windows, so their units are shifted against
each other (by half a pixel, or more).

Example:  ADD{ CONV(8, F=3, S=2, P=1) | CONV(8, F=2, S=2) }
Fix:      the same filter size and padding (P = (F − 1)/2) where the branches downsample""",
    "CC304": """\
A SKIP branch became an unusual projection, CONV(K, F=1, S, bias=false) -> BN, with K and S
inferred from the sibling branch: a stride other than 1 or 2, different along the width and
the height, or fewer channels than its input. ResNet's projections (stride 1 or 2, as many
channels or more) are not reported; their two layers appear in the table all the same.

Example:  ADD{ CONV(128, S=3, P=1) -> BN -> RELU -> CONV(128, P=1) -> BN | SKIP }
Fix:      none needed; write SKIP(K=..., S=...) to make it explicit""",
    "CC305": """\
SKIP must end a branch of an ADD that has a sibling branch to match, and a 1×1 stride must be
able to take the input to the sibling's size.

Example:  INPUT -> SKIP -> FC(10)
Fix:      ADD{ CONV(16, P=1) | SKIP }""",
    "CC306": """\
MUL multiplies its branches elementwise, so they need the same W×H×D, except that a 1×1×D
branch broadcasts over a W×H×D one (squeeze-and-excitation: one weight per channel). The
depths must be equal; a width and height that are neither the other branches' nor 1×1 do
not broadcast. The message lists every branch's shape.

Example:  MUL{ ID | GAP -> CONV(16, F=1) -> RELU -> CONV(32, F=1) -> SIGMOID }   (on 64 channels)
Fix:      MUL{ ID | GAP -> CONV(16, F=1) -> RELU -> CONV(64, F=1) -> SIGMOID }""",
    "CC401": """\
The activations of one image take more memory (at the spec's dtype, forward only) than the
spec's `budgets: activations` allows.

Example:  budgets: {activations: 30MiB} for three 224x224x64 CONV volumes (36.75 MB)
Fix:      a smaller input, fewer filters early, float16, or a larger budget""",
    "CC402": """\
The trainable parameters take more memory than `budgets: parameters` allows.

Example:  budgets: {parameters: 500MB} for VGG-16 (553 MB)
Fix:      fewer or narrower FC layers, a GAP before the classifier""",
    "CC403": """\
One layer holds more than half of all parameters (in a network with at least three layers
that have parameters). In VGG-16 the first FC holds 74%; the notes: "it was since found that
these FC layers can be removed with no performance downgrade".

Example:  VGG-16's fc1: 102,764,544 of 138,357,544 parameters
Fix:      a GAP before a small classifier, or the FC→CONV conversion""",
    "CC501": """\
"The input layer should be divisible by 2 many times": the input width or height does not
divide by the product of the strides along the network, so some downsampling step rounds.

Example:  input 227x227x3 through five stride-2 stages (32 does not divide 227)
Fix:      32, 64, 96, 224, 384 or 512 wide inputs, or strides that fit""",
    "CC502": """\
"If you must use bigger filter sizes (such as 7x7 or so), it is only common to see this on the
very first conv layer that is looking at the input image." A dense F×F filter costs F·F
weights for every pair of input and output channels, at every position (49 at 7×7, against 9
for a 3×3). The rule fires on filters of more than a 5×5's 25: a factorised filter (Inception
v3's 1×7 and 7×1 pairs, 7 each, fewer than a 3×3) and a depthwise one (groups = D1,
ConvNeXt's 7×7: 49 weights per channel, not per pair of channels) keep a large receptive
field without that cost, and are spared. A filter that covers its whole input (an FC written
as a CONV, as `convert --fc-to-conv` writes them) is not reported either.

Example:  a 7×7 CONV in the middle of the network
Fix:      3×3 (or at most 5×5) filters after the first layer, a 1×7 then a 7×1 CONV, or a
          depthwise 7×7 (groups = the input channels)""",
    "CC503": """\
One large CONV (F ≥ 5, stride 1) has the same receptive field as a stack of (F − 1)/2 3×3
CONVs, which have non-linearities in between and fewer parameters: the notes' 49C² against
27C² for 7×7. The message gives both counts.

Example:  CONV(64, F=7, P=3) on 56x56x64: 200,704 weights against 110,592
Fix:      [CONV(64, F=3, P=1) -> RELU]*3""",
    "CC504": """\
A stride-1 CONV whose padding is not (F − 1)/2 changes the spatial size; the notes: without
it "the size of the volumes would reduce by a small amount after each CONV, and the
information at the borders would be washed away too quickly".

Example:  CONV(16, F=5) at stride 1 on 32x32 → 28x28
Fix:      CONV(16, F=5, P=2), or P=same""",
    "CC505": """\
A pooling window larger than 3: "it is very uncommon to see receptive field sizes for max
pooling that are larger than 3 because the pooling is then too lossy and aggressive".

Example:  POOL(F=4, S=4)
Fix:      POOL(F=2, S=2) twice, or the overlapping POOL(F=3, S=2); GAP at the end""",
    "CC506": """\
A padded POOL: "for Pooling layers, it is not common to pad the input using zero-padding".
(ResNet's stem pool does it on purpose.)

Example:  POOL(F=3, S=2, P=1)
Fix:      pad the CONV before it, or choose F and S that fit""",
    "CC507": """\
More than half of what the windows of this layer read is padding: the feature map has become
smaller than the filter, so its receptive field already covers the whole input and the layer
mostly sees zeros.

Example:  a 3×3 CONV with P=1 on a 1×1 map (89% padding)
Fix:      a 1×1 CONV there, or fewer downsampling steps before""",
    "CC508": """\
The first FC reads a spatial volume (at least 2×2) into a million weights or more (VGG-16:
7×7×512 → 4096 is 102.8M weights). A GAP before it, or converting it to a CONV with
F = the volume's width (the notes' FC→CONV conversion), removes or shares most of them.

Example:  POOL -> FC(4096) on 7x7x512
Fix:      GAP -> FC(4096) (−98% here), or CONV(4096, F=7) to slide over larger images""",
    "CC509": """\
Stochastic depth (DROPPATH, torchvision's StochasticDepth) drops a residual branch for a
random sample in training, so that the block is the identity for it: it belongs last in a
branch that an ADD sums with the shortcut. Anywhere else, its output reaching a layer rather
than an ADD, it zeroes the whole signal of a sample with probability p.

Example:  CONV(64, F=3, P=1) -> DROPPATH(0.1) -> CONV(64, F=3, P=1)
Fix:      RES{ CONV(64, F=3, P=1) -> BN -> DROPPATH(0.1) }  (or DROPOUT, which drops values)""",
    "CC510": """\
LN normalises over the channels at each position (ConvNeXt's LayerNorm2d): with a depth of 1
each value is its own mean, so x − mean is 0 and every output is β, whatever the input.

Example:  CONV(1, F=3, P=1) -> LN
Fix:      BN for a single channel, or the LN after a layer with more channels""",
}
