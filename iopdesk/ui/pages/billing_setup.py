"""Billing set-up: payers and their fee schedules (Billing > Payers & fees) and a client's
insurance and authorizations (the chart's Billing tab)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.services import payers
from iopdesk.services.payers import (
    AuthInfo,
    AuthInput,
    CoverageInfo,
    FeeInfo,
    FeeInput,
    PayerInfo,
    PayerInput,
)
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog, submit
from iopdesk.ui.pages.intake import DateField, is_invalid, mark_invalid
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title

MODES = {"per_service": "Per service", "per_diem": "Per diem"}
FAR = date(2100, 12, 31)


def _dmy(value: date | None, blank: str = "") -> str:
    return f"{value:%m/%d/%Y}" if value else blank


class _EditDialog(FormDialog):
    """A form dialog whose save maps a service's field errors onto its widgets. `save()` reads
    the fields (GUI thread) and returns the service call, run on an op worker by
    `forms.submit`; a record changed on another workstation is said in a box and closes the
    dialog (the list reloads with the other change)."""

    labels: dict[str, str] = {}

    def __init__(self, title: str, subtitle: str, ok: str, parent: QWidget | None) -> None:
        super().__init__(title, subtitle, ok, parent)
        self.fields: dict[str, QWidget] = {}
        self.stale = False
        self.reading: ops.Op[Any] | None = None

    def read(self, fn: Callable[[], Any], fill: Callable[[Any], Any]) -> None:
        """Read what the dialog shows on a worker; OK waits for `fill`."""
        self.buttons.setEnabled(False)
        self.reading = (
            ops.Op(self, fn, takes_control=False)
            .success(fill)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )

    def _line(self, name: str, placeholder: str = "", max_length: int = 60) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(max_length)
        self.fields[name] = edit
        return edit

    def _date(self, name: str) -> DateField:
        field = DateField(maximum=FAR, blank_page=clock.today())
        field.setObjectName(name)
        self.fields[name] = field
        return field

    def _try_accept(self) -> None:
        for widget in self.fields.values():
            if is_invalid(widget):
                mark_invalid(widget, None)
        try:
            work = self.save()
        except UserError as exc:
            self.show_error(exc.message)
            return
        self.error.hide()
        self.last_op = submit(self, work, self._saved, show_error=self._refused, reload=self._stale)

    def _refused(self, text: str) -> None:
        exc = self.last_op.error if self.last_op is not None else None
        if isinstance(exc, ValidationError):
            lines = []
            for name, message in exc.fields.items():
                target = self.fields.get(name)
                if target is not None:
                    mark_invalid(target, message)
                lines.append(f"\u2022 {self.labels.get(name, name)}: {message}")
            if lines:
                text = "Please correct the highlighted fields:\n" + "\n".join(lines)
        self.show_error(text)

    def _stale(self) -> None:
        self.stale = True
        self.accept()  # closes; the list reloads with the other change

    def save(self) -> Callable[[], Any]:  # pragma: no cover - overridden
        raise NotImplementedError


CLAIM_TYPES = {
    "": "From billing (per service 837P, per diem 837I)",
    "837P": "837P professional",
    "837I": "837I institutional",
}
GROUPINGS = {"period": "One claim per statement period", "date": "One claim per date of service"}
RELATIONSHIPS = {
    "self": "Self (the client)",
    "spouse": "Spouse",
    "child": "Child",
    "other": "Other",
}


def _combo(name: str, items: dict[str, str]) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    for key, label in items.items():
        box.addItem(label, key)
    return box


class PayerDialog(_EditDialog):
    labels = {
        "payer_code": "Payer ID",
        "name": "Name",
        "billing_mode": "Billing",
        "audio_only_modifier": "Audio-only modifier",
        "electronic_payer_id": "Electronic payer ID",
        "claim_type": "Claim type",
        "type_of_bill": "Type of bill",
        "claim_grouping": "Claims",
        "claim_filing_code": "Claim filing indicator",
    }

    def __init__(self, ctx: AppContext, info: PayerInfo | None, parent: QWidget | None) -> None:
        super().__init__(
            "Edit payer" if info else "Add payer",
            "The payer ID is the clearinghouse's code for this insurer.",
            "Save payer" if info else "Add payer",
            parent,
        )
        self.ctx, self.info = ctx, info
        self.saved: PayerInfo | None = None
        self.code = self._line("payer_code", "e.g. MCD or 60054", 30)
        self.name = self._line("name", "e.g. State Medicaid", 120)
        self.mode = QComboBox()
        self.mode.setObjectName("billing_mode")
        for key, label in MODES.items():
            self.mode.addItem(label, key)
        self.fields["billing_mode"] = self.mode
        self.requires_auth = QCheckBox("Services need a prior authorization")
        self.audio = QComboBox()
        self.audio.setObjectName("audio_only_modifier")
        self.audio.addItem("93 (most payers)", "93")
        self.audio.addItem("FQ (Medicare)", "FQ")
        self.fields["audio_only_modifier"] = self.audio
        self.group_hq = QCheckBox("HQ on group therapy (90853)")
        self.group_hq.setObjectName("group_hq")
        self.group_hq.setChecked(True)
        self.group_hq.setToolTip("Many commercial payers reject HQ: clear it for them.")
        self.sud_hf = QCheckBox("HF on substance-use program services")
        self.sud_hf.setObjectName("sud_hf")
        self.requires_plan = QCheckBox("Bill only with a current signed treatment plan")
        self.requires_plan.setObjectName("requires_treatment_plan")
        self.active = QCheckBox("Active (offered at intake)")
        self.active.setChecked(True)
        self.form.addRow("Payer ID *", self.code)
        self.form.addRow("Name *", self.name)
        self.form.addRow("Billing *", self.mode)
        self.form.addRow("", self.requires_auth)
        self.form.addRow("Audio-only modifier", self.audio)
        self.form.addRow("Modifiers", self.group_hq)
        self.form.addRow("", self.sud_hf)
        self.form.addRow("", self.requires_plan)
        self.form.addRow("", self.active)
        self.edi = self._line("electronic_payer_id", "the clearinghouse's payer ID", 80)
        self.claim_type = _combo("claim_type", CLAIM_TYPES)
        self.fields["claim_type"] = self.claim_type
        self.tob = self._line("type_of_bill", "837I: e.g. 0131 or 0761", 4)
        self.grouping = _combo("claim_grouping", GROUPINGS)
        self.fields["claim_grouping"] = self.grouping
        self.filing = self._line("claim_filing_code", "CI commercial, MC Medicaid, HM HMO", 2)
        self.filing.setText("CI")
        self.form.addRow("Electronic payer ID", self.edi)
        self.form.addRow("Claim type", self.claim_type)
        self.form.addRow("Type of bill", self.tob)
        self.form.addRow("Claims", self.grouping)
        self.form.addRow("Claim filing indicator", self.filing)
        if info is not None:
            self.edi.setText(info.electronic_payer_id)
            self.claim_type.setCurrentIndex(max(0, self.claim_type.findData(info.claim_type)))
            self.tob.setText(info.type_of_bill)
            self.grouping.setCurrentIndex(max(0, self.grouping.findData(info.claim_grouping)))
            self.filing.setText(info.claim_filing_code)
        if info is not None:
            self.code.setText(info.payer_code)
            self.name.setText(info.name)
            self.mode.setCurrentIndex(max(0, self.mode.findData(info.billing_mode)))
            self.requires_auth.setChecked(info.requires_auth)
            self.audio.setCurrentIndex(max(0, self.audio.findData(info.audio_only_modifier)))
            self.group_hq.setChecked(info.group_hq)
            self.sud_hf.setChecked(info.sud_hf)
            self.requires_plan.setChecked(info.requires_treatment_plan)
            self.active.setChecked(info.active)

    def save(self) -> Callable[[], Any]:
        data = PayerInput(
            self.code.text(),
            self.name.text(),
            str(self.mode.currentData()),
            self.requires_auth.isChecked(),
            self.active.isChecked(),
            audio_only_modifier=str(self.audio.currentData()),
            group_hq=self.group_hq.isChecked(),
            sud_hf=self.sud_hf.isChecked(),
            requires_treatment_plan=self.requires_plan.isChecked(),
            electronic_payer_id=self.edi.text(),
            claim_type=str(self.claim_type.currentData() or ""),
            type_of_bill=self.tob.text(),
            claim_grouping=str(self.grouping.currentData() or "period"),
            claim_filing_code=self.filing.text(),
        )
        info, db, actor = self.info, self.ctx.db, self.ctx.actor
        return lambda: payers.save_payer(
            db,
            actor,
            data,
            payer_id=info.id if info else None,
            version=info.version if info else None,
        )


class FeeDialog(_EditDialog):
    labels = {
        "code": "Code",
        "rate": "Fee",
        "effective_from": "From",
        "effective_to": "To",
    }

    def __init__(
        self, ctx: AppContext, payer: PayerInfo, info: FeeInfo | None, parent: QWidget | None
    ) -> None:
        super().__init__(
            f"{'Edit' if info else 'Add'} fee - {payer.name}",
            "The charge per unit for one procedure code. Leave the dates blank for a fee "
            "that always applies.",
            "Save fee",
            parent,
        )
        self.ctx, self.payer, self.info = ctx, payer, info
        self.code = self._line("code", "e.g. 90834 or H0015", 5)
        self.rate = self._line("rate", "e.g. 125.00", 14)
        self.start = self._date("effective_from")
        self.end = self._date("effective_to")
        self.form.addRow("Procedure code *", self.code)
        self.form.addRow("Fee per unit ($) *", self.rate)
        self.form.addRow("From", self.start)
        self.form.addRow("To", self.end)
        if info is not None:
            self.code.setText(info.code)
            self.rate.setText(f"{info.rate:.2f}")
            self.start.set_value(info.effective_from)
            self.end.set_value(info.effective_to)

    def save(self) -> Callable[[], Any]:
        info, db, actor = self.info, self.ctx.db, self.ctx.actor
        data = FeeInput(
            self.payer.id,
            self.code.text(),
            self.rate.text(),
            self.start.value(),
            self.end.value(),
        )
        return lambda: payers.save_fee(
            db,
            actor,
            data,
            fee_id=info.id if info else None,
            version=info.version if info else None,
        )


def _buttons(*specs: tuple[str, Callable[[], None], bool]) -> tuple[QHBoxLayout, list[QPushButton]]:
    bar = QHBoxLayout()
    made = []
    for text, slot, enabled in specs:
        b = QPushButton(text)
        b.clicked.connect(slot)
        b.setEnabled(enabled)
        bar.addWidget(b)
        made.append(b)
    bar.addStretch(1)
    return bar, made


def _coding_summary(p: PayerInfo) -> str:
    """The payer's coding rules in a few words: audio-only modifier, HQ/HF, plan rule."""
    parts = [f"audio {p.audio_only_modifier}", "HQ" if p.group_hq else "no HQ"]
    if p.sud_hf:
        parts.append("HF")
    if p.requires_treatment_plan:
        parts.append("plan required")
    return ", ".join(parts)


