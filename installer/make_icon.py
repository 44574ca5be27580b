"""Draw the IOPDesk app icon: a calendar page with a check mark on the app's blue.

Writes resources/icons/iopdesk.png (256 px, the window icon and the Linux icon) and
installer/iopdesk.ico (16-256 px, the Windows exe and installer icon). Each size is drawn
separately, so the small ones stay sharp. Run it again after changing the drawing:

    python installer/make_icon.py
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPen

ROOT = Path(__file__).resolve().parent.parent
PNG_OUT = ROOT / "resources" / "icons" / "iopdesk.png"
ICO_OUT = ROOT / "installer" / "iopdesk.ico"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

# The app's palette (iopdesk/ui/style.py).
ACCENT = "#1f6f8b"
SIDEBAR = "#17324d"
HIGHLIGHT = "#5fb3d3"


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(size / 256, size / 256)
    # Background tile.
    grad = QLinearGradient(0, 0, 0, 256)
    grad.setColorAt(0, QColor(ACCENT))
    grad.setColorAt(1, QColor(SIDEBAR))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(grad)
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 52, 52)
    # Calendar page.
    p.setBrush(QColor("white"))
    p.drawRoundedRect(QRectF(52, 62, 152, 142), 18, 18)
    p.setBrush(QColor(HIGHLIGHT))
    p.drawRoundedRect(QRectF(52, 62, 152, 40), 18, 18)
    p.drawRect(QRectF(52, 84, 152, 18))
    # Binder rings.
    p.setBrush(QColor("white"))
    for x in (92, 164):
        p.drawRoundedRect(QRectF(x - 8, 44, 16, 38), 8, 8)
    # Check mark.
    pen = QPen(QColor(ACCENT), 22 if size >= 32 else 28)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPolyline([QPointF(92, 150), QPointF(118, 176), QPointF(166, 124)])
    p.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def write_ico(path: Path, images: list[bytes], sizes: tuple[int, ...]) -> None:
    """An ICO file with PNG-compressed entries (Windows Vista and later)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries = b""
    for size, data in zip(sizes, images, strict=True):
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    path.write_bytes(header + entries + b"".join(images))


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter text/fonts need an app
    PNG_OUT.parent.mkdir(parents=True, exist_ok=True)
    draw(256).save(str(PNG_OUT), "PNG")
    write_ico(ICO_OUT, [png_bytes(draw(s)) for s in ICO_SIZES], ICO_SIZES)
    print(f"Wrote {PNG_OUT.relative_to(ROOT)} and {ICO_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
