"""The HTML report opens in a real browser: headless Chromium screenshots it, and the PNG (decoded
with the standard library) must show a page, not a blank or an error screen."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from autocloud.verification.report import build_report, write_report
from platform_model.formats import OutputFormat

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 2000


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: list[tuple[int, int, int]]

    def share_not_white(self, threshold: int = 245) -> float:
        return sum(1 for p in self.pixels if min(p) < threshold) / len(self.pixels)

    def colours(self) -> Counter[tuple[int, int, int]]:
        return Counter(self.pixels)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> Image:
    """8-bit RGB or RGBA, non-interlaced: what Chromium writes. Every filter type is undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(bytes(idat))
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        start = y * (stride + 1)
        kind_byte, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind_byte == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind_byte == 2:
            row = bytearray((r + p) & 0xFF for r, p in zip(row, previous, strict=True))
        elif kind_byte == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind_byte == 4:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                upper_left = previous[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + _paeth(left, previous[i], upper_left)) & 0xFF
        else:
            assert kind_byte == 0, f"unknown PNG filter {kind_byte}"
        pixels.extend(zip(row[0::bpp], row[1::bpp], row[2::bpp], strict=True))
        previous = row
    return Image(width, height, pixels)


def screenshot(page: Path, png: Path, profile: Path) -> Image:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps`", pytrace=False)
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", page.resolve().as_uri(),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and png.is_file(), result.stderr[-2000:]
    return decode_png(png.read_bytes())


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(build_report(None), OutputFormat.HTML, tmp_path / "report")
    try:
        image = screenshot(page, tmp_path / "report.png", tmp_path / "profile")
    finally:
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    assert image.share_not_white() > 0.05, f"only {image.share_not_white():.1%} of the page is not white"
    assert len(colours) > 50, f"only {len(colours)} distinct colours"
    header = (0x0B, 0x3D, 0x91)  # the report's header bar: proof the stylesheet applied, not just text
    assert colours[header] > WIDTH * 40


def test_blank_page_fails_the_same_checks(tmp_path: Path) -> None:
    """The control: the checks above would catch a report that rendered nothing."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    image = screenshot(page, tmp_path / "blank.png", tmp_path / "profile")
    assert image.share_not_white() < 0.01
    assert len(image.colours()) < 5
