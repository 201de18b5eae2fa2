"""`convcalc draw` and `convcalc report` for every bundled spec, read back as a browser would:
well-formed XML and HTML, one box per volume with its shape, one junction per merge, every
row of the analysis on the picture, findings outlined, hostile names inert."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

import convcalc
from convcalc.frontend import bundled
from convcalc.records import show_shape
from convcalc.report import diagram, html, svg

from ..support import ROOT, run
from .pictures import KEEPS_SHAPE, MERGES, parse_page

NS = "{http://www.w3.org/2000/svg}"
SPECS = bundled.names()


@cache
def analysis(name: str) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load(name))


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if cls in (g.get("class") or "").split()]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{NS}text")]


@pytest.mark.parametrize("name", SPECS)
def test_every_volume_is_one_box_with_its_shape(name: str) -> None:
    result = analysis(name)
    picture = svg.render(diagram.build(result))
    root = ET.fromstring(picture.split("\n", 1)[1])  # well-formed, or this raises
    assert root.tag == f"{NS}svg"
    volumes = {i for i, r in enumerate(result.rows) if r.type not in KEEPS_SHAPE | MERGES}
    boxes = groups(root, "cc-vol")
    assert sorted(int(b.get("data-row", "")) for b in boxes) == sorted(volumes)
    for box in boxes:
        row = result.rows[int(box.get("data-row", ""))]
        assert box.get("data-layer") == row.name
        assert box.get("data-shape") == show_shape(row.output)
        assert show_shape(row.output) in texts(box)  # the label under the box
        assert len(box.findall(f"{NS}path")) == 3  # front, top and side faces
    merges = [i for i, r in enumerate(result.rows) if r.type in MERGES]
    junctions = groups(root, "cc-junction")
    assert sorted(int(j.get("data-row", "")) for j in junctions) == merges
    # every row is on the picture: as a volume, a junction, or drawn with one
    drawn = svg.drawn_rows(diagram.build(result))
    assert sorted(drawn) == list(range(len(result.rows)))


@pytest.mark.parametrize("name", SPECS)
def test_every_report_is_well_formed_html_and_self_contained(name: str) -> None:
    result = analysis(name)
    picture = svg.render(diagram.build(result), standalone=False)
    text = html.page(result, picture, budget=12 * 1024**3)
    page = parse_page(text)
    assert page.tags["svg"] == 1
    assert page.tags["table"] == 2  # the memory breakdown and the layers
    breakdown = 1 + 8 + 2  # header, 4 parts per image and 4 fixed, training and inference
    assert page.tags["tr"] == breakdown + 1 + len(result.rows) + 1  # header, rows, totals
    assert page.tags["script"] == 2  # the error hook and the sorting, both inline
    for tag, attrs in page.attrs:  # nothing fetched: no source, link or style sheet
        assert not {"src", "href"} & attrs.keys(), (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "largest batch in " in "".join(page.text)


def test_the_report_holds_the_findings_with_their_source_lines() -> None:
    result = analysis("alexnet-224")
    page = parse_page(html.page(result, svg.render(diagram.build(result), standalone=False)))
    body = "".join(page.text)
    for finding in result.findings:
        assert finding.header() in body
    assert "12 |   -> CONV(96, F=11, S=4)@conv1 -> RELU -> LRN -> POOL" in body


def test_vgg_boxes_shrink_with_the_volume_and_stay_readable() -> None:
    """VGG's 224×224×64 and 7×7×512 both read: heights fall with H (log scale), the thickness
    grows with D, and the smallest box is still over a third of the largest."""
    root = ET.fromstring(svg.render(diagram.build(analysis("vgg16")), standalone=False))
    sizes = {}
    for box in groups(root, "cc-vol"):
        front = box.findall(f"{NS}path")[0].get("d", "")
        d, h = (float(v) for v in re.findall(r"[hv](-?[\d.]+)", front)[:2])
        sizes[box.get("data-shape")] = (d, h)
    assert sizes["224×224×64"][1] > sizes["112×112×128"][1] > sizes["14×14×512"][1]
    assert sizes["7×7×512"][1] > sizes["224×224×64"][1] / 3
    assert sizes["224×224×64"][0] < sizes["56×56×256"][0] < sizes["28×28×512"][0]
    fc = sizes["1×1×4096"]
    assert fc[0] < sizes["224×224×64"][0] / 3  # FCs are thin bars
    assert math.isclose(sizes["224×224×64"][1], sizes["224×224×3"][1])


def test_the_filters_are_on_the_arrows() -> None:
    root = ET.fromstring(svg.render(diagram.build(analysis("alexnet")), standalone=False))
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "cc-win"]
    assert labels[:4] == ["11×11 s4", "POOL 3×3 s2", "5×5 s1 p2", "POOL 3×3 s2"]


@pytest.mark.parametrize(
    ("name", "times"),
    [
        ("resnet50", [2, 3, 5, 2]),  # 3, 4, 6 and 3 bottlenecks: the first of each differs
        ("resnet152", [2, 7, 35, 2]),  # 3, 8, 36 and 3
        # DenseNet's blocks, the paper's (6, 12, 24, 16) and (6, 12, 32, 32), each named with
        # its last output: 64 + 6·32 = 256 channels, 128 + 12·32 = 512, ...
        (
            "densenet121",
            [(6, "56×56×256"), (12, "28×28×512"), (24, "14×14×1024"), (16, "7×7×1024")],
        ),
        (
            "densenet169",
            [(6, "56×56×256"), (12, "28×28×512"), (32, "14×14×1280"), (32, "7×7×1664")],
        ),
        # configuration D: two 64s, two 128s, three 256s, then [POOL -> CONV-512 ×3] twice
        # (to 14×14×512), and the FC-4096 pair
        ("vgg16", [2, 2, 3, (2, "14×14×512"), 3, 2]),
    ],
)
def test_fold_marks_the_repeated_stages(name: str, times: list[int | tuple[int, str]]) -> None:
    result = analysis(name)
    picture = diagram.build(result, fold=True)
    root = ET.fromstring(svg.render(picture, standalone=False))
    folds = groups(root, "cc-fold")
    labels = [texts(f)[0] for f in folds]
    expected = []
    for entry in times:
        if isinstance(entry, tuple):
            expected.append(f"×{entry[0]} to {entry[1]}")
        else:
            expected.append(f"×{entry}")
    assert labels == expected
    assert [f"×{f.get('data-times')}" for f in folds] == [e.split()[0] for e in expected]
    assert sorted(svg.drawn_rows(picture) + hidden_rows(picture.items)) == list(
        range(len(result.rows))
    )


def hidden_rows(items: list[diagram.Item]) -> list[int]:
    """The rows of the repetitions a fold does not draw, at any depth."""
    found: list[int] = []
    for item in items:
        if isinstance(item, diagram.Fold):
            found += [*item.hidden, *hidden_rows(item.items)]
        elif isinstance(item, diagram.Junction):
            found += [r for branch in item.branches for r in hidden_rows(branch)]
    return found


@pytest.mark.parametrize("name", SPECS)
def test_folded_and_fully_labelled_pictures_keep_every_row(name: str) -> None:
    result = analysis(name)
    picture = diagram.build(result, fold=True)
    drawing = svg.render(picture, labels="full", theme="dark")
    root = ET.fromstring(drawing.split("\n", 1)[1])
    drawn = [int(b.get("data-row", "")) for b in root.iter(f"{NS}g") if b.get("data-row")]
    assert len(drawn) == len(set(drawn))
    assert sorted(svg.drawn_rows(picture) + hidden_rows(picture.items)) == list(
        range(len(result.rows))
    )


def test_googlenet_and_unet_draw_their_branches_side_by_side() -> None:
    root = ET.fromstring(svg.render(diagram.build(analysis("googlenet")), standalone=False))
    cats = groups(root, "cc-junction")
    assert len(cats) == 9  # 3a, 3b, 4a to 4e, 5a, 5b
    # the first inception's four branches start at one x and stack at four heights
    first = [b for b in groups(root, "cc-vol") if b.get("data-shape", "").startswith("28×28")]
    ys = sorted({float(re.findall(r"M[\d.]+,([\d.]+)", b[1].get("d", ""))[0]) for b in first})
    assert len(ys) >= 4
    root = ET.fromstring(svg.render(diagram.build(analysis("unet")), standalone=False))
    depth = {}
    for box in groups(root, "cc-vol"):
        front = box.findall(f"{NS}path")[0].get("d", "")
        x, y = (float(v) for v in re.findall(r"M([\d.]+),([\d.]+)", front)[0])
        depth.setdefault(box.get("data-shape", "").split("×")[0], []).append((x, y))
    # a U: each level lower than the one above it, entered on the left and left on the right
    levels = ["256", "128", "64", "32", "16"]
    tops = [min(y for _, y in depth[w]) for w in levels]
    assert tops == sorted(tops)
    assert min(x for x, _ in depth["16"]) > max(x for x, _ in depth["256"][:3])


def test_findings_are_outlined_with_their_code() -> None:
    result = analysis("alexnet-224")
    root = ET.fromstring(svg.render(diagram.build(result), standalone=False))
    flagged = {b.get("data-layer"): texts(b) for b in groups(root, "cc-warning")}
    expected = {f.layer for f in result.findings if f.code == "CC201"}
    assert set(flagged) == expected and expected
    assert all("CC201" in t for t in flagged.values())
    assert all(len(groups(root, "cc-warning")[0].findall(f"{NS}rect")) == 1 for _ in [0])


SPEC_STOPS = "name: stops\ninput: 8x8x3\narch: INPUT -> CONV(16, F=3) -> POOL -> CONV(8, F=5)\n"
SPEC_MERGE = (
    "name: merge\ninput: 8x8x3\n"
    "arch: INPUT -> CONV(16, P=1) -> ADD{ CONV(16, P=1) | CONV(8, P=1) } -> FC(10)\n"
)


def test_a_spec_with_an_error_draws_what_was_analysed(tmp_path: Path) -> None:
    spec = tmp_path / "stops.yaml"
    spec.write_text(SPEC_STOPS)
    out = tmp_path / "stops.svg"
    result = run("draw", str(spec), "-o", str(out))
    assert result.exit_code == 1
    assert "CC203" in result.stderr and "the picture shows what was analysed" in result.stderr
    root = ET.fromstring(out.read_text().split("\n", 1)[1])
    assert [b.get("data-shape") for b in groups(root, "cc-vol")] == [
        "8×8×3", "6×6×16", "3×3×16",
    ]  # fmt: skip
    stop = groups(root, "cc-stop")
    assert len(stop) == 1 and "analysis stopped: CC203" in texts(stop[0])

    spec.write_text(SPEC_MERGE)
    assert run("draw", str(spec), "-o", str(out)).exit_code == 1
    root = ET.fromstring(out.read_text().split("\n", 1)[1])
    shapes = sorted(b.get("data-shape", "") for b in groups(root, "cc-vol"))
    assert shapes == ["8×8×16", "8×8×16", "8×8×3", "8×8×8"]  # both branches, side by side
    assert "analysis stopped: CC301" in texts(groups(root, "cc-stop")[0])


def test_a_spec_that_cannot_be_read_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: 8x8x3\narch: INPUT -> CONV(\n")
    out = tmp_path / "out.svg"
    result = run("draw", str(spec), "-o", str(out))
    assert result.exit_code == 1 and "CC107" in result.stderr
    assert not out.exists()
    assert run("report", str(spec), "-o", str(tmp_path / "out.html")).exit_code == 1
    assert not (tmp_path / "out.html").exists()


def test_draw_options(tmp_path: Path) -> None:
    result = run("draw", "vgg16", "--format", "png")
    assert result.exit_code == 2 and "PNG needs a rasteriser" in result.stderr
    out = tmp_path / "v.svg"
    assert run("draw", "vgg16", "--width", "800", "-o", str(out)).exit_code == 0
    root = ET.fromstring(out.read_text().split("\n", 1)[1])
    assert root.get("width") == "800"
    _, _, vw, vh = (float(v) for v in root.get("viewBox", "").split())
    assert int(root.get("height", "")) == math.ceil(vh * 800 / vw)
    assert run("draw", "vgg16", "--width", "99").exit_code == 2
    dark = run("draw", "vgg16", "--theme", "dark").stdout
    assert ".cc-bg{fill:#1c1d22}" in dark
    bare = ET.fromstring(run("draw", "vgg16", "--labels", "none").stdout.split("\n", 1)[1])
    assert not [t for t in bare.iter(f"{NS}text") if t.get("class") in ("cc-shape", "cc-win")]
    full = ET.fromstring(run("draw", "vgg16", "--labels", "full").stdout.split("\n", 1)[1])
    names = {t.text for t in full.iter(f"{NS}text") if t.get("class") == "cc-name"}
    assert {"conv1", "conv13", "fc3"} <= names and "CONV 3×3 s1 p1 + RELU" in names


def test_report_command(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = run("report", "resnet18", "--budget", "1GiB", "--batch", "8", "-o", str(out))
    assert result.exit_code == 0, result.output
    page = parse_page(out.read_text())
    body = "".join(page.text)
    assert "batch 8" in body and "largest batch in 1,024.00 MB: 18" in body
    assert run("report", "vgg16", "--budget", "100MB").exit_code == 1  # not even one image


HOSTILE = "<script>alert('x')</script> \"quoted\" & <img src=x onerror=alert(1)>"


def test_hostile_names_are_text(tmp_path: Path) -> None:
    directory = tmp_path / '<b>"it\'s"'
    directory.mkdir()
    spec = directory / "spec.yaml"
    spec.write_text(
        f"name: {json.dumps(HOSTILE)}\ndescription: '</p><script>alert(2)</script>'\ninput: 8x8x3\n"
        "arch: INPUT -> CONV(4, F=3, S=2)@x_y -> FC(2)\n"
    )
    out = tmp_path / "r.html"
    assert run("report", str(spec), "-o", str(out)).exit_code == 0
    page = parse_page(out.read_text())
    assert page.tags["script"] == 2 and "img" not in page.tags
    assert not [a for _, a in page.attrs if "onerror" in a]
    body = "".join(page.text)
    assert HOSTILE in body and "</p><script>alert(2)</script>" in body
    assert f"{directory}/spec.yaml" in body
    drawing = run("draw", str(spec)).stdout
    root = ET.fromstring(drawing.split("\n", 1)[1])
    assert root.find(f"{NS}title") is not None
    assert root.find(f"{NS}title").text == HOSTILE  # type: ignore[union-attr]
    assert not list(root.iter(f"{NS}script")) and not list(root.iter(f"{NS}img"))
    # a control character in a name is written as an escape, never raw (XML cannot hold it)
    spec.write_text('name: "a\\e[2Jb"\ninput: 8x8x3\narch: INPUT -> FC(2)\n')
    drawing = run("draw", str(spec)).stdout
    assert "\x1b" not in drawing and "a\\x1b[2Jb" in drawing
    ET.fromstring(drawing.split("\n", 1)[1])


@pytest.mark.parametrize(("name", "args"), [("vgg16", []), ("resnet50", ["--fold"]), ("unet", [])])
def test_the_readme_pictures_are_current(name: str, args: list[str]) -> None:
    """docs/*.png are screenshots of today's drawing (same size; `python docs/pictures.py`
    remakes them), and not blank."""
    from .pictures import png_pixels, variance

    data = (ROOT / "docs" / f"{name}.png").read_bytes()
    root = ET.fromstring(run("draw", name, *args).stdout.split("\n", 1)[1])
    width, height, _ = png_pixels(data)
    assert (width, height) == (int(root.get("width", "")), int(root.get("height", "")))
    spread, share = variance(data)
    assert spread > 100 and share > 0.05
    assert f"![{root.find(f'{NS}title').text}" in (ROOT / "README.md").read_text()  # type: ignore[union-attr]


def test_a_box_is_as_high_as_h_and_as_deep_as_w() -> None:
    """On a 64×16 input the front face follows H (16) and the oblique edge W (64)."""
    wide = convcalc.analyze(convcalc.load_text("name: w\ninput: 64x16x8\narch: INPUT\n", "w.yaml"))
    tall = convcalc.analyze(convcalc.load_text("name: t\ninput: 16x64x8\narch: INPUT\n", "t.yaml"))
    faces = []
    for result in (wide, tall):
        root = ET.fromstring(svg.render(diagram.build(result), standalone=False))
        front, top, _ = groups(root, "cc-vol")[0].findall(f"{NS}path")
        height = float(re.findall(r"v(-?[\d.]+)", front.get("d", ""))[0])
        oblique = float(re.findall(r"l(-?[\d.]+)", top.get("d", ""))[0])
        faces.append((height, oblique))
    (wide_h, wide_o), (tall_h, tall_o) = faces
    assert tall_h > wide_h and wide_o > tall_o
    assert math.isclose(tall_h / wide_h, (8 + 13 * 6) / (8 + 13 * 4))  # log2 64 = 6, 16 = 4


def test_fold_prefers_the_shortest_repeating_unit() -> None:
    """Twelve identical CONV -> RELU pairs fold as one pair ×12 (not 2 ×6, 3 ×4 or 4 ×3)."""
    text = "name: f\ninput: 8x8x4\narch: INPUT -> CONV(4, P=1) -> [CONV(4, P=1) -> RELU]*12\n"
    result = convcalc.analyze(convcalc.load_text(text, "f.yaml"))
    folds = [i for i in diagram.build(result, fold=True).items if isinstance(i, diagram.Fold)]
    assert [(len(f.items), f.times) for f in folds] == [(1, 12)]  # the first has no RELU


def test_a_report_of_a_spec_with_an_error_is_still_written(tmp_path: Path) -> None:
    spec = tmp_path / "stops.yaml"
    spec.write_text(SPEC_STOPS)
    out = tmp_path / "stops.html"
    result = run("report", str(spec), "--budget", "1GiB", "-o", str(out))
    assert result.exit_code == 1 and "CC203" in result.stderr
    page = parse_page(out.read_text())
    body = "".join(page.text)
    assert "the analysis stopped at the first error" in body and "analysis stopped: CC203" in body
    assert "stops.yaml:3:41: CC203 error: conv2" in body
    assert page.tags["table"] == 1  # no memory without a complete analysis: the layers only
