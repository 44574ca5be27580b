"""Billing > Remittances & AR: import an 835, the denials work queue, accounts-receivable
aging by payer, and the remittance items that matched nothing we sent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.services import remittance
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted


def _money(value: object) -> str:
    return f"${value:,.2f}"


def _bucket_column(bucket: str) -> Column[remittance.AgingRow]:
    def value(r: remittance.AgingRow) -> str:
        return _money(r.buckets[bucket])

    def key(r: remittance.AgingRow) -> Decimal:
        return r.buckets[bucket]

    return Column(bucket, value, align_right=True, sort_key=key)


class RemittancesTab(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._posted_for: int | None = None
        self.ctx = ctx
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.summary = muted("Import an 835 remittance to post payments and adjustments.")
        bar.addWidget(self.summary, 1)
        self.import_btn = QPushButton("Import 835...")
        self.import_btn.setObjectName("import_835")
        self.import_btn.clicked.connect(self._import_clicked)
        self.import_btn.setEnabled(ctx.can(Perm.BILLING_EXPORT))
        self.aging_btn = QPushButton("Export AR aging...")
        self.aging_btn.setObjectName("export_aging")
        self.aging_btn.clicked.connect(self._aging_clicked)
        bar.addWidget(self.import_btn)
        bar.addWidget(self.aging_btn)
        layout.addLayout(bar)
        self.tabs = QTabWidget()
        self.denials_model: RowsModel[remittance.Denial] = RowsModel(
            [
                Column("Claim", lambda d: d.claim_number),
                Column("Payer", lambda d: d.payer),
                Column("MRN", lambda d: d.mrn),
                Column("Client", lambda d: d.client),
                Column("Dates", lambda d: f"{d.date_from:%m/%d} - {d.date_to:%m/%d/%Y}"),
                Column(
                    "Amount",
                    lambda d: _money(d.amount),
                    align_right=True,
                    sort_key=lambda d: d.amount,
                ),
                Column(
                    "Age",
                    lambda d: f"{d.age_days} d",
                    align_right=True,
                    sort_key=lambda d: d.age_days,
                    color=lambda d: "#c62828" if d.age_days > 60 else None,
                ),
                Column("Reason", lambda d: d.reasons, color=lambda d: "#b26a00"),
                Column("What to do", lambda d: d.action),
            ]
        )
        self.denials = make_table()
        self.denials.setModel(self.denials_model)
        for column, width in enumerate((100, 64, 74, 150, 150, 86, 54, 300)):
            self.denials.setColumnWidth(column, width)
        self.tabs.addTab(self.denials, "Denials")
        self.aging_model: RowsModel[remittance.AgingRow] = RowsModel(
            [Column("Payer", lambda r: r.payer)]
            + [_bucket_column(b) for b in remittance.BUCKETS]
            + [
                Column(
                    "Total", lambda r: _money(r.total), align_right=True, sort_key=lambda r: r.total
                )
            ]
        )
        self.aging = make_table()
        self.aging.setModel(self.aging_model)
        for column in range(6):
            self.aging.setColumnWidth(column, 120)
        self.tabs.addTab(self.aging, "AR aging")
        self.remits_model: RowsModel[remittance.RemittanceInfo] = RowsModel(
            [
                Column("File", lambda r: r.file_name),
                Column("Payer", lambda r: r.payer_name),
                Column("Check / EFT", lambda r: r.check_number),
                Column("Paid on", lambda r: f"{r.payment_date:%m/%d/%Y}" if r.payment_date else ""),
                Column("Total paid", lambda r: _money(r.total_paid), align_right=True),
                Column("Matched", lambda r: r.claims_matched, align_right=True),
                Column(
                    "Unmatched",
                    lambda r: r.claims_unmatched,
                    align_right=True,
                    color=lambda r: "#c62828" if r.claims_unmatched else None,
                ),
            ]
        )
        self.remits = make_table()
        self.remits.setModel(self.remits_model)
        for column, width in enumerate((170, 200, 110, 90, 100, 110)):
            self.remits.setColumnWidth(column, width)
        self.remits.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self.show_posted(current.row())
        )
        self.posted_model: RowsModel[remittance.PostedClaim] = RowsModel(
            [
                Column(
                    "Claim",
                    lambda p: p.claim_number,
                    color=lambda p: None if p.matched else "#c62828",
                ),
                Column("Status", lambda p: p.status),
                Column("Charge", lambda p: _money(p.charge), align_right=True),
                Column("Paid", lambda p: _money(p.paid), align_right=True),
                Column("Patient", lambda p: _money(p.patient_responsibility), align_right=True),
                Column("Adjustments (CARC)", lambda p: p.adjustments),
                Column("Remarks (RARC)", lambda p: p.remarks),
            ]
        )
        self.posted = make_table()
        self.posted.setModel(self.posted_model)
        for column, width in enumerate((110, 150, 90, 90, 80, 380)):
            self.posted.setColumnWidth(column, width)
        remits_box = QWidget()
        box = QVBoxLayout(remits_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.remits, 1)
        box.addWidget(muted("What the selected remittance posted:"))
        box.addWidget(self.posted, 2)
        self.tabs.addTab(remits_box, "Remittances")
        self.unmatched_model: RowsModel[remittance.Unmatched] = RowsModel(
            [
                Column("Claim", lambda u: u.claim_number),
                Column("Code", lambda u: u.procedure_code),
                Column(
                    "Date", lambda u: f"{u.date_of_service:%m/%d/%Y}" if u.date_of_service else ""
                ),
                Column("Amount", lambda u: _money(u.amount), align_right=True),
                Column("Why it was not posted", lambda u: u.reason, color=lambda u: "#c62828"),
            ]
        )
        self.unmatched = make_table()
        self.unmatched.setModel(self.unmatched_model)
        for column, width in enumerate((120, 70, 90, 90)):
            self.unmatched.setColumnWidth(column, width)
        self.tabs.addTab(self.unmatched, "Unmatched")
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)

    def fetch(self) -> _Loaded:
        """Worker thread: services only (and what the newest remittance posted)."""
        db, actor = self.ctx.db, self.ctx.actor
        remits = remittance.list_remittances(db, actor)
        return _Loaded(
            denials=remittance.denials(db, actor),
            aging=remittance.aging(db, actor),
            unmatched=remittance.unmatched_items(db, actor),
            remits=remits,
            posted=remittance.posted_claims(db, actor, remits[0].id) if remits else [],
        )

    def present(self, data: _Loaded) -> None:
        denials, aging, unmatched = data.denials, data.aging, data.unmatched
        self.denials_model.set_rows(denials)
        self.aging_model.set_rows(aging.rows)
        self.remits_model.set_rows(data.remits)
        self.posted_model.set_rows(data.posted)
        self._posted_for = data.remits[0].id if data.remits else None
        if self.remits_model.rows:
            self.remits.selectRow(0)
        self.unmatched_model.set_rows(unmatched)
        self.tabs.setTabText(0, f"Denials ({len(denials)})")
        self.tabs.setTabText(3, f"Unmatched ({len(unmatched)})")
        open_total = sum((r.total for r in aging.rows), start=0)
        self.summary.setText(
            f"Open claims {_money(open_total)} as of {aging.as_of:%m/%d/%Y}; "
            f"{len(denials)} denials to work."
        )

    def show_posted(self, row: int) -> None:
        from iopdesk.ui.pages.loading import load

        if row < 0 or row >= len(self.remits_model.rows):
            self._posted_for = None
            self.posted_model.set_rows([])
            return
        chosen = self.remits_model.row_at(row).id
        if chosen == self._posted_for:
            return
        self._posted_for = chosen
        db, actor = self.ctx.db, self.ctx.actor
        load(
            self.remits,
            lambda: remittance.posted_claims(db, actor, chosen),
            self.posted_model.set_rows,
        )

    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import 835 remittance", "", "835 remittance (*.835 *.txt *.edi *.x12);;All (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> ops.Op[remittance.ImportResult]:
        """Post the 835 in the background; the lists then reload (in the background too)."""
        db, actor = self.ctx.db, self.ctx.actor

        def posted(result: remittance.ImportResult) -> None:
            self.refresh()
            if result.already_imported:
                msgbox.info(
                    self, "Already imported", f"{path.name} was imported before: nothing changed."
                )
                return
            msgbox.info(
                self,
                "Remittance posted",
                f"{result.payer_name} {result.check_number}: {result.claims_matched} claims and "
                f"{result.lines_matched} lines matched; paid {_money(result.paid)}, patient "
                f"responsibility {_money(result.patient_responsibility)}. "
                f"{len(result.unmatched)} items matched nothing we sent (Unmatched tab).",
            )

        return (
            ops.Op(self, lambda: remittance.import_remittance(db, actor, path))
            .with_progress("Posting the remittance...")
            .success(posted)
            .run_in_background()
        )

    def _aging_clicked(self) -> None:
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The aging report lists clients and their claims")
        if release is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export AR aging", "ar-aging.xlsx", "Excel (*.xlsx);;PDF (*.pdf)"
        )
        if path:
            self.export_aging_to(Path(path), release)

    def export_aging_to(self, path: Path, release: Release | None = None) -> ops.Op[Path]:
        """Write the aging report (Excel or PDF) in the background."""
        db, actor = self.ctx.db, self.ctx.actor
        return (
            ops.Op(
                self,
                lambda: remittance.export_receivables(db, actor, path, release=release),
            )
            .with_progress("Writing the aging report...")
            .success(lambda out: msgbox.info(self, "AR aging exported", f"Saved to {out}."))
            .run_in_background()
        )


@dataclass(frozen=True)
class _Loaded:
    denials: list[Any]
    aging: Any
    unmatched: list[Any]
    remits: list[Any]
    posted: list[Any]