class PayersTab(QWidget):
    """Billing > Payers & fees: the payer list and the selected payer's fee schedule."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        can = ctx.can(Perm.PAYER_MANAGE)
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(section_title("Payers"))
        bar, _ = _buttons(("Add payer...", self.add_payer, can), ("Edit...", self.edit_payer, can))
        left.addLayout(bar)
        self.payer_model: RowsModel[PayerInfo] = RowsModel(
            [
                Column("Payer ID", lambda p: p.payer_code),
                Column("Name", lambda p: p.name),
                Column("Billing", lambda p: MODES.get(p.billing_mode, p.billing_mode)),
                Column("Auth", lambda p: "Required" if p.requires_auth else ""),
                Column("Coding", _coding_summary),
                Column("Fees", lambda p: p.fee_count, align_right=True),
                Column(
                    "Status",
                    lambda p: "Active" if p.active else "Inactive",
                    color=lambda p: None if p.active else "#757575",
                ),
            ]
        )
        self.payer_table = make_table()
        self.payer_table.setModel(self.payer_model)
        for column, width in enumerate((76, 200, 84, 70, 150, 46)):
            self.payer_table.setColumnWidth(column, width)
        self._fees_shown_for: int | None = None
        self.payer_table.selectionModel().currentRowChanged.connect(lambda *_: self._load_fees())
        self.payer_table.doubleClicked.connect(lambda *_: self.edit_payer())
        left.addWidget(self.payer_table, 1)
        outer.addLayout(left, 4)
        right = QVBoxLayout()
        self.fee_title = section_title("Fee schedule")
        right.addWidget(self.fee_title)
        bar, self.fee_buttons = _buttons(
            ("Add fee...", self.add_fee, can),
            ("Edit...", self.edit_fee, can),
            ("Remove...", self.remove_fee, can),
        )
        right.addLayout(bar)
        self.fee_model: RowsModel[FeeInfo] = RowsModel(
            [
                Column("Code", lambda f: f.code),
                Column("Fee", lambda f: f"${f.rate:,.2f}", align_right=True),
                Column("From", lambda f: _dmy(f.effective_from, "any date")),
                Column("To", lambda f: _dmy(f.effective_to, "no end")),
            ]
        )
        self.fee_table = make_table()
        self.fee_table.setModel(self.fee_model)
        self.fee_table.doubleClicked.connect(lambda *_: self.edit_fee())
        right.addWidget(self.fee_table, 1)
        right.addWidget(
            muted("A code without a fee is listed as an exception, never billed at $0.")
        )
        outer.addLayout(right, 3)

    def refresh(self, select: int | None = None) -> None:
        """Reload in the background, keeping the selected payer (or selecting `select`)."""
        from iopdesk.ui.pages.loading import load

        current = self.selected_payer()
        want = select if select is not None else (current.id if current else None)
        load(self, lambda: self.fetch(want), self.present)

    def fetch(
        self, payer_id: int | None = None
    ) -> tuple[list[PayerInfo], int | None, list[FeeInfo]]:
        """Worker thread: the payers, and the fees of the payer that will be selected."""
        db, actor = self.ctx.db, self.ctx.actor
        rows = payers.list_payers(db, actor)
        chosen = next((p.id for p in rows if p.id == payer_id), rows[0].id if rows else None)
        return rows, chosen, payers.list_fees(db, actor, chosen) if chosen is not None else []

    def present(self, data: tuple[list[PayerInfo], int | None, list[FeeInfo]]) -> None:
        rows, chosen, fees = data
        self.payer_model.set_rows(rows)
        idx = next((i for i, p in enumerate(rows) if p.id == chosen), -1)
        self._fees_shown_for = chosen
        if idx >= 0:
            self.payer_table.selectRow(idx)  # the fees are already here: no second load
        self._present_fees((self.selected_payer(), fees))

    def _select(self, payer_id: int | None) -> None:
        rows = self.payer_model.rows
        idx = next((i for i, p in enumerate(rows) if p.id == payer_id), 0 if rows else -1)
        if idx >= 0:
            self.payer_table.selectRow(idx)
        self._load_fees()

    def selected_payer(self) -> PayerInfo | None:
        index = self.payer_table.currentIndex()
        return self.payer_model.row_at(index.row()) if index.isValid() else None

    def _selected_fee(self) -> FeeInfo | None:
        index = self.fee_table.currentIndex()
        return self.fee_model.row_at(index.row()) if index.isValid() else None

    def _load_fees(self) -> None:
        from iopdesk.ui.pages.loading import load

        payer = self.selected_payer()
        if payer is not None and payer.id == self._fees_shown_for:
            return
        self._fees_shown_for = payer.id if payer else None
        db, actor = self.ctx.db, self.ctx.actor
        load(
            self.fee_table,
            lambda: (payer, payers.list_fees(db, actor, payer.id) if payer else []),
            self._present_fees,
        )

    def _present_fees(self, data: tuple[PayerInfo | None, list[FeeInfo]]) -> None:
        payer, fees = data
        self.fee_title.setText(f"Fee schedule - {payer.payer_code}" if payer else "Fee schedule")
        self.fee_model.set_rows(fees)

    def add_payer(self) -> None:
        dialog = PayerDialog(self.ctx, None, self)
        if dialog.exec() and dialog.saved:
            self.refresh(select=dialog.saved.id)

    def edit_payer(self) -> None:
        payer = self.selected_payer()
        if payer is None or not self.ctx.can(Perm.PAYER_MANAGE):
            return
        dialog = PayerDialog(self.ctx, payer, self)
        dialog.exec()
        self.refresh()

    def add_fee(self) -> None:
        payer = self.selected_payer()
        if payer is None:
            msgbox.info(self, "Choose a payer", "Select the payer in the list first.")
            return
        FeeDialog(self.ctx, payer, None, self).exec()
        self.refresh()

    def edit_fee(self) -> None:
        payer, fee = self.selected_payer(), self._selected_fee()
        if payer is None or fee is None or not self.ctx.can(Perm.PAYER_MANAGE):
            return
        FeeDialog(self.ctx, payer, fee, self).exec()
        self.refresh()

    def remove_fee(self) -> None:
        fee = self._selected_fee()
        if fee is None:
            msgbox.info(self, "Choose a fee", "Select the fee to remove first.")
            return
        reason, ok = QInputDialog.getText(self, f"Remove fee {fee.code}", "Reason (required):")
        if ok:
            self.void_fee(fee.id, reason)

    def void_fee(self, fee_id: int, reason: str) -> ops.Op[Any]:
        """Remove a fee on an op worker, then reload the list."""
        db, actor = self.ctx.db, self.ctx.actor
        return ops.run(
            self,
            lambda: payers.void_fee(db, actor, fee_id, reason),
            lambda _r: self.refresh(),
            reload=self.refresh,
        )


# -- the chart's Billing tab -----------------------------------------------------------------
def _payer_combo(dialog: _EditDialog, ctx: AppContext, current: int | None) -> QComboBox:
    """The payer pick list of a dialog, filled when its read (on a worker) arrives."""
    combo = QComboBox()
    combo.setObjectName("payer_id")
    db, actor = ctx.db, ctx.actor

    def fill(rows: list[PayerInfo]) -> None:
        for p in rows:
            if p.active or p.id == current:
                combo.addItem(f"{p.name} ({p.payer_code})", p.id)
        if current is not None:
            combo.setCurrentIndex(max(0, combo.findData(current)))

    dialog.read(lambda: payers.list_payers(db, actor), fill)
    return combo


class CoverageDialog(_EditDialog):
    labels = {
        "payer_id": "Payer",
        "member_id": "Member ID",
        "end_date": "To",
        "subscriber_relationship": "Subscriber is",
        "subscriber_last_name": "Subscriber name",
        "subscriber_dob": "Subscriber date of birth",
        "subscriber_sex": "Subscriber sex",
    }

    def __init__(
        self, ctx: AppContext, client_id: int, info: CoverageInfo | None, parent: QWidget | None
    ) -> None:
        super().__init__(
            "Edit insurance" if info else "Add insurance",
            "As printed on the client's insurance card.",
            "Save insurance",
            parent,
        )
        self.ctx, self.client_id, self.info = ctx, client_id, info
        self.payer = _payer_combo(self, ctx, info.payer_id if info else None)
        self.fields["payer_id"] = self.payer
        self.member = self._line("member_id", "", 40)
        self.group_no = self._line("group_number", "", 40)
        self.start = self._date("start_date")
        self.end = self._date("end_date")
        self.form.addRow("Payer *", self.payer)
        self.form.addRow("Member ID *", self.member)
        self.form.addRow("Group number", self.group_no)
        self.form.addRow("From", self.start)
        self.form.addRow("To", self.end)
        self.relationship = _combo("subscriber_relationship", RELATIONSHIPS)
        self.fields["subscriber_relationship"] = self.relationship
        self.sub_first = self._line("subscriber_first_name", "when not the client", 35)
        self.sub_last = self._line("subscriber_last_name", "when not the client", 60)
        self.sub_dob = self._date("subscriber_dob")
        self.sub_sex = _combo(
            "subscriber_sex", {"": "", "F": "Female", "M": "Male", "U": "Unknown"}
        )
        self.fields["subscriber_sex"] = self.sub_sex
        self.form.addRow("Subscriber is", self.relationship)
        self.form.addRow("Subscriber first name", self.sub_first)
        self.form.addRow("Subscriber last name", self.sub_last)
        self.form.addRow("Subscriber date of birth", self.sub_dob)
        self.form.addRow("Subscriber sex", self.sub_sex)
        if info is not None:
            self.relationship.setCurrentIndex(
                max(0, self.relationship.findData(info.subscriber_relationship))
            )
            self.sub_first.setText(info.subscriber_first_name)
            self.sub_last.setText(info.subscriber_last_name)
            self.sub_dob.set_value(info.subscriber_dob)
            self.sub_sex.setCurrentIndex(max(0, self.sub_sex.findData(info.subscriber_sex)))
        if info is not None:
            self.member.setText(info.member_id)
            self.group_no.setText(info.group_number)
            self.start.set_value(info.start_date)
            self.end.set_value(info.end_date)

    def save(self) -> Callable[[], Any]:
        info, db, actor, client_id = self.info, self.ctx.db, self.ctx.actor, self.client_id
        payer_id, member = int(self.payer.currentData() or 0), self.member.text()
        typed: dict[str, Any] = dict(
            group_number=self.group_no.text(),
            start_date=self.start.value(),
            end_date=self.end.value(),
            coverage_id=info.id if info else None,
            version=info.version if info else None,
            subscriber_relationship=str(self.relationship.currentData() or "self"),
            subscriber_first_name=self.sub_first.text(),
            subscriber_last_name=self.sub_last.text(),
            subscriber_dob=self.sub_dob.value(),
            subscriber_sex=str(self.sub_sex.currentData() or ""),
        )
        return lambda: payers.save_coverage(db, actor, client_id, payer_id, member, **typed)


class AuthDialog(_EditDialog):
    labels = {
        "payer_id": "Payer",
        "auth_number": "Auth number",
        "code": "Code",
        "start_date": "From",
        "end_date": "To",
        "units": "Units",
    }

    def __init__(
        self, ctx: AppContext, client_id: int, info: AuthInfo | None, parent: QWidget | None
    ) -> None:
        super().__init__(
            "Edit authorization" if info else "Add authorization",
            "Units are used by exported claim lines in date order.",
            "Save authorization",
            parent,
        )
        self.ctx, self.client_id, self.info = ctx, client_id, info
        self.payer = _payer_combo(self, ctx, info.payer_id if info else None)
        self.fields["payer_id"] = self.payer
        self.number = self._line("auth_number", "From the payer's approval letter", 40)
        self.code = self._line("code", "e.g. H0015 or 90834", 5)
        self.start = self._date("start_date")
        self.end = self._date("end_date")
        self.units = QSpinBox()
        self.units.setObjectName("units")
        self.units.setRange(0, 10000)
        self.fields["units"] = self.units
        self.form.addRow("Payer *", self.payer)
        self.form.addRow("Auth number *", self.number)
        self.form.addRow("Procedure code *", self.code)
        self.form.addRow("From *", self.start)
        self.form.addRow("To *", self.end)
        self.form.addRow("Units *", self.units)
        if info is not None:
            self.number.setText(info.auth_number)
            self.code.setText(info.code)
            self.start.set_value(info.start_date)
            self.end.set_value(info.end_date)
            self.units.setValue(info.units)

    def save(self) -> Callable[[], Any]:
        info, db, actor = self.info, self.ctx.db, self.ctx.actor
        data = AuthInput(
            self.client_id,
            int(self.payer.currentData() or 0),
            self.number.text(),
            self.code.text(),
            self.start.value(),
            self.end.value(),
            self.units.value(),
        )
        return lambda: payers.save_authorization(
            db,
            actor,
            data,
            auth_id=info.id if info else None,
            version=info.version if info else None,
        )


class ClientBillingTab(QWidget):
    """A client's insurance and authorizations with units used and left."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.client_id: int | None = None
        self.last_op: ops.Op[Any] | None = None
        can = ctx.can(Perm.PAYER_MANAGE)
        lay = QVBoxLayout(self)
        lay.addWidget(section_title("Insurance"))
        bar, _ = _buttons(
            ("Add insurance...", self.add_coverage, can), ("Edit...", self.edit_coverage, can)
        )
        lay.addLayout(bar)
        self.cov_model: RowsModel[CoverageInfo] = RowsModel(
            [
                Column("Payer", lambda c: c.payer),
                Column("Member ID", lambda c: c.member_id or "missing", color=_missing),
                Column("Group", lambda c: c.group_number),
                Column("From", lambda c: _dmy(c.start_date)),
                Column("To", lambda c: _dmy(c.end_date)),
            ]
        )
        self.cov_table = make_table()
        self.cov_table.setModel(self.cov_model)
        self.cov_table.setMaximumHeight(120)
        self.cov_table.setColumnWidth(0, 200)
        lay.addWidget(self.cov_table)
        lay.addWidget(section_title("Authorizations"))
        bar, _ = _buttons(
            ("Add authorization...", self.add_auth, can),
            ("Edit...", self.edit_auth, can),
            ("Remove...", self.remove_auth, can),
        )
        lay.addLayout(bar)
        self.auth_model: RowsModel[AuthInfo] = RowsModel(
            [
                Column("Payer", lambda a: a.payer),
                Column("Auth number", lambda a: a.auth_number),
                Column("Code", lambda a: a.code),
                Column("From", lambda a: _dmy(a.start_date), sort_key=lambda a: a.start_date),
                Column("To", lambda a: _dmy(a.end_date), sort_key=lambda a: a.end_date),
                Column("Units", lambda a: a.units, align_right=True),
                Column("Used", lambda a: a.used, align_right=True),
                Column("Left", lambda a: a.remaining, align_right=True, color=_left_color),
            ]
        )
        self.auth_table = make_table()
        self.auth_table.setModel(self.auth_model)
        self.auth_table.setColumnWidth(0, 200)
        self.auth_table.setColumnWidth(1, 130)
        lay.addWidget(self.auth_table, 1)

    def fetch(self, client_id: int) -> tuple[Any, Any]:
        """Worker side of `load`: the client's coverage and authorizations."""
        db, actor = self.ctx.db, self.ctx.actor
        return payers.list_coverage(db, actor, client_id), payers.list_authorizations(
            db, actor, client_id
        )

    def load(self, client_id: int, data: tuple[Any, Any] | None = None) -> None:
        """`data`: what `fetch` read on a worker (read here when not given)."""
        if data is None:
            data = self.fetch(client_id)
        self.client_id = client_id
        self.cov_model.set_rows(data[0])
        self.auth_model.set_rows(data[1])

    def _reload(self) -> None:
        """Read the tab again on a worker (after a change)."""
        cid = self.client_id
        if cid is not None:
            self.last_op = ops.run(self, lambda: self.fetch(cid), lambda d: self.load(cid, d))

    def _current(self, table: object, model: RowsModel) -> object | None:  # type: ignore[type-arg]
        index = table.currentIndex()  # type: ignore[attr-defined]
        return model.row_at(index.row()) if index.isValid() else None

    def add_coverage(self) -> None:
        if self.client_id is not None:
            CoverageDialog(self.ctx, self.client_id, None, self).exec()
            self._reload()

    def edit_coverage(self) -> None:
        cov = self._current(self.cov_table, self.cov_model)
        if self.client_id is not None and isinstance(cov, CoverageInfo):
            CoverageDialog(self.ctx, self.client_id, cov, self).exec()
            self._reload()

    def add_auth(self) -> None:
        if self.client_id is not None:
            AuthDialog(self.ctx, self.client_id, None, self).exec()
            self._reload()

    def edit_auth(self) -> None:
        auth = self._current(self.auth_table, self.auth_model)
        if self.client_id is not None and isinstance(auth, AuthInfo):
            AuthDialog(self.ctx, self.client_id, auth, self).exec()
            self._reload()

    def remove_auth(self) -> None:
        auth = self._current(self.auth_table, self.auth_model)
        if not isinstance(auth, AuthInfo):
            msgbox.info(self, "Choose an authorization", "Select the authorization first.")
            return
        reason, ok = QInputDialog.getText(
            self, f"Remove authorization {auth.auth_number}", "Reason (required):"
        )
        if ok:
            db, actor = self.ctx.db, self.ctx.actor
            self.last_op = (
                ops.Op(self, lambda: payers.void_authorization(db, actor, auth.id, reason))
                .on_done(self._reload)
                .run_in_background()
            )


def _missing(c: CoverageInfo) -> str | None:
    return "#c62828" if not c.member_id else None


def _left_color(a: AuthInfo) -> str | None:
    if a.remaining <= 0 or a.end_date < clock.today():
        return "#c62828"
    return "#b26a00" if a.remaining < 3 else None
