"""PyTorch as an independent oracle of shapes: every analysed row run with torch.nn.functional.

Only tests use it, and only when torch is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convcalc.records import Row

from .support import paddings


def shapes(rows: Sequence[Row]) -> list[tuple[int, int, int]]:
    """Run the rows on zeros (N=1, NCHW) and return each output as (W, H, D)."""
    import torch
    import torch.nn.functional as F

    outputs: list[Any] = []
    with torch.no_grad():
        for row in rows:
            a = row.args
            if not row.inputs:
                w, h, d = row.output
                outputs.append(torch.zeros(1, d, h, w))
                continue
            x = outputs[row.inputs[0]]
            if row.type in ("CONV", "POOL"):
                (left, right), (top, bottom) = paddings(a, row.input_shapes[0])
                (fw, fh), (sw, sh) = a["F"], a["S"]  # type: ignore[misc]
                # explicit (possibly asymmetric) padding: left, right, top, bottom
                pads = (left, right, top, bottom)
                if row.type == "CONV":
                    d1, k, g = x.shape[1], a["K"], a["groups"]
                    dw, dh = a["dilation"]  # type: ignore[misc]
                    weight = torch.zeros(k, d1 // g, fh, fw)  # type: ignore[operator]
                    y = F.conv2d(F.pad(x, pads), weight, None, (sh, sw), 0, (dh, dw), g)
                elif a["ceil"] or a["type"] != "max":
                    pool = F.max_pool2d if a["type"] == "max" else F.avg_pool2d
                    y = pool(x, (fh, fw), (sh, sw), (top, left),
                             ceil_mode=bool(a["ceil"]))  # fmt: skip
                else:
                    y = F.max_pool2d(F.pad(x, pads, value=float("-inf")), (fh, fw), (sh, sw))
            elif row.type == "TCONV":
                (fw, fh), (sw, sh), (pw, ph) = a["F"], a["S"], a["P"]  # type: ignore[misc]
                (ow, oh), (dw, dh) = a["out_pad"], a["dilation"]  # type: ignore[misc]
                weight = torch.zeros(x.shape[1], a["K"] // a["groups"], fh, fw)  # type: ignore[operator]
                y = F.conv_transpose2d(x, weight, None, (sh, sw), (ph, pw), (oh, ow),
                                       a["groups"], (dh, dw))  # fmt: skip
            elif row.type == "APOOL":
                w, h = a["out"]  # type: ignore[misc]
                pool = F.adaptive_max_pool2d if a["type"] == "max" else F.adaptive_avg_pool2d
                y = pool(x, (h, w))
            elif row.type == "SLICE":
                start, stop = a["start"], a["stop"]
                y = x[:, start:] if stop == "end" else x[:, start:stop]  # type: ignore[misc]
            elif row.type == "SHUFFLE":
                y = F.channel_shuffle(x, a["groups"])
            elif row.type == "UP":
                y = F.interpolate(x, scale_factor=a["n"], mode="nearest")
            elif row.type in ("FC", "GAP", "FLATTEN"):
                n = x.reshape(1, -1).shape[1]
                k = {"FC": a.get("K"), "GAP": x.shape[1], "FLATTEN": n}[row.type]
                y = torch.zeros(1, k, 1, 1)  # type: ignore[arg-type]
            elif row.type == "ADD":
                y = sum(outputs[i] for i in row.inputs)
            elif row.type == "MUL":
                y = outputs[row.inputs[0]]
                for i in row.inputs[1:]:
                    y = y * outputs[i]  # broadcasts a 1×1 branch
            elif row.type == "CAT":
                y = torch.cat([outputs[i] for i in row.inputs], dim=1)
            else:  # activations, BN, LRN, DROPOUT, ID, SKIP: the same shape
                y = x
            outputs.append(y)
    return [(int(t.shape[3]), int(t.shape[2]), int(t.shape[1])) for t in outputs]
