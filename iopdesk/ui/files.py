"""Where files the user saves go, and opening them (issue 19 item 10).

A PDF or workbook is saved where the user chooses, by default their Documents folder (never the
program's hidden data folder); the user is told where it went, and a file that cannot be opened
(no PDF viewer) is reported instead of failing silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget

from iopdesk.ui import msgbox

# How a saved file is opened; tests may replace it so no viewer starts on the test machine.
OPENER: Callable[[QUrl], bool] = QDesktopServices.openUrl


def documents_dir() -> Path:
    """The user's Documents folder (their home folder when there is none)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(location) if location else Path.home()
    return folder if folder.is_dir() else Path.home()


def default_path(name: str) -> Path:
    return documents_dir() / name


def open_saved(parent: QWidget | None, path: Path, what: str) -> bool:
    """Open a saved file in the system's viewer; say so plainly when that is not possible."""
    if OPENER(QUrl.fromLocalFile(str(path))):
        return True
    msgbox.warning(
        parent,
        "Could not open the file",
        f"The {what} was saved to {path}, but this computer could not open it (is a PDF viewer "
        "installed?). Open it from that folder, or print it from there.",
    )
    return False
