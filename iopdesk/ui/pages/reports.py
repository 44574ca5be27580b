"""Reports: the weekly hours (attendance) report as Excel or PDF."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QPushButton, QVBoxLayout

from iopdesk.services import hours
from iopdesk.services.disclosures import Release
from iopdesk.ui import clock, files, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.widgets import Page, muted, section_title


class ReportsPage(Page):
    title = "Reports"
    shows: frozenset[str] = frozenset()  # a form: nothing loaded until a report is saved

    def refresh(self) -> None:
        """Nothing to load: the page only writes reports."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        card = QFrame()
        card.setObjectName("card")
        lay = QVBoxLayout(card)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.addWidget(section_title("Weekly hours"))
        lay.addWidget(
            muted(
                "Required and attended hours for every client enrolled that week, with met / "
                "not met / no requirement, sorted by MRN. Choose any day in the week."
            )
        )
        row = QHBoxLayout()
        self.week = DateEdit(clock.today(), weekday=True)
        self.week.setToolTip("Any day in the week; type it or pick it.")
        xlsx = QPushButton("Save as Excel...")
        xlsx.setObjectName("primary")
        xlsx.clicked.connect(lambda: self._save("xlsx"))
        pdf = QPushButton("Save as PDF...")
        pdf.clicked.connect(lambda: self._save("pdf"))
        for w in (self.week, xlsx, pdf):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        self.result = muted("")
        lay.addWidget(self.result)
        self.layout_.addWidget(card)
        self.layout_.addStretch(1)

    def week_of(self) -> date:
        d = self.week.date()
        return date(d.year(), d.month(), d.day())

    def _save(self, kind: str) -> None:
        week = self.week_of()
        name = f"weekly-hours-{week:%Y-%m-%d}.{kind}"
        filt = "Excel workbook (*.xlsx)" if kind == "xlsx" else "PDF (*.pdf)"
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The weekly hours report lists clients and their attendance")
        if release is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save weekly hours report", str(files.default_path(name)), filt
        )
        if path:
            self.save_to(Path(path), release)

    def save_to(self, path: Path, release: Release | None = None) -> ops.Op[int]:
        """Write the report (Excel or PDF) in the background; the op's result is the number
        of clients in it."""
        db, actor, week = self.ctx.db, self.ctx.actor, self.week_of()

        def saved(n: int) -> None:
            self.result.setText(f"Saved weekly hours for {n} clients to {path}.")

        return (
            ops.Op(self, lambda: hours.export_attendance_report(db, actor, week, path, release))
            .with_progress("Writing the weekly hours report...")
            .success(saved)
            .run_in_background()
        )
