"""What the picture tests share: the SVG and HTML parsed as a reader's tools would, and a PNG
decoded with zlib (and NumPy for speed), to tell a rendered page from a blank one."""

from __future__ import annotations

import struct
import zlib
from html.parser import HTMLParser

import numpy as np

#: Rows drawn with the volume before them, from the README's vocabulary: the layers that keep
#: the shape and hold no volume of their own (activations, normalisations, dropout, identity,
#: FLATTEN's view, SHUFFLE). Every other row is a volume, except the merges (junctions).
KEEPS_SHAPE = {
    "RELU", "LRELU", "ELU", "GELU", "SIGMOID", "TANH", "SOFTMAX", "RELU6", "HSWISH",
    "HSIGMOID", "SILU", "SWISH", "BN", "LN", "SCALE", "LRN", "DROPOUT", "DROPPATH", "ID",
    "SKIP", "SHUFFLE", "FLATTEN",
}  # fmt: skip
MERGES = {"ADD", "CAT", "MUL"}
#: HTML elements that have no end tag.
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "wbr", "source", "area", "base"}
#: SVG elements written self-closing (`<path/>`) inside the page.
SELF_CLOSING = {"path", "rect", "circle"}


class Page(HTMLParser):
    """A strict reading of a page: every element closed in order, the elements counted, the
    text of each element kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        self.text.append(data)


def parse_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert not page.errors, page.errors[:5]
    assert not page.stack, page.stack
    return page


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered scanlines of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    lines: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 2:  # up: a vector sum (NumPy, a run-time dependency), as most lines are
            line = bytearray(np.frombuffer(line, np.uint8) + np.frombuffer(previous, np.uint8))
        elif kind == 1:  # sub: a running sum along each channel
            sums = np.frombuffer(line, np.uint8).reshape(width, bpp).cumsum(axis=0, dtype=np.uint8)
            line = bytearray(sums.tobytes())
        elif kind in (3, 4):
            _unfilter(line, previous, kind, bpp)
        lines.append(bytes(line))
        previous = line
    return width, height, [line[::bpp] for line in lines]


def _unfilter(line: bytearray, previous: bytearray, kind: int, bpp: int) -> None:
    """PNG's average (3) and Paeth (4) filters, undone in place, byte by byte."""
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
            continue
        corner = previous[i - bpp] if i >= bpp else 0
        p = left + up - corner
        pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
        line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255


def variance(data: bytes) -> tuple[float, float]:
    """The variance of the red channel over the image, and the share of pixels that are not
    the most common value (the background)."""
    _, _, lines = png_pixels(data)
    values = np.frombuffer(b"".join(lines), np.uint8)
    counts = np.bincount(values, minlength=256)
    return float(values.var()), float(1 - counts.max() / values.size)
