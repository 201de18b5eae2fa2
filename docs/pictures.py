"""Make the README's pictures: `convcalc draw` of VGG-16, ResNet-50 (folded) and U-Net, each
screenshot at its natural size by headless Chromium (Debian's `chromium`), as docs/*.png.

Run: `python docs/pictures.py` from the repository root (needs chromium on PATH).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PICTURES = {
    "vgg16": ["vgg16"],
    "resnet50": ["resnet50", "--fold"],
    "unet": ["unet"],
}
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
]  # fmt: skip


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        for name, args in PICTURES.items():
            drawing = Path(scratch) / f"{name}.svg"
            subprocess.run(
                [sys.executable, "-m", "convcalc", "draw", *args, "-o", str(drawing)], check=True
            )
            size = re.search(r'width="(\d+)" height="(\d+)"', drawing.read_text())
            assert size is not None
            png = DOCS / f"{name}.png"
            with tempfile.TemporaryDirectory() as profile:
                subprocess.run(
                    [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                     f"--window-size={size[1]},{size[2]}", drawing.as_uri()],
                    check=True, capture_output=True,
                )  # fmt: skip
            print(f"{png.relative_to(DOCS.parent)}: {size[1]}×{size[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
