"""Billing: preview what a period would bill, export the workbook, void a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.services import billing, claims, jobs, lookups
from iopdesk.services.billing import ExportResult
from iopdesk.services.billingfix import how_to_fix
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, files, msgbox, ops
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.flow import flow_row
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted


def _d(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def _money(value: object) -> str:
    return f"${value:,.2f}"


_Preview = tuple[billing.BillingRun, dict[int, str], tuple[int, Decimal]]


class BillingPage(Page):
    title = "Billing"
    shows = frozenset(
        {
            "billingbatch",
            "billingline",
            "payer",
            "feeschedule",
            "coverage",
            "authorization",
            "attendance",
            "clinic_session",
            "note",
            "diagnosis",
            "client",
        }
    )
    open_client_billing = Signal(int)  # an exception's "Open chart > Billing"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.run: billing.BillingRun | None = None
        bar = QHBoxLayout()
        today = clock.qtoday()
        first = QDate(today.year(), today.month(), 1).addMonths(-1)
        self.date_from = DateEdit(_d(first), label="The first day")
        self.date_to = DateEdit(_d(first.addMonths(1).addDays(-1)), label="The last day")
        self.payer = QComboBox()
        self.payer.addItem("All payers", None)  # the payers are added by `present`
        self.payer.setMaximumWidth(230)
        self.include_billed = QCheckBox("Include lines already billed")
        preview = QPushButton("Preview")
        preview.clicked.connect(lambda: self.preview())
        self.export_btn = QPushButton("Export workbook...")
        self.export_btn.setObjectName("primary")
        self.export_btn.clicked.connect(self._export_clicked)
        self.export_btn.setEnabled(ctx.can(Perm.BILLING_EXPORT))
        self.claims_btn = QPushButton("Export claims (837)...")
        self.claims_btn.setObjectName("export_claims")
        self.claims_btn.setToolTip(
            "837P/837I files for the clearinghouse, one per payer and claim type, checked with "
            "an X12 validator before they are written"
        )
        self.claims_btn.clicked.connect(self._claims_clicked)
        self.claims_btn.setEnabled(ctx.can(Perm.BILLING_EXPORT))
        widgets: list[QWidget] = [
            QLabel("From"),
            self.date_from,
            QLabel("to"),
            self.date_to,
            self.payer,
            self.include_billed,
            preview,
        ]
        bar.addWidget(flow_row(*widgets), 1)  # wraps at 1024x700: no label is cut
        bar.addWidget(self.export_btn, 0, Qt.AlignmentFlag.AlignTop)
        self.layout_.addLayout(bar)
        self.summary = muted("Choose a period and press Preview to see what would be billed.")
        # The two exports side by side under the period bar (the bar has no room left at
        # 1366 px): the 837 files for the clearinghouse and the Excel workbook.
        exports = QHBoxLayout()
        exports.addWidget(self.summary, 1)
        exports.addWidget(self.claims_btn)
        exports.addWidget(self.export_btn)
        self.layout_.addLayout(exports)
        self.tabs = QTabWidget()
        self.lines_model: RowsModel[billing.ClaimLine] = RowsModel(
            [
                Column("MRN", lambda r: r.mrn),
                Column("Client", lambda r: r.client),
                Column(
                    "Date",
                    lambda r: f"{r.date_of_service:%m/%d/%Y}",
                    sort_key=lambda r: r.date_of_service,
                ),
                Column("Payer", lambda r: r.payer),
                Column("Code", lambda r: r.procedure_code),
                Column("Mod", lambda r: r.modifiers),
                Column("Rev", lambda r: r.revenue_code),
                Column("Units", lambda r: r.units, align_right=True),
                Column(
                    "Charge",
                    lambda r: _money(r.charge),
                    align_right=True,
                    sort_key=lambda r: r.charge,
                ),
                Column("Diagnoses", lambda r: r.diagnosis_codes),
                Column("Dx Ptr", lambda r: r.diagnosis_pointers),
                Column("Auth", lambda r: r.auth_number),
                Column("Rendering NPI", lambda r: r.rendering_npi),
                Column("POS", lambda r: r.place_of_service),
            ]
        )
        self.lines_table = make_table()
        self.lines_table.setModel(self.lines_model)
        for column, width in enumerate((74, 150, 84, 64, 58, 44, 44, 52, 80, 100, 66, 112, 124)):
            self.lines_table.setColumnWidth(column, width)
        self.tabs.addTab(self.lines_table, "Claim lines")
        self.exc_model: RowsModel[billing.BillingException] = RowsModel(
            [
                Column("MRN", lambda r: r.mrn),
                Column("Client", lambda r: r.client),
                Column(
                    "Date",
                    lambda r: f"{r.date_of_service:%m/%d/%Y}",
                    sort_key=lambda r: r.date_of_service,
                ),
                # What tells two rows of one client and day apart: the session.
                Column("Session", lambda r: self.session_labels.get(r.session_id or 0, "")),
                Column("Service", lambda r: r.service_code or "-"),
                Column("Reason", lambda r: r.reason, color=lambda r: "#b26a00"),
                Column("How to fix", lambda r: how_to_fix(r.reason)),
            ]
        )
        self.session_labels: dict[int, str] = {}
        self.exc_table = make_table()
        self.exc_table.setModel(self.exc_model)
        for column, width in enumerate((80, 170, 90, 190, 64, 150)):
            self.exc_table.setColumnWidth(column, width)
        self.exc_table.doubleClicked.connect(lambda _i: self._open_exception_chart())
        self.exc_table.activated.connect(lambda _i: self._open_exception_chart())
        exc_page = QWidget()
        el = QVBoxLayout(exc_page)
        el.addWidget(self.exc_table, 1)
        ebar = QHBoxLayout()
        ebar.addWidget(muted("Fix each exception in the client's chart, then press Preview."))
        ebar.addStretch(1)
        self.open_chart_btn = QPushButton("Open chart > Billing")
        self.open_chart_btn.setToolTip("Open the selected client's chart at the Billing tab")
        self.open_chart_btn.clicked.connect(self._open_exception_chart)
        ebar.addWidget(self.open_chart_btn)
        el.addLayout(ebar)
        self.tabs.addTab(exc_page, "Exceptions")
        batches = QWidget()
        bl = QVBoxLayout(batches)
        bbar = QHBoxLayout()
        self.void_btn = QPushButton("Void batch...")
        self.void_btn.clicked.connect(self._void_clicked)
        self.void_btn.setEnabled(ctx.can(Perm.BILLING_EXPORT))
        bbar.addWidget(muted("Voiding a batch frees its lines so they can be exported again."))
        bbar.addStretch(1)
        bbar.addWidget(self.void_btn)
        bl.addLayout(bbar)
        self.batch_model: RowsModel[billing.BatchInfo] = RowsModel(
            [
                Column("Batch", lambda b: b.batch_number),
                Column(
                    "Created",
                    lambda b: clinic_time(b.created_at).strftime("%m/%d/%Y %H:%M"),
                    sort_key=lambda b: b.created_at,
                ),
                Column("Period", lambda b: f"{b.date_from:%m/%d/%Y} - {b.date_to:%m/%d/%Y}"),
                Column("Payer", lambda b: b.payer_filter or "All"),
                Column("Lines", lambda b: b.line_count, align_right=True),
                Column("Total", lambda b: _money(b.total_charge), align_right=True),
                Column(
                    "Status",
                    lambda b: b.status.title(),
                    color=lambda b: "#c62828" if b.status == "voided" else "#2e7d32",
                ),
                Column("File / void reason", lambda b: b.void_reason or b.file_name),
            ]
        )
        self.batch_table = make_table()
        self.batch_table.setModel(self.batch_model)
        for column, width in enumerate((90, 130, 190, 80, 60, 100, 80)):
            self.batch_table.setColumnWidth(column, width)
        bl.addWidget(self.batch_table, 1)
        self.tabs.addTab(batches, "Batches")
        from iopdesk.ui.pages.billing_setup import PayersTab

        self.payers_tab = PayersTab(ctx)
        self.tabs.addTab(self.payers_tab, "Payers && fees")
        from iopdesk.ui.pages.remittances import RemittancesTab

        self.remit_tab = RemittancesTab(ctx)
        self.tabs.addTab(self.remit_tab, "Remittances && AR")
        self.layout_.addWidget(self.tabs, 1)

    def _range(self) -> tuple[date, date]:
        return _d(self.date_from.date()), _d(self.date_to.date())

    def refresh(self) -> None:
        """The batches and the payer filter, then the two tabs, each in the background."""
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)
        self.payers_tab.refresh()
        self.remit_tab.refresh()

    def fetch(self) -> tuple[list[billing.BatchInfo], list[tuple[str, str]]]:
        """Worker thread: services only."""
        db, actor = self.ctx.db, self.ctx.actor
        payer_list = [(p.name, p.code) for p in lookups.list_payers(db, actor)]
        return billing.list_batches(db, actor), payer_list

    def present(self, data: object) -> None:
        batches, payer_list = cast(Any, data)
        self.batch_model.set_rows(batches)
        shown = [
            (self.payer.itemText(i), self.payer.itemData(i)) for i in range(1, self.payer.count())
        ]
        if shown != payer_list:
            chosen = self.payer.currentData()
            self.payer.blockSignals(True)
            while self.payer.count() > 1:
                self.payer.removeItem(1)
            for name, code in payer_list:
                self.payer.addItem(name, code)
            self.payer.setCurrentIndex(max(0, self.payer.findData(chosen)))
            self.payer.blockSignals(False)

    def preview(self, then: Callable[[], object] | None = None) -> ops.Op[_Preview]:
        """What the period would bill, computed in the background (the window keeps painting);
        `then` runs once it is shown."""
        start, end = self._range()
        payer, include = self.payer.currentData(), self.include_billed.isChecked()
        db, actor = self.ctx.db, self.ctx.actor

        # In the worker process: a year's preview builds ~150,000 lines from a million rows,
        # work whose objects would otherwise fill this process's heap (and its garbage
        # collections, on the GUI thread). The lines come back in pieces (jobs.billing_preview).
        parts: dict[str, list[Any]] = {}
        work = ops.in_process(
            db, actor, jobs.billing_preview, start, end, payer, include, parts=parts
        )

        def shown(result: _Preview) -> None:
            run, labels, totals = result
            run = replace(run, lines=parts.get("lines", []), exceptions=parts.get("exceptions", []))
            self._show_run(run, labels, totals)
            if then is not None:
                then()

        return ops.Op(self, work).success(shown).run_in_background()

    def _show_run(
        self,
        run: billing.BillingRun,
        labels: dict[int, str],
        totals: tuple[int, Decimal] | None = None,
    ) -> None:
        self.run = run
        self.lines_model.set_rows(run.lines)
        self.session_labels = labels
        self.exc_model.set_rows(run.exceptions)
        units, total = totals if totals is not None else (run.total_units, run.total)
        self.summary.setText(
            f"{len(run.lines)} claim lines, {units} units, {_money(total)}; "
            f"{len(run.exceptions)} exceptions to resolve."
        )
        self.tabs.setTabText(0, f"Claim lines ({len(run.lines)})")
        self.tabs.setTabText(1, f"Exceptions ({len(run.exceptions)})")

    def _open_exception_chart(self) -> None:
        index = self.exc_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Open chart", "Select an exception first.")
            return
        self.open_client_billing.emit(self.exc_model.row_at(index.row()).client_id)

    def _export_clicked(self) -> None:
        from iopdesk.ui.pages.privacy import ask_release

        if self.run is None:  # the exceptions are known only after a preview
            self.preview(then=self._export_clicked)
            return
        open_exceptions = len(self.run.exceptions) if self.run is not None else 0
        if open_exceptions and not msgbox.confirm(
            self,
            "Export with open exceptions?",
            f"{open_exceptions} service(s) are not billable yet (see the Exceptions tab) and "
            "will not be in this batch. Export the billable lines anyway?",
            default=False,
        ):
            return

        release = ask_release(self, "The billing workbook lists clients and their services")
        if release is None:
            return
        start, end = self._range()
        name = f"billing-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.xlsx"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export billing", str(files.default_path(name)), "Excel (*.xlsx)"
        )
        if path:
            self.export_to(Path(path), release)

    def export_to(self, path: Path, release: Release | None = None) -> ops.Op[ExportResult]:
        """Write the workbook in the background, with progress; the batch list then refreshes."""
        start, end = self._range()
        payer, include = self.payer.currentData(), self.include_billed.isChecked()
        db, actor = self.ctx.db, self.ctx.actor
        self.progress_seen: list[tuple[int, int]] = []
        seen = self.progress_seen

        def step(done: int, total: int, _label: str) -> None:
            # Reported by the service while it streams the workbook (every few hundred lines).
            seen.append((done, total))

        # In a worker process: a year's export is minutes of Python work that would otherwise
        # compete with the window for the interpreter (iopdesk/worker.py).
        work = ops.in_process(
            db,
            actor,
            jobs.billing_export,
            start,
            end,
            path,
            payer,
            include,
            release,
            observe=step,
        )

        def exported(result: ExportResult) -> None:
            self.refresh()
            self.preview()
            batch = f" as batch {result.batch_number}" if result.batch_number else ""
            msgbox.info(
                self,
                "Billing exported",
                f"{result.lines} claim lines ({_money(result.total)}) saved{batch} to {path}. "
                f"{result.exceptions} exceptions are listed in the workbook.",
            )

        return (
            ops.Op(self, work)
            .with_progress("Finding billable services...", cancellable=True)
            .success(exported)
            .run_in_background()
        )

    def _claims_clicked(self) -> None:
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The 837 files list clients, their insurance and services")
        if release is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Save the 837 files in")
        if folder:
            self.export_claims_to(Path(folder), release)

    def export_claims_to(
        self, folder: Path, release: Release | None = None
    ) -> ops.Op[claims.ClaimsResult]:
        """Write the 837 files in the background; the batch list and preview then refresh."""
        start, end = self._range()
        payer = self.payer.currentData()
        db, actor = self.ctx.db, self.ctx.actor

        def exported(result: claims.ClaimsResult) -> None:
            self.refresh()
            self.preview()
            self._claims_done(result)

        return (
            ops.Op(
                self,
                ops.in_process(db, actor, jobs.claims_export, start, end, folder, payer, release),
            )
            .with_progress("Building and checking the 837 files...")
            .success(exported)
            .run_in_background()
        )

    def _claims_done(self, result: claims.ClaimsResult) -> None:
        if not result.files:
            msgbox.info(
                self,
                "No claims to send",
                f"Nothing new to send for this period. {len(result.exceptions)} exceptions "
                "are listed on the Exceptions tab.",
            )
            return
        names = "\n".join(f"\u2022 {p.name}" for p in result.files)
        changed = (
            f"\n{len(result.changes)} names or addresses were reduced to the X12 character set."
            if result.changes
            else ""
        )
        msgbox.info(
            self,
            "Claims exported",
            f"{len(result.claims)} claims ({result.originals} original, {result.replacements} "
            f"replacement, {result.voids} void), {result.lines} lines, {_money(result.total)} "
            f"saved as batch {result.batch_number} in {result.files[0].parent}:\n{names}\n"
            f"Every file passed X12 validation. {len(result.exceptions)} exceptions were not "
            f"sent.{changed}",
        )

    def _void_clicked(self) -> None:
        index = self.batch_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a batch", "Select the batch to void in the list first.")
            return
        batch = self.batch_model.row_at(index.row())
        reason, ok = QInputDialog.getText(
            self, f"Void batch {batch.batch_number}", "Reason (required):"
        )
        if ok:
            self.void(batch.batch_number, reason)

    def void(self, batch_number: str, reason: str) -> ops.Op[billing.BatchInfo]:
        db, actor = self.ctx.db, self.ctx.actor
        return (
            ops.Op(self, lambda: billing.void_batch(db, actor, batch_number, reason))
            .success(lambda _r: self.refresh())
            .run_in_background()
        )
