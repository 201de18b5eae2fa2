"""The reports as a person sees them: headless Chromium (Debian's `chromium` package; .ci/run
installs it) opens the pages of VGG-16, ResNet-50, GoogLeNet and U-Net from disk, with the
network off. The page must run its scripts without an error (a hook in the page writes any
into the DOM, and Chromium's console log must stay empty: a blocked fetch or a CSP violation
shows there too) and its screenshot must not be blank. Skipped when no Chromium is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ..support import run
from .pictures import png_pixels, variance

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)"),
]


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with a fresh profile, its console logged to stderr."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet", "unet"])
def test_the_report_renders_without_errors(name: str, tmp_path: Path) -> None:
    page = tmp_path / f"{name}.html"
    assert run("report", name, "--budget", "12GiB", "-o", str(page)).exit_code == 0
    url = page.as_uri()
    dom = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    root = re.search(r"<html[^>]*>", dom.stdout)
    assert root is not None, dom.stdout[:500]
    assert 'data-ready="1"' in root.group()  # the last script ran
    assert "data-js-error" not in root.group()  # and no script failed
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    shot = tmp_path / f"{name}.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,900", url)
    data = shot.read_bytes()
    width, height, _ = png_pixels(data)
    assert (width, height) == (1280, 900)
    spread, share = variance(data)
    assert spread > 100 and share > 0.03, (spread, share)  # text, boxes and bars, not blank


def test_a_blank_page_is_told_apart(tmp_path: Path) -> None:
    """The screenshot check can fail: an empty page's screenshot is one colour."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    shot = tmp_path / "blank.png"
    chromium(f"--screenshot={shot}", "--window-size=400,300", page.as_uri())
    spread, share = variance(shot.read_bytes())
    assert spread == 0 and share == 0


def test_the_layer_table_sorts(tmp_path: Path) -> None:
    """The sorting script, run by the browser: `#sort=-5` opens the table by MACs, largest
    first (the script's own code path for a click on the MACs header, twice)."""
    page = tmp_path / "vgg16.html"
    assert run("report", "vgg16", "-o", str(page)).exit_code == 0
    dom = chromium("--dump-dom", page.as_uri() + "#sort=-5").stdout
    body = dom[dom.index('id="layers"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    assert len(rows) == 37  # vgg16: the input and 36 layers
    macs = [int(re.findall(r'data-v="(\d+)"', row)[3]) for row in rows]
    assert macs == sorted(macs, reverse=True) and macs[0] == 1_849_688_064
    unsorted = chromium("--dump-dom", page.as_uri()).stdout
    assert re.search(r"<tr><td[^>]*>0</td><td>input</td>", unsorted)  # file order without it
