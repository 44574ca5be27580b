"""Report writers: they take plain data (dataclasses built by services) and write PDF/XLSX.

reportlab and XlsxWriter (reports.xlsx, every XLSX export) are imported inside the writers, never
at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# 42 CFR 2.32 short-form notice, stamped on every Part 2 record that leaves the clinic.
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."


def numbered_canvas(footer: Callable[[Any, int, int], None]) -> type:
    """A reportlab canvas class that holds each page until the document is complete, then
    draws `footer(canvas, page, total)` on every page, so footers can say "Page X of Y"."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                footer(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas
