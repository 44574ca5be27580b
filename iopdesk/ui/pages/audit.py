"""Admin > Audit log: the audit report (filters, server-side sort on every column, export to
Excel or PDF, chain verification). Every view, export and verification is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError
from iopdesk.services import audit, audit_report
from iopdesk.services.audit_report import AuditQuery, ReportRow
from iopdesk.ui import clock, files, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted

# table column -> service sort key (the order of HEADERS)
SORT_KEYS = (
    "id",
    "occurred_at",
    "username",
    "action",
    "entity",
    "entity_id",
    "client",
    "detail",
    "workstation",
    "flagged",
)


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


class AuditReportWidget(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.sort_key = "id"
        self.descending = True
        lay = QVBoxLayout(self)
        filters = QHBoxLayout()
        today = clock.utc_now().date()  # the report's days are UTC days, as its times
        self.date_from = DateEdit(today - timedelta(days=30), label="The first day")
        self.date_to = DateEdit(today, label="The last day")
        self.user = QComboBox()
        self.user.setObjectName("userFilter")
        self.action = QComboBox()
        self.action.setObjectName("actionFilter")
        self.client = QLineEdit()
        self.client.setObjectName("clientFilter")
        self.client.setPlaceholderText("MRN")
        self.client.setMaximumWidth(110)
        self.flagged = QCheckBox("Flagged only")
        apply = QPushButton("Show")
        apply.setObjectName("primary")
        apply.clicked.connect(self.refresh)
        for label, widget in (
            ("From", self.date_from),
            ("To", self.date_to),
            ("User", self.user),
            ("Client", self.client),
            ("Action", self.action),
        ):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.flagged)
        filters.addWidget(apply)
        filters.addStretch(1)
        lay.addLayout(filters)
        bar = QHBoxLayout()
        self.count = muted("")
        bar.addWidget(self.count, 1)
        xlsx = QPushButton("Export to Excel...")
        xlsx.clicked.connect(lambda: self.export(".xlsx"))
        pdf = QPushButton("Export to PDF...")
        pdf.clicked.connect(lambda: self.export(".pdf"))
        verify = QPushButton("Verify audit log")
        verify.clicked.connect(self.verify)
        self.verify_result = QLabel("")
        self.verify_result.setObjectName("verifyResult")
        for w in (xlsx, pdf, verify):
            bar.addWidget(w)
        bar.addWidget(self.verify_result)
        lay.addLayout(bar)
        self.model: RowsModel[ReportRow] = RowsModel(
            [
                Column("#", lambda e: e.id, align_right=True),
                Column(
                    "When",
                    lambda e: e.occurred_at.astimezone().strftime("%m/%d/%Y %H:%M:%S"),
                    sort_key=lambda e: e.occurred_at,
                ),
                Column("User", lambda e: e.username),
                Column(
                    "Action", lambda e: e.action, color=lambda e: "#c62828" if e.flagged else None
                ),
                Column("Record", lambda e: e.entity),
                Column("Record ID", lambda e: e.entity_id),
                Column("Client (MRN)", lambda e: e.mrn),
                Column("Detail", lambda e: e.detail),
                Column("Workstation", lambda e: e.workstation),
                Column(
                    "Flagged",
                    lambda e: "yes" if e.flagged else "",
                    color=lambda e: "#c62828" if e.flagged else None,
                ),
            ]
        )
        self.table = make_table()
        self.table.setSortingEnabled(False)  # sorted by the service, over the whole log
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by)
        for column, width in enumerate((55, 150, 90, 120, 100, 90, 110, 330, 110)):
            self.table.setColumnWidth(column, width)
        lay.addWidget(self.table, 1)
        self._options_loaded = False

    def _present_options(self, options: audit_report.FilterOptions) -> None:
        self.user.clear()
        self.user.addItem("Everyone", None)
        for uid, name in options.users:
            self.user.addItem(name, uid)
        self.action.clear()
        self.action.addItem("All actions", None)
        for name in options.actions:
            self.action.addItem(name, name)
        self._options_loaded = True

    def filters(self) -> _Filters:
        """GUI thread: what the filters say, as plain values for the background query."""
        return _Filters(
            date_from=_pydate(self.date_from.date()),
            date_to=_pydate(self.date_to.date()),
            user_id=self.user.currentData(),
            mrn=self.client.text().strip(),
            action=self.action.currentData(),
            flagged_only=self.flagged.isChecked(),
            sort=self.sort_key,
            descending=self.descending,
        )

    def query_for(self, f: _Filters) -> AuditQuery:
        """Worker thread: the service query (the MRN looked up)."""
        client_id = None
        if f.mrn:
            client_id = audit_report.client_id_for_mrn(self.ctx.db, self.ctx.actor, f.mrn)
        return AuditQuery(
            date_from=f.date_from,
            date_to=f.date_to,
            user_id=f.user_id,
            client_id=client_id,
            action=f.action,
            flagged_only=f.flagged_only,
            sort=f.sort,
            descending=f.descending,
        )

    def query(self) -> AuditQuery:
        return self.query_for(self.filters())

    def refresh(self) -> None:
        from iopdesk.ui.pages.loading import load

        f, options = self.filters(), not self._options_loaded
        load(self, lambda: self.fetch(f, options), self.present)

    def fetch(self, f: _Filters, options: bool = False) -> _Loaded:
        """Worker thread: services only."""
        db, actor = self.ctx.db, self.ctx.actor
        opts = audit_report.filter_options(db, actor) if options else None
        try:
            rows = audit_report.run(db, actor, self.query_for(f))
        except UserError as exc:
            return _Loaded(opts, None, exc)
        return _Loaded(opts, rows, None)

    def present(self, data: _Loaded) -> None:
        if data.options is not None:
            self._present_options(data.options)
        if data.error is not None:
            msgbox.user_error(self, data.error)
            return
        rows = data.rows or []
        self.model.set_rows(rows)
        flagged = sum(1 for r in rows if r.flagged)
        self.count.setText(
            f"{len(rows)} events"
            + (f", {flagged} flagged" if flagged else "")
            + (" (first 5,000; narrow the filters or export for all)" if len(rows) >= 5000 else "")
        )
        column = SORT_KEYS.index(self.sort_key)
        order = Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(column, order)

    def sort_by(self, column: int) -> None:
        key = SORT_KEYS[column]
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key in ("id", "occurred_at", "flagged")
        self.refresh()

    def export(self, suffix: str, path: str | None = None) -> ops.Op[int] | None:
        """Write the report in the background (Excel or PDF); the op, or None if cancelled."""
        if not path:
            kind = "Excel (*.xlsx)" if suffix == ".xlsx" else "PDF (*.pdf)"
            path, _ = QFileDialog.getSaveFileName(
                self, "Export audit report", str(files.default_path(f"audit-report{suffix}")), kind
            )
        if not path:
            return None
        f, target = self.filters(), path
        db, actor = self.ctx.db, self.ctx.actor
        return (
            ops.Op(self, lambda: audit_report.export(db, actor, self.query_for(f), target))
            .with_progress("Writing the audit report...")
            .success(
                lambda n: msgbox.info(
                    self, "Audit report exported", f"{n} events were saved to {target}."
                )
            )
            .run_in_background()
        )

    def verify(self) -> ops.Op[audit.VerifyResult]:
        """Check the audit chain in the background; the result is shown beside the button."""
        db, actor = self.ctx.db, self.ctx.actor

        def show(result: audit.VerifyResult) -> None:
            self.verify_result.setText(result.message())
            color = "#2e7d32" if result.ok else "#c62828"
            self.verify_result.setStyleSheet(f"color: {color}; font-weight: 600;")

        return (
            ops.Op(self, lambda: audit_report.verify(db, actor))
            .with_progress("Checking the audit log...")
            .success(show)
            .run_in_background()
        )


@dataclass(frozen=True)
class _Filters:
    date_from: date
    date_to: date
    user_id: int | None
    mrn: str
    action: str | None
    flagged_only: bool
    sort: str
    descending: bool


@dataclass(frozen=True)
class _Loaded:
    options: audit_report.FilterOptions | None
    rows: list[ReportRow] | None
    error: UserError | None


class ChartAuditTab(QWidget):
    """A client chart's Audit tab: who opened, changed, printed or disclosed this client's
    records (newest first). Read when the tab is shown, and that reading is itself audited."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.client_id: int | None = None
        self.loaded_for: int | None = None
        lay = QVBoxLayout(self)
        self.caption = muted("Every access to this chart, newest first (up to 1,000 events).")
        lay.addWidget(self.caption)
        self.model: RowsModel[ReportRow] = RowsModel(
            [
                Column(
                    "When",
                    lambda r: r.occurred_at.astimezone().strftime("%m/%d/%Y %H:%M:%S"),
                    sort_key=lambda r: r.occurred_at,
                ),
                Column("User", lambda r: r.username),
                Column("Action", lambda r: r.action.replace("_", " ")),
                Column("Record", lambda r: f"{r.entity} {r.entity_id}".strip()),
                Column("Detail", lambda r: r.detail),
                Column("Workstation", lambda r: r.workstation),
                Column(
                    "Flag",
                    lambda r: "flagged" if r.flagged else "",
                    color=lambda r: "#c62828" if r.flagged else None,
                ),
            ]
        )
        self.table = make_table(stretch_column=4)
        self.table.setModel(self.model)
        for column, width in enumerate((150, 110, 130, 150)):
            self.table.setColumnWidth(column, width)
        lay.addWidget(self.table, 1)

    def set_client(self, client_id: int) -> None:
        self.client_id = client_id
        self.loaded_for = None
        self.model.set_rows([])

    def fetch(self, client_id: int) -> list[ReportRow]:
        """Worker side: the chart's audit events (reading them is itself audited)."""
        return audit_report.run(
            self.ctx.db, self.ctx.actor, AuditQuery(client_id=client_id), limit=1000
        )

    def ensure_loaded(self) -> ops.Op[list[ReportRow]] | None:
        """Read the chart's events on an op worker unless they are shown already."""
        client_id = self.client_id
        if client_id is None or self.loaded_for == client_id:
            return None
        return ops.run(self, lambda: self.fetch(client_id), lambda r: self.present(client_id, r))

    def present(self, client_id: int, rows: list[ReportRow]) -> None:
        if client_id != self.client_id:
            return  # another chart was opened meanwhile
        self.loaded_for = client_id
        self.model.set_rows(rows)
        self.caption.setText(
            f"{len(rows)} events for this chart, newest first"
            + (" (the latest 1,000)." if len(rows) == 1000 else ".")
        )
