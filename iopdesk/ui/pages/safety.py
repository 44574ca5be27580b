"""Clinical safety in the chart (issue 20 items 1-5, 7): the risk banner, the Safety tab (risk
flags, C-SSRS screener, safety plans), Medications, Drug screens, ASAM, and the hours override
dialog. Every read and write goes through the services (permission checks, audit)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.services import asam, drugscreens, medications, overrides, safety
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import submit
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title

OPEN_AFTER_PRINT = True  # tests turn this off
BANNER_STYLE = (
    "background: #b00020; color: white; border-radius: 4px; padding: 7px 12px; font-weight: 700;"
)


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def _date_edit(d: date | None = None) -> QDateEdit:
    edit = QDateEdit(_qdate(d or clock.today()))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("MM/dd/yyyy")
    return edit


def _d(value: date | None) -> str:
    return f"{value:%m/%d/%Y}" if value else ""


def ask_pdf_path(parent: QWidget | None, title: str, name: str) -> str:
    """Where to save a printout (tests replace this)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, name, "PDF (*.pdf)")
    return path


def _opened(path: str) -> None:
    if OPEN_AFTER_PRINT:
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.abspath(path)))


# -- the banner ------------------------------------------------------------------------------
class RiskBanner(QLabel):
    """A red line at the top of the chart and every clinical screen while a client has an open
    suicide-risk flag or an open follow-up (shown only to users who may read the record)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("riskBanner")
        self.setWordWrap(True)
        self.setStyleSheet(BANNER_STYLE)
        self.setVisible(False)
        self._wanted: int | None = None
        self.last_op: ops.Op[Any] | None = None

    def show_text(self, text: str) -> None:
        """Show a banner text already read (the chart's open reads it with the header)."""
        self.setText(text)
        self.setVisible(bool(text))

    def update_for(self, ctx: AppContext, client_id: int | None) -> None:
        if client_id is None:
            self._wanted = None
            self.setVisible(False)
            return
        self._wanted = client_id

        def read() -> safety.RiskBanner | None:
            try:
                return safety.banner(ctx.db, ctx.actor, client_id)
            except UserError:
                return None

        def show(b: safety.RiskBanner | None) -> None:
            if not shiboken6.isValid(self) or self._wanted != client_id:
                return  # closed, or another client was asked for meanwhile
            self.setText(b.text if b is not None else "")
            self.setVisible(b is not None and b.shown)

        self.last_op = ops.run(self, read, show)


# -- small dialogs ---------------------------------------------------------------------------
class _Dialog(QDialog):
    """A form dialog: fields, a plain-words error line. OK runs `accept_action` on the GUI
    thread (it reads the fields and returns the service call), then that call on an op worker
    (`forms.submit`): the buttons are off while it runs, a refusal shows on the error line with
    everything typed kept, success lands in `result_` and closes the dialog."""

    def __init__(self, title: str, ok_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"IOPDesk - {title}")
        self.outer = QVBoxLayout(self)
        head = QLabel(title)
        head.setObjectName("pageTitle")
        self.outer.addWidget(head)
        self.form = QFormLayout()
        self.outer.addLayout(self.form)
        self.outer.addStretch(1)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.outer.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.reject)
        self.ok = QPushButton(ok_text)
        self.ok.setObjectName("primary")
        self.ok.clicked.connect(self._ok)
        row.addWidget(self.cancel)
        row.addWidget(self.ok)
        self.outer.addLayout(row)
        self.button_row = row
        self.result_: Any = None
        self.last_op: ops.Op[Any] | None = None

    def accept_action(self) -> Callable[[], Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    def _buttons(self) -> list[QWidget]:
        return [self.ok, self.cancel]

    def _ok(self) -> None:
        self._save(self.accept_action)

    def _save(self, action: Callable[[], Callable[[], Any]]) -> None:
        """Read the fields now (a typed-input refusal shows at once), save in the background."""
        try:
            work = action()
        except UserError as exc:
            self.error.setText(exc.message)
            return
        self.error.setText("")
        self.last_op = submit(self, work, self._saved, busy=self._buttons())

    def _saved(self, result: Any) -> None:
        self.result_ = result
        self.accept()


class ReasonDialog(_Dialog):
    """One text: a reason (raise/clear a flag) or a reasoned decision."""

    def __init__(
        self, title: str, label: str, action: Callable[[str], Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(title, "Save", parent)
        self.resize(560, 300)
        self.text = QPlainTextEdit()
        self.text.setObjectName("reasonText")
        self.form.addRow(label, self.text)
        self._action = action

    def accept_action(self) -> Callable[[], Any]:
        text = self.text.toPlainText()
        return lambda: self._action(text)


class CssrsDialog(_Dialog):
    """The C-SSRS screener: six questions (3-5 only after a yes to 2), scored as you answer."""

    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__("C-SSRS screener (risk assessment)", "Sign and save", parent)
        self.ctx, self.client_id = ctx, client_id
        self.resize(760, 620)
        self.date = _date_edit()
        self.form.addRow("Date", self.date)
        self.form.addRow(muted("Ask each question; tick it when the answer is yes."))
        self.boxes: dict[str, QCheckBox] = {}
        for key, question in safety.CSSRS_QUESTIONS:
            box = QCheckBox(question.strip())
            box.setObjectName(f"cssrs_{key}")
            box.toggled.connect(self._update)
            self.boxes[key] = box
            self.form.addRow(box)
        self.level = QLabel("")
        self.level.setObjectName("cssrsLevel")
        self.form.addRow("Risk", self.level)
        self.note = QPlainTextEdit()
        self.note.setFixedHeight(70)
        self.form.addRow("Clinical note", self.note)
        self.disposition = QPlainTextEdit()
        self.disposition.setObjectName("cssrsDisposition")
        self.disposition.setFixedHeight(60)
        self.disposition.setPlaceholderText("What was done: safety plan, higher level of care...")
        self.form.addRow("Disposition", self.disposition)
        self._update()

    def data(self) -> safety.CssrsInput:
        answers = {k: b.isChecked() for k, b in self.boxes.items()}
        return safety.CssrsInput(
            _pydate(self.date.date()),
            clinical_note=self.note.toPlainText(),
            disposition=self.disposition.toPlainText(),
            **answers,
        )

    def _update(self) -> None:
        follow = self.boxes["suicidal_thoughts"].isChecked()
        for key in ("thoughts_with_method", "intent", "plan_with_intent"):
            self.boxes[key].setEnabled(follow)
            if not follow:
                self.boxes[key].setChecked(False)
        ever = self.boxes["behavior_ever"].isChecked()
        self.boxes["behavior_past_3_months"].setEnabled(ever)
        if not ever:
            self.boxes["behavior_past_3_months"].setChecked(False)
        level = safety.cssrs_risk(self.data())
        self.level.setText(safety.RISK_LABELS[level])
        color = {"high": "#b00020", "moderate": "#b26a00"}.get(level, "#2e7d32")
        self.level.setStyleSheet(f"color: {color}; font-weight: 700;")

    def accept_action(self) -> Callable[[], Any]:
        ctx, client_id, data = self.ctx, self.client_id, self.data()
        return lambda: safety.record_cssrs(ctx.db, ctx.actor, client_id, data)


class SafetyPlanDialog(_Dialog):
    """The Stanley-Brown safety plan: seven steps; save a draft or sign it."""

    HELP_ROWS = 4
    PRO_ROWS = 5

    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        plan: safety.SafetyPlanInfo | None = None,
        parent: QWidget | None = None,
        *,
        new_data: safety.SafetyPlanData | None = None,
    ) -> None:
        """`new_data`: a new plan's prefilled steps (`safety.new_plan_data`, read by the
        caller on a worker: `SafetyTab` does); without it a new plan starts empty."""
        super().__init__("Safety plan (Stanley-Brown)", "Sign plan", parent)
        self.ctx, self.client_id = ctx, client_id
        self.plan_id = plan.id if plan else None
        self.version = plan.version if plan else None
        self.resize(900, 700)
        data = plan.data if plan else (new_data or safety.SafetyPlanData())
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        form = QFormLayout(inner)
        self.texts: dict[str, QPlainTextEdit] = {}
        self.people: dict[str, list[tuple[QLineEdit, QLineEdit]]] = {}
        for key, label in safety.SAFETY_STEPS:
            title = QLabel(f"<b>{label}</b>")
            title.setWordWrap(True)
            form.addRow(title)
            if key in ("help_contacts", "professionals"):
                rows = self.HELP_ROWS if key == "help_contacts" else self.PRO_ROWS
                existing: list[safety.Contact] = getattr(data, key)
                grid = QGridLayout()
                pairs = []
                for i in range(max(rows, len(existing))):
                    name, phone = QLineEdit(), QLineEdit()
                    name.setObjectName(f"{key}_name_{i}")
                    phone.setObjectName(f"{key}_phone_{i}")
                    name.setPlaceholderText("Name")
                    phone.setPlaceholderText("Phone")
                    if i < len(existing):
                        name.setText(existing[i].name)
                        phone.setText(existing[i].phone)
                    grid.addWidget(name, i, 0)
                    grid.addWidget(phone, i, 1)
                    pairs.append((name, phone))
                grid.setColumnStretch(0, 3)
                grid.setColumnStretch(1, 2)
                form.addRow(grid)
                self.people[key] = pairs
            else:
                edit = QPlainTextEdit(str(getattr(data, key)))
                edit.setObjectName(f"step_{key}")
                edit.setFixedHeight(64)
                form.addRow(edit)
                self.texts[key] = edit
        self.participated = QCheckBox("The client took part in writing this plan")
        self.participated.setChecked(data.client_participated)
        form.addRow(self.participated)
        scroll.setWidget(inner)
        self.outer.insertWidget(2, scroll, 1)
        self.save_btn = QPushButton("Save draft")
        self.save_btn.setObjectName("saveDraft")
        self.save_btn.clicked.connect(self._save_clicked)
        self.button_row.insertWidget(2, self.save_btn)

    def data(self) -> safety.SafetyPlanData:
        def contacts(key: str) -> list[safety.Contact]:
            return [
                safety.Contact(n.text(), p.text())
                for n, p in self.people[key]
                if n.text().strip() or p.text().strip()
            ]

        return safety.SafetyPlanData(
            warning_signs=self.texts["warning_signs"].toPlainText(),
            internal_coping=self.texts["internal_coping"].toPlainText(),
            distraction=self.texts["distraction"].toPlainText(),
            help_contacts=contacts("help_contacts"),
            professionals=contacts("professionals"),
            environment_safety=self.texts["environment_safety"].toPlainText(),
            reasons_for_living=self.texts["reasons_for_living"].toPlainText(),
            client_participated=self.participated.isChecked(),
        )

    def _buttons(self) -> list[QWidget]:
        return [self.ok, self.cancel, self.save_btn]

    def save(self) -> Callable[[], safety.SafetyPlanInfo]:
        """Read the steps now; the returned call saves them (on a worker) and remembers the
        saved version, so signing after a refused sign does not save a second plan."""
        ctx, client_id, data = self.ctx, self.client_id, self.data()

        def work() -> safety.SafetyPlanInfo:
            info = safety.save_safety_plan(
                ctx.db, ctx.actor, client_id, data, self.plan_id, self.version
            )
            self.plan_id, self.version = info.id, info.version  # buttons are off meanwhile
            return info

        return work

    def _save_clicked(self) -> None:
        self._save(self.save)

    def accept_action(self) -> Callable[[], Any]:
        save, ctx = self.save(), self.ctx

        def work() -> safety.SafetyPlanInfo:
            info = save()
            return safety.sign_safety_plan(ctx.db, ctx.actor, info.id, info.version)

        return work


def _reload(tab: Any) -> None:
    """Read a chart tab again on a worker (`fetch`) and show it (`present`) on the GUI thread."""
    cid = tab.client_id
    if cid is None:
        return
    tab.last_op = ops.run(tab, lambda: tab.fetch(cid), lambda data: tab.present(cid, data))


# -- the Safety tab --------------------------------------------------------------------------
class SafetyTab(QWidget):
    """Risk flags with their follow-up and history, C-SSRS screens and safety plans."""

    changed = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.raise_btn = QPushButton("Raise flag...")
        self.decision_btn = QPushButton("Record decision...")
        self.clear_btn = QPushButton("Clear flag...")
        self.cssrs_btn = QPushButton("C-SSRS screener...")
        self.cssrs_btn.setObjectName("primary")
        self.plan_btn = QPushButton("Safety plan...")
        self.print_btn = QPushButton("Print plan...")
        for b, slot in (
            (self.raise_btn, self._raise),
            (self.decision_btn, self._decision),
            (self.clear_btn, self._clear),
            (self.cssrs_btn, self._cssrs),
            (self.plan_btn, self._plan),
            (self.print_btn, self._print),
        ):
            b.clicked.connect(slot)
            bar.addWidget(b)
            b.setVisible(ctx.can(Perm.CLINICAL_WRITE) or b is self.print_btn)
        bar.addStretch(1)
        lay.addLayout(bar)
        body = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(section_title("Suicide-risk flags"))
        self.flags_model: RowsModel[safety.FlagInfo] = RowsModel(
            [
                Column("Raised", lambda f: _d(f.raised_on), sort_key=lambda f: f.id),
                Column("Source", lambda f: safety.SOURCE_LABELS.get(f.source, f.source)),
                Column(
                    "Flag",
                    lambda f: f.status.title(),
                    color=lambda f: "#b00020" if f.status == "open" else None,
                ),
                Column("Follow-up", lambda f: "Done" if not f.followup_open else "Open"),
            ]
        )
        self.flags = make_table()
        self.flags.setModel(self.flags_model)
        self.flags.clicked.connect(lambda _i: self._show_flag())
        left.addWidget(self.flags, 1)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.history.setObjectName("flagHistory")
        left.addWidget(self.history, 1)
        body.addLayout(left, 3)
        right = QVBoxLayout()
        right.addWidget(section_title("C-SSRS screens"))
        self.cssrs_model: RowsModel[safety.CssrsInfo] = RowsModel(
            [
                Column("Date", lambda s: _d(s.screen_date), sort_key=lambda s: s.screen_date),
                Column("Risk", lambda s: s.risk_label),
                Column("By", lambda s: s.administered_by),
            ]
        )
        self.cssrs = make_table()
        self.cssrs.setModel(self.cssrs_model)
        right.addWidget(self.cssrs, 1)
        right.addWidget(section_title("Safety plans"))
        self.plans_model: RowsModel[safety.SafetyPlanInfo] = RowsModel(
            [
                Column("Plan", lambda p: f"#{p.id}"),
                Column("Status", lambda p: p.status.title()),
                Column("Signed", lambda p: f"{p.signed_at:%m/%d/%Y}" if p.signed_at else ""),
                Column("By", lambda p: p.signed_by),
            ]
        )
        self.plans = make_table()
        self.plans.setModel(self.plans_model)
        self.plans.doubleClicked.connect(lambda _i: self._plan())
        right.addWidget(self.plans, 1)
        body.addLayout(right, 2)
        lay.addLayout(body, 1)

    def load(self, client_id: int) -> None:
        self.present(client_id, self.fetch(client_id))

    def fetch(self, client_id: int) -> safety.SafetyTabData | str:
        """Worker side of `load`: services only (a refusal's message instead of the data)."""
        try:
            return safety.chart_safety(self.ctx.db, self.ctx.actor, client_id)
        except UserError as exc:
            return exc.message

    def present(self, client_id: int, data: safety.SafetyTabData | str) -> None:
        self.client_id = client_id
        if isinstance(data, str):
            self.history.setPlainText(data)
            flags, screens, plans = [], [], []
        else:
            flags, screens, plans = data.flags, data.screens, data.plans
        self.flags_model.set_rows(flags)
        self.cssrs_model.set_rows(screens)
        self.plans_model.set_rows(plans)
        if flags:
            self.flags.selectRow(0)
        if plans:
            self.plans.selectRow(0)
        self._show_flag()

    def selected_flag(self) -> safety.FlagInfo | None:
        index = self.flags.currentIndex()
        if not index.isValid():
            return None
        return self.flags_model.row_at(index.row())

    def selected_plan(self) -> safety.SafetyPlanInfo | None:
        index = self.plans.currentIndex()
        if not index.isValid():
            return None
        return self.plans_model.row_at(index.row())

    def _show_flag(self) -> None:
        f = self.selected_flag()
        if f is None:
            self.history.setPlainText("No suicide-risk flag on record.")
            return
        lines = [
            f"Flag #{f.id}: {f.status}"
            + (f" - cleared: {f.clear_reason}" if f.clear_reason else ""),
            "Follow-up: " + ("done" if not f.followup_open else f"needs {f.followup_needs}"),
        ]
        if f.decision:
            lines.append(f"Decision: {f.decision}")
        lines.append("")
        for e in f.events:
            lines.append(
                f"{e.at:%m/%d/%Y %H:%M} UTC  {e.event}"
                + (f": {e.detail}" if e.detail else "")
                + (f"  ({e.by})" if e.by else "")
            )
        self.history.setPlainText("\n".join(lines))

    def reload(self) -> None:
        """Read the tab again on a worker (after a save)."""
        _reload(self)

    def _after(self) -> None:
        self.reload()
        self.changed.emit()

    def _run(self, dialog: QDialog) -> bool:
        ok = dialog.exec() == QDialog.DialogCode.Accepted
        if ok:
            self._after()
        return ok

    def _raise(self) -> None:
        if self.client_id is None:
            return
        cid = self.client_id
        self._run(
            ReasonDialog(
                "Raise suicide-risk flag",
                "Reason",
                lambda text: safety.raise_flag(self.ctx.db, self.ctx.actor, cid, text),
                self,
            )
        )

    def _need_flag(self) -> safety.FlagInfo | None:
        f = self.selected_flag()
        if f is None:
            msgbox.info(self, "Risk flags", "Select a risk flag first.")
        return f

    def _decision(self) -> None:
        f = self._need_flag()
        if f is None:
            return
        self._run(
            ReasonDialog(
                "Reasoned decision (no safety plan)",
                "Clinical reasoning",
                lambda text: safety.record_decision(
                    self.ctx.db, self.ctx.actor, f.id, f.version, text
                ),
                self,
            )
        )

    def _clear(self) -> None:
        f = self._need_flag()
        if f is None:
            return
        self._run(
            ReasonDialog(
                "Clear suicide-risk flag",
                "Reason for clearing",
                lambda text: safety.clear_flag(self.ctx.db, self.ctx.actor, f.id, f.version, text),
                self,
            )
        )

    def _cssrs(self) -> None:
        if self.client_id is not None:
            self._run(CssrsDialog(self.ctx, self.client_id, self))

    def _plan(self) -> None:
        if self.client_id is None:
            return
        current = self.selected_plan()
        draft = current if current is not None and current.status == "draft" else None
        if current is not None and draft is None and not self.ctx.can(Perm.CLINICAL_WRITE):
            return
        cid, ctx = self.client_id, self.ctx
        if draft is not None:
            self._run(SafetyPlanDialog(ctx, cid, draft, self))
            return
        # a new plan starts from what the chart knows (read first, then the dialog opens)
        self.last_op = ops.run(
            self,
            lambda: safety.new_plan_data(ctx.db, ctx.actor, cid),
            lambda data: self._run(SafetyPlanDialog(ctx, cid, None, self, new_data=data)),
        )

    def _print(self) -> None:
        p = self.selected_plan()
        if p is None:
            msgbox.info(self, "Safety plan", "There is no safety plan to print yet.")
            return
        path = ask_pdf_path(self, "Print safety plan", f"safety-plan-{p.id}.pdf")
        if not path:
            return
        ctx = self.ctx
        self.last_op = ops.run(
            self,
            lambda: safety.print_safety_plan(ctx.db, ctx.actor, p.id, path),
            lambda _r: _opened(path),
            progress="Writing the safety plan...",
        )


# -- medications -----------------------------------------------------------------------------
class MedicationDialog(_Dialog):
    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        med: medications.MedicationInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Change or stop medication" if med else "Add medication", "Save", parent)
        self.ctx, self.client_id, self.med = ctx, client_id, med
        self.resize(560, 460)
        self.name = QLineEdit(med.name if med else "")
        self.name.setObjectName("medName")
        self.dose = QLineEdit(med.dose if med else "")
        self.dose.setObjectName("medDose")
        self.route = QComboBox()
        self.route.setEditable(True)
        self.route.addItems(medications.ROUTES)
        self.route.setCurrentText(med.route if med else "oral")
        self.frequency = QLineEdit(med.frequency if med else "")
        self.frequency.setObjectName("medFrequency")
        self.prescriber = QLineEdit(med.prescriber if med else "")
        self.source = QComboBox()
        self.source.setEditable(True)
        self.source.addItems(medications.SOURCES)
        self.source.setCurrentText(med.source if med else "client report")
        self.has_start = QCheckBox("Known")
        self.start = _date_edit(med.start_date if med and med.start_date else None)
        self.has_start.setChecked(bool(med and med.start_date))
        self.stopped = QCheckBox("Stopped")
        self.stopped.setObjectName("medStopped")
        self.stop = _date_edit(med.stop_date if med and med.stop_date else None)
        self.stopped.setChecked(bool(med and med.stop_date))
        self.stop_reason = QLineEdit(med.stop_reason if med else "")
        self.stop_reason.setObjectName("medStopReason")
        for label, w in (
            ("Medication", self.name),
            ("Dose", self.dose),
            ("Route", self.route),
            ("Frequency", self.frequency),
            ("Prescriber", self.prescriber),
            ("Source", self.source),
        ):
            self.form.addRow(label, w)
        start_row = QHBoxLayout()
        start_row.addWidget(self.has_start)
        start_row.addWidget(self.start, 1)
        self.form.addRow("Start date", start_row)
        stop_row = QHBoxLayout()
        stop_row.addWidget(self.stopped)
        stop_row.addWidget(self.stop, 1)
        self.form.addRow("Stop date", stop_row)
        self.form.addRow("Reason stopped", self.stop_reason)

    def data(self) -> medications.MedicationInput:
        return medications.MedicationInput(
            self.name.text(),
            self.dose.text(),
            self.route.currentText(),
            self.frequency.text(),
            self.prescriber.text(),
            _pydate(self.start.date()) if self.has_start.isChecked() else None,
            _pydate(self.stop.date()) if self.stopped.isChecked() else None,
            self.stop_reason.text(),
            self.source.currentText(),
        )

    def accept_action(self) -> Callable[[], Any]:
        db, actor, data = self.ctx.db, self.ctx.actor, self.data()
        cid, med = self.client_id, self.med
        if med is None:
            return lambda: medications.add_medication(db, actor, cid, data)
        return lambda: medications.update_medication(db, actor, med.id, med.version, data)


class ReconcileDialog(_Dialog):
    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__("Reconcile medications", "Record reconciliation", parent)
        self.ctx, self.client_id = ctx, client_id
        self.occasion = QComboBox()
        self.occasion.setObjectName("reconcileOccasion")
        for value in medications.OCCASIONS:
            self.occasion.addItem(value.title(), value)
        self.on = _date_edit()
        self.note = QPlainTextEdit()
        self.note.setFixedHeight(70)
        self.form.addRow(muted("Review every medication on the list with the client first."))
        self.form.addRow("Occasion", self.occasion)
        self.form.addRow("Date", self.on)
        self.form.addRow("Note", self.note)

    def accept_action(self) -> Callable[[], Any]:
        db, actor, cid = self.ctx.db, self.ctx.actor, self.client_id
        occasion, on = str(self.occasion.currentData()), _pydate(self.on.date())
        note = self.note.toPlainText()
        return lambda: medications.reconcile(db, actor, cid, occasion, on, note)


class MedicationsTab(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.add_btn = QPushButton("Add medication...")
        self.add_btn.setObjectName("primary")
        self.edit_btn = QPushButton("Change or stop...")
        self.reconcile_btn = QPushButton("Reconcile...")
        for b, slot in (
            (self.add_btn, self._add),
            (self.edit_btn, self._edit),
            (self.reconcile_btn, self._reconcile),
        ):
            b.clicked.connect(slot)
            b.setVisible(ctx.can(Perm.CLINICAL_WRITE))
            bar.addWidget(b)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.model: RowsModel[medications.MedicationInfo] = RowsModel(
            [
                Column("Medication", lambda m: m.name),
                Column("Dose", lambda m: m.dose),
                Column("Route", lambda m: m.route),
                Column("Frequency", lambda m: m.frequency),
                Column("Prescriber", lambda m: m.prescriber),
                Column("Start", lambda m: _d(m.start_date)),
                Column(
                    "Stop",
                    lambda m: _d(m.stop_date) + (f" ({m.stop_reason})" if m.stop_reason else ""),
                    color=lambda m: "#5f6d7c" if m.stop_date else None,
                ),
                Column("Source", lambda m: m.source),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        self.table.doubleClicked.connect(lambda _i: self._edit())
        lay.addWidget(self.table, 2)
        self.due = QLabel("")
        self.due.setObjectName("reconciliationDue")
        self.due.setStyleSheet("color: #b00020; font-weight: 600;")
        lay.addWidget(self.due)
        lay.addWidget(section_title("Reconciliations"))
        self.recon = QPlainTextEdit()
        self.recon.setReadOnly(True)
        self.recon.setObjectName("reconciliations")
        lay.addWidget(self.recon, 1)

    def load(self, client_id: int) -> None:
        self.present(client_id, self.fetch(client_id))

    def fetch(self, client_id: int) -> tuple[Any, Any, str] | str:
        """Worker side of `load`: services only (a refusal's message instead of the data)."""
        try:
            return medications.chart_medications(self.ctx.db, self.ctx.actor, client_id)
        except UserError as exc:
            return exc.message

    def present(self, client_id: int, data: tuple[Any, Any, str] | str) -> None:
        self.client_id = client_id
        if isinstance(data, str):
            self.model.set_rows([])
            self.recon.setPlainText(data)
            return
        meds, recs, due = data
        self.model.set_rows(meds)
        self.table.resizeColumnsToContents()
        self.due.setText(due)
        self.due.setVisible(bool(due))
        lines = [
            f"{r.reconciled_on:%m/%d/%Y} {r.occasion} by {r.clinician}: "
            + r.medications_text.replace("\n", "; ")
            + (f"  Note: {r.note}" if r.note else "")
            for r in recs
        ]
        self.recon.setPlainText("\n".join(lines) or "Not reconciled yet (intake and discharge).")

    def _run(self, dialog: QDialog) -> None:
        if dialog.exec() == QDialog.DialogCode.Accepted:
            _reload(self)

    def _add(self) -> None:
        if self.client_id is not None:
            self._run(MedicationDialog(self.ctx, self.client_id, None, self))

    def _edit(self) -> None:
        index = self.table.currentIndex()
        if self.client_id is None or not index.isValid():
            return
        self._run(MedicationDialog(self.ctx, self.client_id, self.model.row_at(index.row()), self))

    def _reconcile(self) -> None:
        if self.client_id is not None:
            self._run(ReconcileDialog(self.ctx, self.client_id, self))


# -- drug screens ----------------------------------------------------------------------------
RESULT_CHOICES = ("not tested", *drugscreens.RESULTS)


class DrugScreenDialog(_Dialog):
    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__("Record drug screen", "Save", parent)
        self.ctx, self.client_id = ctx, client_id
        self.resize(760, 680)
        self.date = _date_edit()
        self.time = QLineEdit()
        self.time.setObjectName("screenTime")
        self.time.setPlaceholderText("HH:MM")
        self.observed = QCheckBox("Collection observed")
        self.observed.setObjectName("screenObserved")
        self.specimen = QComboBox()
        self.specimen.addItems(drugscreens.SPECIMENS)
        self.panel = QLineEdit()
        self.panel.setObjectName("screenPanel")
        self.panel.setPlaceholderText("e.g. 12-panel cup")
        self.testing = QComboBox()
        self.testing.setObjectName("screenTesting")
        for value, label in drugscreens.TESTING.items():
            self.testing.addItem(label, value)
        self.lab = QLineEdit()
        self.lab.setObjectName("screenLab")
        self.lab.setPlaceholderText("Laboratory name")
        for label, w in (
            ("Collected on", self.date),
            ("Time", self.time),
            ("", self.observed),
            ("Specimen", self.specimen),
            ("Panel", self.panel),
            ("Testing", self.testing),
            ("Laboratory", self.lab),
        ):
            self.form.addRow(label, w)
        grid = QGridLayout()
        self.results: dict[str, QComboBox] = {}
        for i, name in enumerate(drugscreens.COMMON_SUBSTANCES):
            combo = QComboBox()
            combo.setObjectName(f"result_{name}")
            combo.addItems(RESULT_CHOICES)
            grid.addWidget(QLabel(name), i // 2, (i % 2) * 2)
            grid.addWidget(combo, i // 2, (i % 2) * 2 + 1)
            self.results[name] = combo
        self.form.addRow(section_title("Results"))
        self.form.addRow(grid)
        self.all_negative = QPushButton("Set every tested substance negative")
        self.all_negative.clicked.connect(self._all_negative)
        self.form.addRow(self.all_negative)
        self.comment = QLineEdit()
        self.form.addRow("Comment", self.comment)

    def _all_negative(self) -> None:
        for combo in self.results.values():
            if combo.currentText() == "not tested":
                combo.setCurrentText("negative")

    def data(self) -> drugscreens.ScreenInput:
        raw = self.time.text().strip()
        at: time | None = None
        if raw:
            try:
                hh, mm = raw.split(":")
                at = time(int(hh), int(mm))
            except ValueError:
                raise ValidationError(
                    f"'{raw}' is not a time. Use HH:MM, e.g. 09:30.", {"time": "HH:MM"}
                ) from None
        return drugscreens.ScreenInput(
            _pydate(self.date.date()),
            at,
            self.observed.isChecked(),
            self.specimen.currentText(),
            self.panel.text(),
            str(self.testing.currentData()),
            self.lab.text(),
            [
                drugscreens.ResultInput(name, combo.currentText())
                for name, combo in self.results.items()
                if combo.currentText() != "not tested"
            ],
            self.comment.text(),
        )

    def accept_action(self) -> Callable[[], Any]:
        db, actor, cid, data = self.ctx.db, self.ctx.actor, self.client_id, self.data()
        return lambda: drugscreens.record_screen(db, actor, cid, data)


class DrugScreensTab(QWidget):
    """The client's drug-screen timeline, newest first."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.add_btn = QPushButton("Record screen...")
        self.add_btn.setObjectName("primary")
        self.review_btn = QPushButton("Mark reviewed")
        for b, slot in ((self.add_btn, self._add), (self.review_btn, self._review)):
            b.clicked.connect(slot)
            b.setVisible(ctx.can(Perm.CLINICAL_WRITE))
            bar.addWidget(b)
        bar.addStretch(1)
        category = QLabel("Disclosure category: drug_screens (42 CFR Part 2)")
        category.setObjectName("subtitle")
        bar.addWidget(category)
        lay.addLayout(bar)
        self.model: RowsModel[drugscreens.ScreenInfo] = RowsModel(
            [
                Column(
                    "Collected",
                    lambda s: (
                        _d(s.collected_date)
                        + (f" {s.collected_time:%H:%M}" if s.collected_time else "")
                    ),
                    sort_key=lambda s: (s.collected_date, s.collected_time or time(0)),
                ),
                Column("Specimen", lambda s: s.specimen),
                Column("Observed", lambda s: "Yes" if s.observed else "No"),
                Column("Panel", lambda s: s.panel),
                Column(
                    "Testing",
                    lambda s: (
                        drugscreens.TESTING.get(s.testing, s.testing)
                        + (f" ({s.lab_name})" if s.lab_name else "")
                    ),
                ),
                Column(
                    "Results",
                    lambda s: s.summary,
                    color=lambda s: "#b00020" if s.summary != "All negative" else "#2e7d32",
                ),
                Column("Reviewed by", lambda s: s.reviewed_by or "Not reviewed"),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        self.table.clicked.connect(lambda _i: self._show())
        lay.addWidget(self.table, 2)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        lay.addWidget(self.detail, 1)

    def load(self, client_id: int) -> None:
        self.present(client_id, self.fetch(client_id))

    def fetch(self, client_id: int) -> Any:
        """Worker side of `load`: services only (a refusal's message instead of the rows)."""
        try:
            return drugscreens.list_screens(self.ctx.db, self.ctx.actor, client_id)
        except UserError as exc:
            return exc.message

    def present(self, client_id: int, rows: Any) -> None:
        self.client_id = client_id
        if isinstance(rows, str):
            self.model.set_rows([])
            self.detail.setPlainText(rows)
            return
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        self.detail.setPlainText("" if rows else "No drug screens on record.")

    def _selected(self) -> drugscreens.ScreenInfo | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def _show(self) -> None:
        s = self._selected()
        if s is None:
            return
        lines = [f"{r.substance}: {r.result}" for r in s.results]
        if s.comment:
            lines.append(f"Comment: {s.comment}")
        if s.collected_by:
            lines.append(f"Collected by {s.collected_by}")
        self.detail.setPlainText("\n".join(lines))

    def _add(self) -> None:
        if self.client_id is None:
            return
        if DrugScreenDialog(self.ctx, self.client_id, self).exec() == QDialog.DialogCode.Accepted:
            _reload(self)

    def _review(self) -> None:
        s = self._selected()
        if s is None or self.client_id is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self.review_btn.setEnabled(False)
        self.last_op = (
            ops.Op(self, lambda: drugscreens.review_screen(db, actor, s.id, s.version))
            .success(lambda _r: _reload(self))
            .on_stale(lambda: _reload(self))
            .on_done(lambda: self.review_btn.setEnabled(True))
            .run_in_background()
        )


# -- ASAM ------------------------------------------------------------------------------------
class AsamDialog(_Dialog):
    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__("ASAM dimensions", "Save", parent)
        self.ctx, self.client_id = ctx, client_id
        self.resize(880, 620)
        self.date = _date_edit()
        self.occasion = QComboBox()
        self.occasion.setObjectName("asamOccasion")
        for value, label in asam.OCCASIONS.items():
            self.occasion.addItem(label, value)
        self.form.addRow("Date", self.date)
        self.form.addRow("Occasion", self.occasion)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Dimension</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Risk 0-4</b>"), 0, 1)
        grid.addWidget(QLabel("<b>Note (needed at 2 or more)</b>"), 0, 2)
        self.ratings: list[QSpinBox] = []
        self.notes: list[QLineEdit] = []
        for n, name in enumerate(asam.DIMENSIONS, start=1):
            dim = QLabel(f"{n}. {name}")
            dim.setWordWrap(True)
            spin = QSpinBox()
            spin.setRange(0, 4)
            spin.setMinimumWidth(64)
            spin.setObjectName(f"asam_d{n}")
            note = QLineEdit()
            note.setObjectName(f"asam_note{n}")
            grid.addWidget(dim, n, 0)
            grid.addWidget(spin, n, 1)
            grid.addWidget(note, n, 2)
            self.ratings.append(spin)
            self.notes.append(note)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(2, 4)
        self.form.addRow(grid)
        self.recommended = QComboBox()
        self.recommended.setObjectName("asamRecommended")
        self.placed = QComboBox()
        self.placed.addItem("Same as recommended", "")
        for value, label in asam.LEVELS.items():
            self.recommended.addItem(label, value)
            self.placed.addItem(label, value)
        self.recommended.setCurrentIndex(list(asam.LEVELS).index("2.1"))
        self.variance = QLineEdit()
        self.form.addRow("Recommended level of care", self.recommended)
        self.form.addRow("Placed in", self.placed)
        self.form.addRow("Reason for a different level", self.variance)

    def accept_action(self) -> Callable[[], Any]:
        ratings = tuple(s.value() for s in self.ratings)
        notes = tuple(n.text() for n in self.notes)
        data = asam.AsamInput(
            _pydate(self.date.date()),
            str(self.occasion.currentData()),
            ratings,  # type: ignore[arg-type]
            notes,  # type: ignore[arg-type]
            str(self.recommended.currentData()),
            str(self.placed.currentData() or ""),
            self.variance.text(),
        )
        db, actor, cid = self.ctx.db, self.ctx.actor, self.client_id
        return lambda: asam.record_asam(db, actor, cid, data)


def _rating_of(n: int) -> Callable[[asam.AsamInfo], str]:
    return lambda a: str(a.ratings[n])


class AsamTab(QWidget):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.add_btn = QPushButton("Record ASAM dimensions...")
        self.add_btn.setObjectName("primary")
        self.add_btn.clicked.connect(self._add)
        self.add_btn.setVisible(ctx.can(Perm.CLINICAL_WRITE))
        bar.addWidget(self.add_btn)
        bar.addStretch(1)
        lay.addLayout(bar)
        cols: list[Column[asam.AsamInfo]] = [
            Column("Date", lambda a: _d(a.assessed_on), sort_key=lambda a: a.assessed_on),
            Column("Occasion", lambda a: asam.OCCASIONS.get(a.occasion, a.occasion)),
        ]
        for n in range(6):
            cols.append(Column(f"D{n + 1}", _rating_of(n), align_right=True))
        cols += [
            Column("Recommended", lambda a: a.recommended_label),
            Column("Placed", lambda a: a.placed_label or "as recommended"),
            Column("By", lambda a: a.clinician),
        ]
        self.model: RowsModel[asam.AsamInfo] = RowsModel(cols)
        self.table = make_table()
        self.table.setModel(self.model)
        self.table.clicked.connect(lambda _i: self._show())
        self.due = QLabel("")
        self.due.setObjectName("asamDue")
        self.due.setStyleSheet("color: #b00020; font-weight: 600;")
        lay.addWidget(self.due)
        lay.addWidget(self.table, 1)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setObjectName("asamDetail")
        lay.addWidget(self.detail, 1)

    def load(self, client_id: int) -> None:
        self.present(client_id, self.fetch(client_id))

    def fetch(self, client_id: int) -> tuple[Any, str] | str:
        """Worker side of `load`: services only (a refusal's message instead of the data)."""
        try:
            return asam.chart_asam(self.ctx.db, self.ctx.actor, client_id)
        except UserError as exc:
            return exc.message

    def present(self, client_id: int, data: tuple[Any, str] | str) -> None:
        self.client_id = client_id
        if isinstance(data, str):
            self.model.set_rows([])
            self.detail.setPlainText(data)
            return
        rows, due = data
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        self.due.setText(due)
        self.due.setVisible(bool(due))
        if rows:
            self.table.selectRow(0)
            self._show()
        else:
            self.detail.setPlainText(
                "No ASAM dimensions recorded. Rate them at admission and at each plan review."
            )

    def _show(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        a = self.model.row_at(index.row())
        lines = [
            f"{n}. {name}: {a.ratings[n - 1]}" + (f" - {a.notes[n - 1]}" if a.notes[n - 1] else "")
            for n, name in enumerate(asam.DIMENSIONS, start=1)
        ]
        lines.append(f"Recommended level of care: {a.recommended_label}")
        if a.placed_level and a.placed_level != a.recommended_level:
            lines.append(f"Placed in {a.placed_label}: {a.variance_reason}")
        self.detail.setPlainText("\n".join(lines))

    def _add(self) -> None:
        if self.client_id is None:
            return
        if AsamDialog(self.ctx, self.client_id, self).exec() == QDialog.DialogCode.Accepted:
            _reload(self)


# -- hours override --------------------------------------------------------------------------
class HoursOverrideDialog(_Dialog):
    """Set the client's required weekly hours until an end date (then the track's apply)."""

    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        version: int,
        parent: QWidget | None = None,
        *,
        current: overrides.HoursOverride | None = None,
    ) -> None:
        """`current`: the override in force (`overrides.current_override`, read by the caller
        on a worker before the dialog opens; the chart does)."""
        super().__init__("Weekly hours override", "Save override", parent)
        self.ctx, self.client_id, self.version = ctx, client_id, version
        self.resize(520, 320)
        self.hours = QLineEdit(f"{current.hours:.2f}" if current else "")
        self.hours.setObjectName("overrideHours")
        self.until = _date_edit(current.until if current and current.until else None)
        self.until.setObjectName("overrideUntil")
        self.reason = QLineEdit(current.reason if current else "")
        self.reason.setObjectName("overrideReason")
        self.form.addRow(
            muted("The track's required hours apply again the day after the end date.")
        )
        self.form.addRow("Required hours a week", self.hours)
        self.form.addRow("Last day it applies", self.until)
        self.form.addRow("Clinical reason", self.reason)

    def accept_action(self) -> Callable[[], Any]:
        hours: Decimal = overrides.parse_hours(self.hours.text())
        db, actor, cid, version = self.ctx.db, self.ctx.actor, self.client_id, self.version
        until, reason = _pydate(self.until.date()), self.reason.text()
        return lambda: overrides.set_hours_override(db, actor, cid, version, hours, until, reason)


__all__ = [
    "AsamTab",
    "CssrsDialog",
    "DrugScreensTab",
    "HoursOverrideDialog",
    "MedicationsTab",
    "Qt",
    "RiskBanner",
    "SafetyPlanDialog",
    "SafetyTab",
]
