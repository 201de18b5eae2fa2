"""Design advice from the notes' rules of thumb (CC5xx), read off the analysed rows.

"The input layer should be divisible by 2 many times"; "the conv layers should be using small
filters (e.g. 3x3 or at most 5x5), using a stride of S=1, and crucially, padding the input
volume with zeros in such way that the conv layer does not alter the spatial dimensions";
pools with "receptive field sizes larger than 3" are "too lossy and aggressive"; "it is not
common to pad" pools; a stack of 3×3 CONVs beats one large CONV. And two misuses of the modern
layers: stochastic depth outside a residual branch, layer norm over a single channel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import Finding
from ..layers.base import pair
from ..layers.geometry import Axis
from ..layers.vocabulary import KINDS, LAYERS
from ..limits import MAX_SIZE
from ..records import Row
from .catalogue import finding


def advise(rows: Sequence[Row], shape: tuple[int, int, int]) -> list[Finding]:
    found: list[Finding] = []
    found += _halvings(rows, shape)
    first_conv = next((i for i, r in enumerate(rows) if r.type == "CONV"), None)
    # the advice on a CONV or POOL depends on its arguments and shapes only: a layer written
    # like an earlier one (20,000 of them in a spec within the limits) gets that one's
    # findings, moved to its own name and place
    seen: dict[tuple[object, ...], tuple[Row, list[Finding]]] = {}
    for i, row in enumerate(rows):
        if row.type == "CONV" or row.type == "POOL":
            later = i != first_conv
            key = (row.type, id(row.args), row.input_shapes[0], row.output, later)
            hit = seen.get(key)
            if hit is None:
                notes = _conv_advice(row, later) if row.type == "CONV" else _pool_advice(row)
                seen[key] = (row, notes)
                found += notes
            elif hit[1]:
                found += [_moved(f, hit[0], row) for f in hit[1]]
        if KINDS[row.type].windowed:
            found += _mostly_padding(row, shape)
    found += _big_first_fc(rows)
    found += _modern_layers(rows)
    return found


def _at(code: str, row: Row, message: str, help: str | None = None) -> Finding:
    return finding(code, f"{row.name}: {message}", row.location, help=help, layer=row.name)


def _moved(found: Finding, first: Row, row: Row) -> Finding:
    """``found``, a finding :func:`_at` made for ``first``, as it made it for ``row``."""
    message = f"{row.name}: {found.message[len(first.name) + 2 :]}"
    return found._replace(message=message, location=row.location, layer=row.name)


def _axes(row: Row) -> tuple[Axis, Axis]:
    axes = LAYERS[row.type].axes(row.args, row.input_shapes[0])
    assert axes is not None
    return axes


def _halvings(rows: Sequence[Row], shape: tuple[int, int, int]) -> list[Finding]:
    """CC501: the input must divide by the product of the strides along the way."""
    factor = max(strides(rows))
    found = []
    for i, name in enumerate(("width", "height")):
        # a product beyond the input itself (the volume is down to one pixel on the way)
        # is not a divisibility problem: no input within reach would divide
        if 1 < factor[i] <= shape[i] and shape[i] % factor[i]:
            near = [shape[i] - shape[i] % factor[i], shape[i] - shape[i] % factor[i] + factor[i]]
            found.append(
                finding(
                    "CC501",
                    f"the input {name} {shape[i]} is not divisible by {factor[i]}, the product "
                    f"of the strides that downsample it",
                    rows[0].location,
                    help=f"the notes: the input should be divisible by 2 many times (32, 64, 96, "
                    f"224, 384, 512); {near[0]} or {near[1]} divide by {factor[i]}",
                    layer=rows[0].name,
                )
            )
            if shape[0] == shape[1] and factor[0] == factor[1]:
                break
    return found


def strides(rows: Sequence[Row]) -> list[tuple[int, int]]:
    """The product of the strides from the input to each row (the most along any branch).

    Held at MAX_SIZE + 1: no input can divide by more, and 20,000 stride-2 layers would
    otherwise make a number of 6,000 digits that every later row multiplies again."""
    path: list[tuple[int, int]] = []
    cap = MAX_SIZE + 1
    for row in rows:
        before = max((path[i] for i in row.inputs), default=(1, 1))
        s = pair(row.args, "S") if KINDS[row.type].windowed else (1, 1)
        path.append((min(before[0] * s[0], cap), min(before[1] * s[1], cap)))
    return path


def _conv_advice(row: Row, later: bool) -> list[Finding]:
    found = []
    (fw, fh), (sw, sh) = pair(row.args, "F"), pair(row.args, "S")
    groups, dilation = row.args["groups"], pair(row.args, "dilation")
    size = row.input_shapes[0]
    covers = fw >= size[0] and fh >= size[1]  # an FC written as a CONV (convert --fc-to-conv)
    if later and max(fw, fh) > 5 and fw * fh > 25 and not _depthwise(row) and not covers:
        found.append(_at(
            "CC502",
            row,
            f"a {fw}×{fh} filter after the first CONV layer",
            "the notes: filters larger than 5×5 are only common on the very first CONV layer, "
            "looking at the input image; use 3×3 (or at most 5×5) filters here, or factorise "
            f"it into a 1×{max(fw, fh)} and a {max(fw, fh)}×1 CONV, or make it depthwise",
        ))  # fmt: skip
    if fw == fh and fw >= 5 and fw % 2 and (sw, sh) == (1, 1) and groups == 1 \
            and dilation == (1, 1) and not covers:  # fmt: skip
        found += _stack_of_3x3(row, fw)
    shrink = shrinks(row)
    if shrink is not None:
        out = row.output
        change, keep = shrink
        what = "shrinks" if change > 0 else "grows"
        found.append(_at(
            "CC504",
            row,
            f"at stride 1 the volume {what} by {abs(change)} pixels "
            f"({'×'.join(str(v) for v in size[:2])} → {out[0]}×{out[1]}): the padding is "
            "not (F − 1)/2",
            f"use {keep} to keep the size; the notes: without it \"the information at the "
            "borders would be washed away too quickly\"",
        ))  # fmt: skip
    return found


def _depthwise(row: Row) -> bool:
    """Each filter reads one channel (groups = D1): F·F weights a channel, not F·F·D1."""
    groups = row.args["groups"]
    return isinstance(groups, int) and groups > 1 and groups == row.input_shapes[0][2]


def shrinks(row: Row, covering: bool = False) -> tuple[int, str] | None:
    """A stride-1 CONV whose padding is not (F − 1)/2 (CC504): how many pixels it takes off
    the volume (negative: adds), and the padding that keeps the size (``P=1``); else None.
    A filter that covers its whole input (an FC written as a CONV) counts only if
    ``covering``."""
    args = row.args
    if row.type != "CONV" or args["P"] == "same" or pair(args, "S") != (1, 1):
        return None
    (fw, fh), (dw, dh) = pair(args, "F"), pair(args, "dilation")
    (w, h, _), (ow, oh, _) = row.input_shapes[0], row.output
    sw, sh = w - ow, h - oh
    ew, eh = dw * (fw - 1) + 1, dh * (fh - 1) + 1
    covers = ew >= w and eh >= h  # an FC written as a CONV
    if not (sw or sh) or not (ew % 2 and eh % 2) or (covers and not covering):
        return None
    keep = "P=" + "/".join(sorted({str((ew - 1) // 2), str((eh - 1) // 2)}))
    return (sw if abs(sw) >= abs(sh) else sh), keep


def _stack_of_3x3(row: Row, f: int) -> list[Finding]:
    """CC503: one F×F CONV against (F − 1)/2 stacked 3×3 CONVs with the same receptive field."""
    d1, k = row.input_shapes[0][2], row.output[2]
    n = (f - 1) // 2
    single = f * f * d1 * k
    stack = 9 * d1 * k + (n - 1) * 9 * k * k
    if stack >= single:
        return []
    return [_at(
        "CC503",
        row,
        f"one {f}×{f} CONV ({d1} → {k} channels) has {single:,} weights; {n} stacked 3×3 CONVs "
        f"with the same {f}×{f} receptive field would have {stack:,} ({stack / single - 1:+.0%})",
        f"the notes: a stack of small filters has more non-linearities and fewer parameters "
        f"(49C² against 27C² for 7×7); write [CONV({k}, F=3, P=1) -> RELU]*{n}",
    )]  # fmt: skip


def _pool_advice(row: Row) -> list[Finding]:
    found = []
    (fw, fh), axes = pair(row.args, "F"), _axes(row)
    if max(fw, fh) > 3:
        found.append(_at(
            "CC505",
            row,
            f"a {fw}×{fh} pooling window",
            "the notes: pooling windows larger than 3 are \"too lossy and aggressive\"; use "
            "F=2, S=2 (or the overlapping F=3, S=2), or GAP at the end of the network",
        ))  # fmt: skip
    if any(a.before or a.after for a in axes):
        found.append(_at(
            "CC506",
            row,
            "a padded POOL",
            "the notes: \"it is not common to pad the input\" of a pooling layer; pad the CONV "
            "before it, or choose F and S that fit",
        ))  # fmt: skip
    return found


def _mostly_padding(row: Row, shape: tuple[int, int, int]) -> list[Finding]:
    """CC507: most of each window lands in the padding (the map is smaller than the filter)."""
    (fw, fh), (w, h, _) = pair(row.args, "F"), row.input_shapes[0]
    d = pair(row.args, "dilation") if "dilation" in row.args else (1, 1)
    if w >= d[0] * (fw - 1) + 1 and h >= d[1] * (fh - 1) + 1:
        return []  # a window inside the map exists along both axes: at most 40% padding
    axes = _axes(row)
    fractions = [padded_taps(a) / (max(a.floor, 1) * a.f) for a in axes]
    padding = 1 - (1 - fractions[0]) * (1 - fractions[1])
    if padding <= 0.5:
        return []
    rf = row.receptive_field
    whole = rf[0] >= shape[0] and rf[1] >= shape[1]
    return [_at(
        "CC507",
        row,
        f"its {axes[0].f_eff}×{axes[1].f_eff} windows on a {w}×{h} map read {padding:.0%} padding"
        + (f"; its receptive field ({rf[0]}×{rf[1]}) already covers the whole input" if whole
           else ""),
        "a smaller filter (or a 1×1 CONV), or fewer downsampling steps before this layer",
    )]  # fmt: skip


def padded_taps(a: Axis) -> int:
    """How many of the taps of all windows along an axis land in the padding, counted in
    closed form: a loop over windows and taps took 16 s on `CONV(1, F=3, dilation=5,
    P=8000000)`. Tap t of window o reads ``o·S + t·d − before``; for each t, the windows
    whose tap is inside are those with ``o·S`` in ``[−c, size − 1 − c]``, c = t·d − before,
    and the sums of those counts over t are floor sums."""
    n = max(a.floor, 1)
    inside = _windows_up_to(a, a.size - 1 + a.before, n) - _windows_up_to(a, a.before - 1, n)
    return n * a.f - inside


def _windows_up_to(a: Axis, k: int, n: int) -> int:
    """Sum over taps t < F of #{o < n : o·S ≤ k − t·d}, each count clamped to [0, n]."""
    s, d, f = a.s, a.dilation, a.f
    full = min(f, max(0, (k - (n - 1) * s) // d + 1))  # taps t ≤ this read all n windows
    last = min(f - 1, k // d if k >= 0 else -1)  # the last tap some window reads inside
    total = n * full
    if last >= full:  # taps full..last: floor((k − t·d)/S) + 1 windows each
        count = last - full + 1
        total += count + floor_sum(count, s, -d, k - full * d)
    return total


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Sum of floor((a·i + b)/m) for i in [0, n), m > 0, in O(log) steps (the AtCoder
    Library's floor_sum)."""
    total = 0
    while True:  # // and % floor, so a negative a or b is taken out like a large one
        if not 0 <= a < m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if not 0 <= b < m:
            total += n * (b // m)
            b %= m
        top = a * n + b
        if top < m:
            return total
        n, b = top // m, top % m
        m, a = a, m


def _big_first_fc(rows: Sequence[Row]) -> list[Finding]:
    """CC508: the first FC reads a large spatial volume, into a million weights or more."""
    fc = next((r for r in rows if r.type == "FC"), None)
    if fc is None:
        return []
    w, h, d = fc.input_shapes[0]
    if w * h < 4 or fc.weights < 1_000_000:
        return []
    k = fc.output[2]
    after_gap = d * k
    return [_at(
        "CC508",
        fc,
        f"the first FC reads {w}×{h}×{d} = {w * h * d:,} values: {fc.weights:,} weights",
        f"a GAP before it would leave {after_gap:,} ({after_gap / fc.weights - 1:+.0%}); or "
        f"convert it to CONV(F={w}) to slide the network over larger images (convcalc convert "
        "--fc-to-conv)",
    )]  # fmt: skip


def _modern_layers(rows: Sequence[Row]) -> list[Finding]:
    """CC509: a DROPPATH (p > 0) whose output is not summed by an ADD; CC510: an LN over a
    single channel."""
    readers: list[list[Row]] = [[] for _ in rows]
    for row in rows:
        for j in row.inputs:
            readers[j].append(row)
    found = []
    for i, row in enumerate(rows):
        summed = readers[i] and all(r.type == "ADD" for r in readers[i])
        if row.type == "DROPPATH" and row.args["p"] and not summed:  # p=0 drops nothing
            into = f"is read by {readers[i][0].name}" if readers[i] else "ends the network"
            found.append(_at(
                "CC509",
                row,
                f"DROPPATH outside a residual branch: its output {into}, not summed by an ADD, "
                f"so in training it zeroes the whole signal of a sample with probability "
                f"{row.args['p']}",
                "put it last in a residual branch, as torchvision's StochasticDepth: "
                "RES{ ... -> DROPPATH(p) }; DROPOUT drops single values instead",
            ))  # fmt: skip
        if row.type == "LN" and row.input_shapes[0][2] == 1:
            found.append(_at(
                "CC510",
                row,
                "LN normalises over a depth of 1: each value is its own mean, so every output "
                "is β whatever the input",
                "LN normalises the channels at each position (ConvNeXt's LayerNorm2d); use BN "
                "for a single channel, or put the LN after a layer with more channels",
            ))  # fmt: skip
    return found


def shrinking_layers(rows: Sequence[Row], last: int, since: int = 0) -> str | None:
    """The help line naming the stride-1 CONVs on the way to row ``last`` that shrank the
    volume (CC504's), and the padding that keeps it: the likely cause of a window that no
    longer fits (CC203), or of a branch that no longer matches its siblings (from row
    ``since``). "conv1–conv6 shrink the volume by 2 each; P=1 keeps it"."""
    path: set[int] = set()
    todo = [last]
    while todo:
        j = todo.pop()
        if j not in path and j >= since:
            path.add(j)
            todo.extend(rows[j].inputs)
    culprits = [
        (rows[j].name, s) for j in sorted(path) if (s := shrinks(rows[j], True)) and s[0] > 0
    ]
    if not culprits:
        return None
    names = _names([name for name, _ in culprits])
    sizes = [s[0] for _, s in culprits]
    keeps = list(dict.fromkeys(s[1] for _, s in culprits))
    one = len(culprits) == 1
    if len(set(sizes)) == 1:
        by = f"{sizes[0]}" + ("" if one else " each")
    elif len(culprits) <= 4:
        by = _and([str(n) for n in sizes])
    else:
        by = f"{min(sizes)} to {max(sizes)} pixels"
    if len(keeps) > 3:
        keep = "padding (F − 1)/2 keeps it"
    else:
        keep = f"{_and(keeps)} keep{'s' if len(keeps) == 1 else ''} it"
    return f"{names} shrink{'s' if one else ''} the volume by {by}; {keep}"


def _names(names: list[str]) -> str:
    """``conv1–conv6``, ``conv1 and conv3``, ``conv1–conv4, conv7 and conv9``: runs of three
    or more consecutively numbered layers collapse."""
    parts: list[str] = []
    run: list[tuple[str, str, int]] = []

    def flush() -> None:
        if len(run) >= 3:
            parts.append(f"{run[0][0]}–{run[-1][0]}")
        else:
            parts.extend(name for name, _, _ in run)
        run.clear()

    for name in names:
        m = re.fullmatch(r"(.*?)(\d+)", name)
        key = (m.group(1), int(m.group(2))) if m else (name, -2)
        if run and (run[-1][1], run[-1][2] + 1) != key:
            flush()
        run.append((name, *key))
    flush()
    if len(parts) > 6:
        parts = [*parts[:5], f"… ({len(names)} layers)"]
    return _and(parts)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
