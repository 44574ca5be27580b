"""Discharge: the work list page, the guided discharge dialog, the aftercare plan editor, the
chart's Discharge tab and printing the packet. All data goes through services."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.services import aftercare, discharge
from iopdesk.services.aftercare import (
    AftercareData,
    AppointmentItem,
    ContactItem,
    CrisisItem,
    GroupItem,
    MedicationItem,
    PlanView,
)
from iopdesk.services.permissions import Perm
from iopdesk.ui import files, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.forms import submit
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

# Tests switch this off: after saving, the packet opens in the system PDF viewer to preview
# and print.
OPEN_AFTER_PRINT = True


def _qdate(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def _text_edit(text: str = "", placeholder: str = "", height: int = 90) -> QPlainTextEdit:
    edit = QPlainTextEdit(text)
    edit.setPlaceholderText(placeholder)
    edit.setMinimumHeight(height)
    edit.setTabChangesFocus(True)
    return edit


# -- printing -----------------------------------------------------------------------------------
class PrintDialog(QDialog):
    """Who receives the packet, its language, and where the PDF goes."""

    def __init__(self, ctx: AppContext, view: PlanView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.view = view
        self.result_: aftercare.PrintResult | None = None
        self.setWindowTitle("IOPDesk - Print aftercare packet")
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        lay.addWidget(section_title(f"Aftercare packet: {view.client_name} ({view.mrn})"))
        if not view.finalized:
            lay.addWidget(muted("This plan is a draft: the packet prints marked DRAFT."))
        if view.part2:
            lay.addWidget(
                muted(
                    "42 CFR Part 2 record: the notice prints on every page and the packet is "
                    "entered in the accounting of disclosures."
                )
            )
        form = QFormLayout()
        self.given_to = QComboBox()
        self.given_to.addItem("The client (their own copy)", "client_copy")
        self.given_to.addItem("Another provider or person (disclosure)", "disclosure")
        self.given_to.currentIndexChanged.connect(self._kind_changed)
        form.addRow("Given to", self.given_to)
        from iopdesk.ui.pages.privacy import RecipientPicker

        self.recipient = RecipientPicker(ctx)
        self.purpose = QLineEdit("treatment")
        self.purpose.setObjectName("purpose")
        self.leave_out_meds = QCheckBox(
            "Leave out the medications (the consent does not cover them)"
        )
        self.leave_out_meds.setObjectName("leaveOutMedications")
        form.addRow("Recipient", self.recipient)
        form.addRow("Purpose", self.purpose)
        form.addRow("", self.leave_out_meds)
        self.language = QComboBox()
        client_lang = "Spanish" if view.language == "es" else "English"
        self.language.addItem(f"Client's language ({client_lang})", view.language)
        self.language.addItem("English", "en")
        self.language.addItem("Spanish", "es")
        form.addRow("Language", self.language)
        row = QHBoxLayout()
        safe = "".join(ch for ch in view.mrn if ch.isalnum() or ch in "-_")
        self.path = QLineEdit(str(files.default_path(f"aftercare-{safe}.pdf")))
        self.path.setObjectName("savePath")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Save to", row)
        lay.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.to_printer = buttons.addButton(
            "Save and print...", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.to_printer.clicked.connect(lambda: self.do_print(send_to_printer=True))
        self.ok = buttons.addButton("Save and open", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("primary")
        buttons.accepted.connect(self.do_print)
        self.last_op: ops.Op[Any] | None = None
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._kind_changed()

    def _kind_changed(self) -> None:
        other = self.given_to.currentData() == "disclosure"
        self.recipient.setEnabled(other)
        self.purpose.setEnabled(other)
        self.leave_out_meds.setEnabled(other)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save aftercare packet", self.path.text(), "PDF (*.pdf)"
        )
        if path:
            self.path.setText(path if path.lower().endswith(".pdf") else path + ".pdf")

    def do_print(self, send_to_printer: bool = False) -> None:
        """Save the packet (audited), then open it in the PDF viewer (preview, print from
        there) or send it to a printer chosen in the print dialog."""
        from iopdesk.services.disclosures import CLIENT_COPY, ConsentRequired, Release

        release = CLIENT_COPY
        leave_out: tuple[str, ...] = ()
        if self.given_to.currentData() == "disclosure":
            picked = self.recipient.selected()
            release = Release(
                "disclosure",
                picked.name if picked else self.recipient.text(),
                self.purpose.text(),
                picked.id if picked else None,
            )
            if self.leave_out_meds.isChecked():
                leave_out = ("medications",)
        db, actor, plan_id = self.ctx.db, self.ctx.actor, self.view.id
        path, language = Path(self.path.text().strip()), self.language.currentData()

        def work() -> aftercare.PrintResult:
            try:
                return aftercare.print_packet(
                    db, actor, plan_id, path, release=release, language=language,
                    leave_out=leave_out,
                )  # fmt: skip
            except ConsentRequired as exc:
                # offer the honest reduction the refusal names (never applied silently)
                raise UserError(
                    exc.message.replace(
                        "--leave-out medications", "tick 'Leave out the medications'"
                    )
                ) from None

        self.error.setText("")
        self.last_op = submit(
            self,
            work,
            lambda result: self._printed(result, send_to_printer),
            show_error=self.error.setText,
            busy=[self.ok, self.to_printer],
        )

    def _printed(self, result: aftercare.PrintResult, send_to_printer: bool) -> None:
        self.result_ = result
        if send_to_printer:
            from PySide6.QtPrintSupport import QPrintDialog, QPrinter

            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            dialog = QPrintDialog(printer, self)
            if dialog.exec() == QDialog.DialogCode.Accepted:
                try:
                    render_to_printer(self.result_.path, printer)
                except UserError as exc:
                    self.error.setText(exc.message)
                    return
        else:
            opened = OPEN_AFTER_PRINT and files.open_saved(self, self.result_.path, "packet")
            msgbox.info(
                self,
                "Aftercare packet saved",
                f"The aftercare packet was saved to {self.result_.path}"
                + (" and opened." if opened else "."),
            )
        self.accept()


def render_to_printer(pdf: Path, printer: Any) -> int:
    """Paint each page of the saved packet onto a QPrinter (QtPdf renders the pages at the
    printer's resolution). Returns the number of pages sent."""
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtPdf import QPdfDocument

    doc = QPdfDocument()
    doc.load(str(pdf))
    if doc.status() != QPdfDocument.Status.Ready:
        raise UserError(f"The packet {pdf.name} could not be opened for printing.")
    painter = QPainter()
    if not painter.begin(printer):
        raise UserError("The printer could not be started. Check it is connected and on.")
    try:
        for i in range(doc.pageCount()):
            if i:
                printer.newPage()
            area = painter.viewport()
            size = doc.pagePointSize(i)
            scale = min(area.width() / size.width(), area.height() / size.height())
            w, h = int(size.width() * scale), int(size.height() * scale)
            # rendered at no more than 300 dpi (plenty for text), then scaled to the page
            dpi = min(300.0, w / size.width() * 72)
            pixels = QSize(int(size.width() * dpi / 72), int(size.height() * dpi / 72))
            painter.drawImage(QRect(area.x(), area.y(), w, h), doc.render(i, pixels))
    finally:
        painter.end()
    return int(doc.pageCount())


def print_plan(ctx: AppContext, plan_id: int, parent: QWidget | None) -> ops.Op[PlanView]:
    """Read the packet's cover on a worker, then ask who receives it (PrintDialog)."""
    db, actor = ctx.db, ctx.actor
    return ops.run(
        parent,
        lambda: aftercare.print_cover(db, actor, plan_id),
        lambda view: PrintDialog(ctx, view, parent).exec(),
    )


# -- the guided discharge -----------------------------------------------------------------------
STEPS = ("Date and type", "Progress on goals", "Next level of care", "Review")


def read_discharge(ctx: AppContext, client_id: int) -> tuple[discharge.DischargeStart, str]:
    """Worker side of opening the guided discharge: what it starts from, and the risk banner's
    text ("" when none)."""
    from iopdesk.services import safety

    start = discharge.prepare_discharge(ctx.db, ctx.actor, client_id)
    try:
        banner = safety.banner(ctx.db, ctx.actor, client_id).text
    except UserError:
        banner = ""
    return start, banner


class DischargeDialog(QDialog):
    """Four steps: date/type/reason, progress per plan goal, next level of care, review.

    `read`: what `read_discharge` read on a worker (the screens open it that way); without it
    the dialog reads here (tests and the screenshot tool build it directly)."""

    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        parent: QWidget | None = None,
        read: tuple[discharge.DischargeStart, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        if read is None:
            read = read_discharge(ctx, client_id)
        self.start, banner = read
        self.result_: discharge.DischargeResult | None = None
        self.last_op: ops.Op[Any] | None = None
        s = self.start
        self.setWindowTitle(f"IOPDesk - Discharge {s.name}")
        self.resize(760, 560)
        lay = QVBoxLayout(self)
        head = QLabel(f"Discharge {s.name}  ·  MRN {s.mrn}")
        head.setObjectName("pageTitle")
        lay.addWidget(head)
        from iopdesk.ui.pages.safety import RiskBanner

        self.risk_banner = RiskBanner()
        self.risk_banner.show_text(banner)
        lay.addWidget(self.risk_banner)
        self.step_label = muted("")
        lay.addWidget(self.step_label)
        self.pages = QStackedWidget()
        lay.addWidget(self.pages, 1)

        # 1 date, type, reason
        p1 = QWidget()
        f1 = QFormLayout(p1)
        self.date = DateEdit(s.default_date, maximum=s.default_date, label="The discharge date")
        self.date.setObjectName("discharge_date")
        f1.addRow("Discharge date", self.date)
        self.type = QComboBox()
        for value, label in discharge.TYPE_LABELS.items():
            teds = discharge.TEDS_LABELS[discharge.teds_reason(value)]
            self.type.addItem(f"{label}  (TEDS: {teds})", value)
        f1.addRow("Type of discharge", self.type)
        self.reason = _text_edit(placeholder="Why the client is leaving the program", height=70)
        f1.addRow("Reason", self.reason)
        facts = []
        if s.admission_date:
            facts.append(f"Admitted {s.admission_date:%m/%d/%Y}.")
        if s.last_attended:
            facts.append(f"Last attended {s.last_attended:%m/%d/%Y}.")
        f1.addRow("", muted(" ".join(facts)))
        self.pages.addWidget(p1)

        # 2 progress per goal
        p2 = QWidget()
        l2 = QVBoxLayout(p2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        f2 = QVBoxLayout(inner)
        self.goal_edits: list[tuple[discharge.GoalInfo, QPlainTextEdit]] = []
        if not s.goals:
            f2.addWidget(muted("No treatment-plan goals are on record for this episode."))
        for g in s.goals:
            goal_label = QLabel(f"<b>Goal:</b> {html.escape(g.text)}")
            goal_label.setWordWrap(True)
            f2.addWidget(goal_label)
            edit = _text_edit(placeholder="Progress and gains toward this goal", height=70)
            f2.addWidget(edit)
            self.goal_edits.append((g, edit))
        f2.addWidget(QLabel("<b>Summary of treatment</b>"))
        self.summary = _text_edit(placeholder="Overall course of treatment", height=90)
        f2.addWidget(self.summary)
        f2.addStretch(1)
        scroll.setWidget(inner)
        l2.addWidget(scroll)
        self.pages.addWidget(p2)

        # 3 next level of care
        p3 = QWidget()
        f3 = QFormLayout(p3)
        self.level = QComboBox()
        self.level.setEditable(True)
        self.level.addItem("")
        self.level.addItems(discharge.LEVELS_OF_CARE)
        f3.addRow("Next level of care", self.level)
        self.provider = QLineEdit()
        self.provider.setPlaceholderText("Receiving provider or program")
        f3.addRow("Receiving provider", self.provider)
        self.pages.addWidget(p3)

        # 4 review
        p4 = QWidget()
        l4 = QVBoxLayout(p4)
        self.review = QLabel("")
        self.review.setWordWrap(True)
        self.review.setTextFormat(Qt.TextFormat.RichText)
        l4.addWidget(self.review)
        l4.addStretch(1)
        self.pages.addWidget(p4)

        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        self.back = QPushButton("Back")
        self.back.clicked.connect(lambda: self.go(self.pages.currentIndex() - 1))
        self.next = QPushButton("Next")
        self.next.clicked.connect(lambda: self.go(self.pages.currentIndex() + 1))
        self.finish = QPushButton("Discharge client")
        self.finish.setObjectName("primary")
        self.finish.clicked.connect(self.submit)
        self.cancel_btn = cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons.addWidget(cancel)
        buttons.addStretch(1)
        for b in (cancel, self.back, self.next, self.finish):
            b.setAutoDefault(False)
        for b in (self.back, self.next, self.finish):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.go(0)

    def data(self) -> discharge.DischargeInput:
        return discharge.DischargeInput(
            discharge_date=_pydate(self.date.date()),
            discharge_type=str(self.type.currentData()),
            reason=self.reason.toPlainText(),
            summary=self.summary.toPlainText(),
            step_down_level=self.level.currentText(),
            receiving_provider=self.provider.text(),
            goals=[
                discharge.GoalProgressInput(g.goal_id, g.text, e.toPlainText())
                for g, e in self.goal_edits
            ],
        )

    def go(self, index: int) -> None:
        index = max(0, min(index, len(STEPS) - 1))
        self.pages.setCurrentIndex(index)
        self.step_label.setText(f"Step {index + 1} of {len(STEPS)}: {STEPS[index]}")
        self.back.setEnabled(index > 0)
        self.next.setVisible(index < len(STEPS) - 1)
        self.finish.setVisible(index == len(STEPS) - 1)
        if index == len(STEPS) - 1:
            self._fill_review()

    def _fill_review(self) -> None:
        d = self.data()
        s = self.start
        filled = sum(1 for g in d.goals if g.progress.strip())
        lines = [
            f"<b>{discharge.type_label(d.discharge_type)}</b> on {d.discharge_date:%m/%d/%Y}.",
            f"Progress entered for {filled} of {len(d.goals)} plan goals.",
            f"Next level of care: {d.step_down_level or '-'}; receiving provider: "
            f"{d.receiving_provider or '-'}.",
            "<br><b>What happens when you press Discharge client:</b>",
            f"• {s.enrollments} program enrollment(s) and {s.assignments} care-team "
            "assignment(s) end on the discharge date.",
            f"• Booked sessions after the discharge date are cancelled (now {s.future_sessions} "
            "after today); group rosters drop the client.",
            "• Attendance, notes and billing stay exactly as they are.",
            "• A draft aftercare plan opens for the client's take-home packet.",
        ]
        self.review.setText("<br>".join(lines))

    STEP_OF_FIELD = {
        "discharge_date": 0,
        "discharge_type": 0,
        "reason": 0,
        "step_down_level": 2,
    }

    def submit(self) -> ops.Op[Any] | None:
        """Discharge in the background (buttons off meanwhile); the dialog closes when it went
        through. A refusal shows on the error line and goes to the step of the field it names,
        with everything typed kept. Returns the op (None: refused before saving)."""
        try:
            self.date.value()  # a discharge date typed but not a date is refused in words
            data = self.data()
        except UserError as exc:
            self._refused(exc)
            return None
        db, actor, start = self.ctx.db, self.ctx.actor, self.start
        self.error.setText("")

        def work() -> discharge.DischargeResult:
            return discharge.discharge_client(
                db, actor, start.client_id, start.client_version, data
            )

        def failed(exc: BaseException) -> None:
            if isinstance(exc, UserError):  # its fields name the step to show
                self._refused(exc)
            else:
                ops.report_failure(self, exc)

        op = submit(
            self, work, self._discharged, busy=[self.finish, self.back, self.next, self.cancel_btn]
        )
        self.last_op = op.failure(failed)
        return op

    def _refused(self, exc: UserError) -> None:
        self.error.setText(exc.message)
        if isinstance(exc, ValidationError):
            first = next(iter(exc.fields), "")
            self.go(self.STEP_OF_FIELD.get(first, 1 if first.startswith("goal") else 3))

    def _discharged(self, result: discharge.DischargeResult) -> None:
        self.result_ = result
        self.accept()


# -- the aftercare editor -----------------------------------------------------------------------
# (editor attribute, tab title, columns: (header, item field), item class, clinic list)
LIST_TABS: tuple[tuple[str, str, tuple[tuple[str, str], ...], Any, str], ...] = (
    (
        "appointments",
        "Appointments",
        (
            ("Provider", "provider"),
            ("Type", "appointment_type"),
            ("Date (MM/DD/YYYY)", "appointment_date"),
            ("Time (e.g. 2:30 PM)", "appointment_time"),
            ("Address", "address"),
            ("Phone", "phone"),
        ),
        AppointmentItem,
        "common_referrals",
    ),
    (
        "medications",
        "Medications",
        (
            ("Medication", "name"),
            ("Dose", "dose"),
            ("Schedule", "schedule"),
            ("Prescriber", "prescriber"),
        ),
        MedicationItem,
        "",
    ),
    (
        "groups",
        "Support groups",
        (("Group", "name"), ("Day", "day"), ("Time", "meeting_time"), ("Place or link", "place")),
        GroupItem,
        "local_meetings",
    ),
    (
        "contacts",
        "People to call",
        (("Name", "name"), ("Relationship", "relationship"), ("Phone", "phone")),
        ContactItem,
        "",
    ),
    (
        "crisis",
        "Crisis resources",
        (("Resource", "name"), ("How to reach", "contact"), ("About", "description")),
        CrisisItem,
        "crisis_resources",
    ),
)
ID_ROLE = Qt.ItemDataRole.UserRole + 10


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value:%m/%d/%Y}"
    if isinstance(value, time):
        hour = value.hour % 12 or 12
        return f"{hour}:{value:%M} {'AM' if value.hour < 12 else 'PM'}"
    return str(value)


def parse_date(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date; use MM/DD/YYYY.")


def parse_time(text: str) -> time | None:
    text = text.strip().upper().replace(".", "")
    if not text:
        return None
    for fmt in ("%I:%M %p", "%I %p", "%H:%M", "%I:%M%p", "%I%p"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a time; use e.g. 2:30 PM or 14:30.")


class ListTab(QWidget):
    def __init__(
        self,
        ctx: AppContext,
        columns: tuple[tuple[str, str], ...],
        cls: Any,
        clinic_list: str,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.columns = columns
        self.cls = cls
        self.clinic_list = clinic_list
        lay = QVBoxLayout(self)
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels([h for h, _ in columns])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.add_btn = QPushButton("Add row")
        self.add_btn.clicked.connect(lambda: self.add_item(None))
        self.remove_btn = QPushButton("Remove row")
        self.remove_btn.clicked.connect(self.remove_selected)
        for b in (self.add_btn, self.remove_btn):
            b.setAutoDefault(False)
            row.addWidget(b)
        self.pick_btn: QPushButton | None = None
        if clinic_list:
            label = aftercare.CLINIC_LISTS[clinic_list]
            self.pick_btn = QPushButton(f"Add from {label.lower()}...")
            self.pick_btn.clicked.connect(self.pick)
            self.pick_btn.setAutoDefault(False)
            row.addWidget(self.pick_btn)
        row.addStretch(1)
        lay.addLayout(row)

    def set_items(self, items: list[Any]) -> None:
        self.table.setRowCount(0)
        for item in items:
            self.add_item(item)
        self.table.resizeRowsToContents()

    def add_item(self, item: Any) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, (_, name) in enumerate(self.columns):
            cell = QTableWidgetItem(_cell_text(getattr(item, name)) if item is not None else "")
            if c == 0:
                cell.setData(ID_ROLE, getattr(item, "id", None) if item is not None else None)
            self.table.setItem(r, c, cell)
        if item is None:
            self.table.setCurrentCell(r, 0)

    def remove_selected(self) -> None:
        r = self.table.currentRow()
        if r >= 0:
            self.table.removeRow(r)

    def set_editable(self, editable: bool) -> None:
        triggers = (
            QAbstractItemView.EditTrigger.AllEditTriggers
            if editable
            else QAbstractItemView.EditTrigger.NoEditTriggers
        )
        self.table.setEditTriggers(triggers)
        for b in (self.add_btn, self.remove_btn, self.pick_btn):
            if b is not None:
                b.setEnabled(editable)

    def items(self, label: str) -> list[Any]:
        result = []
        for r in range(self.table.rowCount()):
            values: dict[str, Any] = {}
            for c, (header, name) in enumerate(self.columns):
                cell = self.table.item(r, c)
                text = cell.text() if cell is not None else ""
                try:
                    if name == "appointment_date":
                        values[name] = parse_date(text)
                    elif name == "appointment_time":
                        values[name] = parse_time(text)
                    else:
                        values[name] = text
                except ValueError as exc:
                    raise ValidationError(f"{label}, row {r + 1}, {header}: {exc}") from None
            if not any(v for v in values.values()):
                continue  # a blank row the user added and left empty
            first = self.table.item(r, 0)
            values["id"] = first.data(ID_ROLE) if first is not None else None
            result.append(self.cls(**values))
        return result

    def pick(self) -> ops.Op[Any]:
        """Read the clinic list on a worker, then offer its entries."""
        db, actor, name = self.ctx.db, self.ctx.actor, self.clinic_list
        button = self.pick_btn
        if button is not None:
            button.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            if button is not None and alive(button):
                button.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, lambda: aftercare.list_clinic_items(db, actor, name))
        self.last_op = op.success(self._offer).on_done(enable).run_in_background()
        return op

    def _offer(self, entries: list[aftercare.ListEntry]) -> None:
        if not entries:
            msgbox.info(
                self,
                "Clinic list is empty",
                "Nothing is on this clinic list yet. Add entries with 'Clinic lists...' on the "
                "Discharge page.",
            )
            return
        dialog = PickDialog([e.label for e in entries], self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        for i in dialog.chosen():
            self.add_item(entry_to_item(entries[i], self.cls))


def entry_to_item(entry: aftercare.ListEntry, cls: Any) -> Any:
    d = entry.data
    if cls is GroupItem:
        return GroupItem(
            entry.label, d.get("day", ""), d.get("time", d.get("meeting_time", "")),
            d.get("place", ""),
        )  # fmt: skip
    if cls is CrisisItem:
        return CrisisItem(entry.label, d.get("contact", ""), d.get("description", ""))
    if cls is AppointmentItem:
        return AppointmentItem(
            entry.label, d.get("type", ""), None, None, d.get("address", ""), d.get("phone", "")
        )
    return cls(entry.label)


class PickDialog(QDialog):
    def __init__(self, labels: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("IOPDesk - Pick from the clinic list")
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        for text in labels:
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        lay.addWidget(self.list)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def chosen(self) -> list[int]:
        return [
            i
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]


class AftercareEditor(QDialog):
    """Edit, save, finalize (sign), reopen and print one aftercare plan."""

    TEXTS = (
        ("triggers", "Triggers and high-risk situations"),
        ("warning_signs", "Warning signs"),
        ("coping_strategies", "Coping strategies"),
        ("client_goals", "Client goals"),
        ("strengths", "Strengths"),
    )

    def __init__(
        self,
        ctx: AppContext,
        plan_id: int,
        parent: QWidget | None = None,
        view: PlanView | None = None,
    ) -> None:
        """`view`: the plan read on a worker (`open_editor` does); without it the plan is read
        here (tests and the screenshot tool build the editor directly)."""
        super().__init__(parent)
        self.ctx = ctx
        self.plan_id = plan_id
        self.can_edit = ctx.can(Perm.DISCHARGE_MANAGE)
        self.last_op: ops.Op[Any] | None = None
        self.resize(1000, 640)
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = QLabel("")
        self.title.setObjectName("pageTitle")
        self.status = QLabel("")
        self.status.setObjectName("demoBadge")
        top.addWidget(self.title, 1)
        top.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        self.subtitle = muted("")
        lay.addWidget(self.subtitle)
        self.tabs = QTabWidget()
        self.lists: dict[str, tuple[ListTab, str]] = {}
        for attr, title, columns, cls, clinic_list in LIST_TABS:
            tab = ListTab(ctx, columns, cls, clinic_list)
            self.lists[attr] = (tab, title)
            self.tabs.addTab(tab, title)
        self.texts: dict[str, QPlainTextEdit] = {}
        relapse = QWidget()
        rl = QVBoxLayout(relapse)
        for key, label in self.TEXTS[:3]:
            rl.addWidget(QLabel(f"<b>{label}</b>"))
            self.texts[key] = _text_edit(height=80)
            rl.addWidget(self.texts[key])
        self.tabs.insertTab(3, relapse, "Relapse prevention")
        goals = QWidget()
        gl = QVBoxLayout(goals)
        for key, label in self.TEXTS[3:]:
            gl.addWidget(QLabel(f"<b>{label}</b>"))
            self.texts[key] = _text_edit(height=120)
            gl.addWidget(self.texts[key])
        self.copy_goals_btn = QPushButton("Copy goals from the treatment plan")
        self.copy_goals_btn.setAutoDefault(False)
        self.copy_goals_btn.clicked.connect(self.copy_goals)
        gl.addWidget(self.copy_goals_btn, 0, Qt.AlignmentFlag.AlignLeft)
        self.tabs.addTab(goals, "Goals and strengths")
        lay.addWidget(self.tabs, 1)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        self.save_btn = QPushButton("Save draft")
        self.save_btn.clicked.connect(lambda: self.save())
        self.finalize_btn = QPushButton("Finalize and sign")
        self.finalize_btn.setObjectName("primary")
        self.finalize_btn.clicked.connect(self._finalize_clicked)
        self.reopen_btn = QPushButton("Reopen...")
        self.reopen_btn.clicked.connect(self._reopen_clicked)
        self.print_btn = QPushButton("Print packet...")
        self.print_btn.clicked.connect(self._print_clicked)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        for b in (self.save_btn, self.finalize_btn, self.reopen_btn, self.print_btn, close):
            b.setAutoDefault(False)
        for b in (self.save_btn, self.finalize_btn, self.reopen_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.print_btn)
        buttons.addWidget(close)
        lay.addLayout(buttons)
        if view is None:
            view = aftercare.get_plan(ctx.db, ctx.actor, plan_id)
        self.show_plan(view)

    def show_plan(self, view: PlanView) -> None:
        """Fill the editor with `view` (read or saved on a worker)."""
        self.view = v = view
        self.setWindowTitle(f"IOPDesk - Aftercare plan: {v.client_name}")
        preferred = f' "{v.preferred_name}"' if v.preferred_name else ""
        self.title.setText(f"Aftercare plan: {v.client_name}{preferred}")
        bits = [f"MRN {v.mrn}", f"DOB {v.dob:%m/%d/%Y}"]
        if v.discharge_date:
            bits.append(f"discharged {v.discharge_date:%m/%d/%Y}")
        bits.append("packet in Spanish" if v.language == "es" else "packet in English")
        if v.finalized and v.finalized_at:
            bits.append(f"signed by {v.finalized_by} on {v.finalized_at:%m/%d/%Y}")
        self.subtitle.setText("   |   ".join(bits))
        self.status.setText("Finalized" if v.finalized else "Draft")
        for attr, (tab, _) in self.lists.items():
            tab.set_items(getattr(v.data, attr))
        for key, edit in self.texts.items():
            edit.setPlainText(getattr(v.data, key))
        editable = self.can_edit and not v.finalized
        for tab, _ in self.lists.values():
            tab.set_editable(editable)
        for edit in self.texts.values():
            edit.setReadOnly(not editable)
        self.save_btn.setVisible(self.can_edit)
        self.finalize_btn.setVisible(self.can_edit)
        self.reopen_btn.setVisible(self.can_edit and v.finalized)
        self.copy_goals_btn.setVisible(editable)
        self._sync_buttons()
        self.error.setText("")

    def _sync_buttons(self) -> None:
        """The buttons as the plan allows (after a save ran with them off)."""
        from iopdesk.ui.pages.loading import alive

        if not alive(self):
            return
        v = self.view
        editable = self.can_edit and not v.finalized
        self.save_btn.setEnabled(editable)
        self.finalize_btn.setEnabled(editable)
        self.reopen_btn.setEnabled(True)
        self.print_btn.setEnabled(v.finalized or self.can_edit)
        self.copy_goals_btn.setEnabled(True)

    def _submit(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> ops.Op[Any]:
        """A step of the editor on a worker: its buttons off meanwhile; a refusal on the error
        line with everything typed kept."""
        busy: list[QWidget] = [
            self.save_btn, self.finalize_btn, self.reopen_btn, self.print_btn,
            self.copy_goals_btn,
        ]  # fmt: skip
        op = submit(self, work, done, show_error=self.error.setText, busy=busy)
        self.last_op = op.on_done(self._sync_buttons)
        return op

    def copy_goals(self) -> ops.Op[Any]:
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.view.client_id

        def add(goals: list[str]) -> None:
            edit = self.texts["client_goals"]
            current = edit.toPlainText().strip()
            new = [g for g in goals if g not in current]
            edit.setPlainText("\n".join(([current] if current else []) + new))

        return self._submit(lambda: aftercare.goals_for_client(db, actor, client_id), add)

    def collect(self) -> AftercareData:
        data = AftercareData()
        for key, edit in self.texts.items():
            setattr(data, key, edit.toPlainText())
        for attr, (tab, title) in self.lists.items():
            setattr(data, attr, tab.items(title))
        return data

    def save(self, then: Callable[[], object] | None = None) -> ops.Op[Any] | None:
        """Save the draft in the background; `then` runs once it is saved. Returns the op (None:
        a typed value was refused before saving, said on the error line)."""
        try:
            data = self.collect()
        except UserError as exc:
            self.error.setText(exc.message)
            return None
        db, actor, plan_id, version = self.ctx.db, self.ctx.actor, self.plan_id, self.view.version

        def work() -> PlanView:
            aftercare.save_plan(db, actor, plan_id, version, data)
            return aftercare.get_plan(db, actor, plan_id)

        def saved(view: PlanView) -> None:
            self.show_plan(view)
            self.error.setText("Saved.")
            if then is not None:
                then()

        return self._submit(work, saved)

    def finalize(self) -> ops.Op[Any] | None:
        """Save, then finalize (sign) the plan, in the background."""
        try:
            data = self.collect()
        except UserError as exc:
            self.error.setText(exc.message)
            return None
        db, actor, plan_id, version = self.ctx.db, self.ctx.actor, self.plan_id, self.view.version

        def work() -> tuple[PlanView, str]:
            saved = aftercare.save_plan(db, actor, plan_id, version, data)
            refused = ""
            try:
                aftercare.finalize_plan(db, actor, plan_id, saved.version)
            except UserError as exc:  # saved, not finalized: the editor shows the saved plan
                refused = exc.message
            return aftercare.get_plan(db, actor, plan_id), refused

        def done(result: tuple[PlanView, str]) -> None:
            view, refused = result
            self.show_plan(view)
            self.error.setText(refused)

        return self._submit(work, done)

    def _finalize_clicked(self) -> None:
        if msgbox.confirm(
            self,
            "Finalize the aftercare plan",
            "Finalizing signs the plan with your name and today's date. It can then be printed "
            "for the client and is read-only. Continue?",
            default=True,
        ):
            self.finalize()

    def reopen(self, reason: str) -> ops.Op[Any]:
        db, actor, plan_id, version = self.ctx.db, self.ctx.actor, self.plan_id, self.view.version

        def work() -> PlanView:
            aftercare.reopen_plan(db, actor, plan_id, version, reason)
            return aftercare.get_plan(db, actor, plan_id)

        return self._submit(work, self.show_plan)

    def _reopen_clicked(self) -> None:
        reason, ok = QInputDialog.getText(self, "Reopen the plan", "Reason for reopening:")
        if ok:
            self.reopen(reason)

    def _print_clicked(self) -> None:
        if self.can_edit and not self.view.finalized:
            self.save(then=lambda: PrintDialog(self.ctx, self.view, self).exec())
            return
        PrintDialog(self.ctx, self.view, self).exec()


def open_editor(
    ctx: AppContext,
    plan_id: int,
    parent: QWidget | None,
    then: Callable[[], object] | None = None,
) -> ops.Op[PlanView]:
    """Read the plan on a worker, then open the editor; `then` runs after it closed (or when
    the plan could not be read: the reason is said in a box)."""
    db, actor = ctx.db, ctx.actor

    def edit(view: PlanView) -> None:
        AftercareEditor(ctx, plan_id, parent, view=view).exec()

    op: ops.Op[PlanView] = ops.Op(parent, lambda: aftercare.get_plan(db, actor, plan_id)).success(
        edit
    )
    if then is not None:
        op.on_done(then)
    return op.run_in_background()


# -- clinic lists -------------------------------------------------------------------------------
LIST_FIELDS = {
    "local_meetings": (("day", "Day"), ("time", "Time"), ("place", "Place or link")),
    "common_referrals": (("type", "Type"), ("address", "Address"), ("phone", "Phone")),
    "crisis_resources": (("contact", "How to reach"), ("description", "About")),
}


class ClinicListsDialog(QDialog):
    """Add and retire entries of the clinic's reusable lists."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("IOPDesk - Clinic lists")
        self.resize(760, 480)
        lay = QVBoxLayout(self)
        self.which = QComboBox()
        for key, label in aftercare.CLINIC_LISTS.items():
            self.which.addItem(label, key)
        self.which.currentIndexChanged.connect(self.refresh)
        lay.addWidget(self.which)
        self.model: RowsModel[aftercare.ListEntry] = RowsModel(
            [
                Column("Name", lambda e: e.label),
                Column("Details", lambda e: "; ".join(v for v in e.data.values() if v)),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        lay.addWidget(self.table, 1)
        form = QFormLayout()
        self.label = QLineEdit()
        form.addRow("Name", self.label)
        self.field_edits: list[tuple[QLabel, QLineEdit]] = []
        for _ in range(3):
            lab, edit = QLabel(""), QLineEdit()
            form.addRow(lab, edit)
            self.field_edits.append((lab, edit))
        lay.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        lay.addWidget(self.error)
        row = QHBoxLayout()
        self.add_btn = add = QPushButton("Add entry")
        add.setObjectName("primary")
        add.clicked.connect(self.add)
        self.retire_btn = retire = QPushButton("Retire selected")
        retire.clicked.connect(self.retire)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row.addWidget(add)
        row.addWidget(retire)
        row.addStretch(1)
        row.addWidget(close)
        lay.addLayout(row)
        self.last_op: ops.Op[Any] | None = None
        self.refresh()

    def list_name(self) -> str:
        return str(self.which.currentData())

    def refresh(self) -> None:
        fields = LIST_FIELDS[self.list_name()]
        for i, (lab, edit) in enumerate(self.field_edits):
            visible = i < len(fields)
            lab.setVisible(visible)
            edit.setVisible(visible)
            lab.setText(fields[i][1] if visible else "")
        from iopdesk.ui.pages.loading import load

        db, actor, name = self.ctx.db, self.ctx.actor, self.list_name()

        def show(entries: list[aftercare.ListEntry]) -> None:
            if self.list_name() == name:  # not another list chosen meanwhile
                self.model.set_rows(entries)

        self.last_op = load(self, lambda: aftercare.list_clinic_items(db, actor, name), show)

    def _submit(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> ops.Op[Any]:
        """Save on a worker, Add/Retire off meanwhile; a refusal stays on the error line with
        what was typed; a stale entry reloads the list."""
        self.error.setText("")
        self.last_op = submit(
            self,
            work,
            done,
            show_error=self.error.setText,
            reload=self.refresh,
            busy=[self.add_btn, self.retire_btn],
        )
        return self.last_op

    def add(self) -> ops.Op[Any]:
        fields = LIST_FIELDS[self.list_name()]
        data = {key: self.field_edits[i][1].text() for i, (key, _) in enumerate(fields)}
        db, actor, name, label = self.ctx.db, self.ctx.actor, self.list_name(), self.label.text()

        def added(_result: object) -> None:
            self.label.clear()
            for _, edit in self.field_edits:
                edit.clear()
            self.refresh()

        return self._submit(lambda: aftercare.save_clinic_item(db, actor, name, label, data), added)

    def retire(self) -> ops.Op[Any] | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        e = self.model.row_at(index.row())
        db, actor = self.ctx.db, self.ctx.actor
        return self._submit(
            lambda: aftercare.save_clinic_item(
                db,
                actor,
                e.list_name,
                e.label,
                e.data,
                item_id=e.id,
                expected_version=e.version,
                active=False,
            ),
            lambda _r: self.refresh(),
        )


# -- the page -----------------------------------------------------------------------------------
CATEGORIES = (
    ("pending", "Discharge pending"),
    ("discharged", "Recently discharged"),
    ("draft", "Aftercare drafts"),
)


class DischargePage(Page):
    title = "Discharge"
    open_client = Signal(int)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.layout_.addWidget(
            muted(
                "Clients who may need discharge (on hold, or no attendance for two weeks), "
                "clients discharged in the last 30 days, and aftercare plans still in draft."
            )
        )
        self.tabs = QTabWidget()
        self.models: dict[str, RowsModel[discharge.WorkRow]] = {}
        self.tables: dict[str, Any] = {}
        for key, label in CATEGORIES:
            when = "Last attended" if key == "pending" else "Discharged"
            model: RowsModel[discharge.WorkRow] = RowsModel(
                [
                    Column("MRN", lambda r: r.mrn),
                    Column("Client", lambda r: r.name),
                    Column(
                        when,
                        lambda r: f"{r.when:%m/%d/%Y}" if r.when else "",
                        sort_key=lambda r: r.when or date.min,
                    ),
                    Column("Part 2", lambda r: "Yes" if r.part2 else ""),
                    Column("Aftercare plan", lambda r: r.plan_status.title() or "-"),
                    Column("Note", lambda r: r.note),
                ]
            )
            table = make_table()
            table.setModel(model)
            table.setColumnWidth(1, 240)
            table.setColumnWidth(2, 130)
            table.setColumnWidth(4, 120)
            table.doubleClicked.connect(lambda _i, k=key: self._default_action(k))
            self.models[key] = model
            self.tables[key] = table
            self.tabs.addTab(table, label)
        self.layout_.addWidget(self.tabs, 1)
        row = QHBoxLayout()
        self.discharge_btn = QPushButton("Discharge...")
        self.discharge_btn.setObjectName("primary")
        self.discharge_btn.clicked.connect(self._discharge_clicked)
        self.discharge_btn.setVisible(ctx.can(Perm.DISCHARGE_MANAGE))
        self.plan_btn = QPushButton("Aftercare plan...")
        self.plan_btn.clicked.connect(self._plan_clicked)
        self.print_btn = QPushButton("Print packet...")
        self.print_btn.clicked.connect(self._print_clicked)
        self.chart_btn = QPushButton("Open chart")
        self.chart_btn.clicked.connect(self._chart_clicked)
        self.lists_btn = QPushButton("Clinic lists...")
        self.lists_btn.clicked.connect(lambda: ClinicListsDialog(self.ctx, self).exec())
        self.lists_btn.setVisible(ctx.can(Perm.DISCHARGE_MANAGE) or ctx.can(Perm.SETTINGS_MANAGE))
        for b in (self.discharge_btn, self.plan_btn, self.print_btn, self.chart_btn):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.lists_btn)
        self.layout_.addLayout(row)

    shows = frozenset({"client", "discharge", "aftercareplan", "attendance", "episode"})

    def refresh(self) -> None:
        """The work list, loaded in the background."""
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)

    def fetch(self) -> list[discharge.WorkRow]:
        """Worker thread: services only."""
        return discharge.work_list(self.ctx.db, self.ctx.actor)

    def present(self, data: object) -> None:
        rows: list[discharge.WorkRow] = data  # type: ignore[assignment]
        for i, (key, label) in enumerate(CATEGORIES):
            mine = [r for r in rows if r.category == key]
            self.models[key].set_rows(mine)
            self.tabs.setTabText(i, f"{label} ({len(mine)})")

    def selected(self) -> discharge.WorkRow | None:
        key = CATEGORIES[self.tabs.currentIndex()][0]
        index = self.tables[key].currentIndex()
        if not index.isValid():
            return None
        return self.models[key].row_at(index.row())

    def _need(self) -> discharge.WorkRow | None:
        row = self.selected()
        if row is None:
            msgbox.info(self, "Choose a client", "Select a client in the list first.")
        return row

    def _default_action(self, key: str) -> None:
        if key == "pending":
            self._chart_clicked()
        else:
            self._plan_clicked()

    def _discharge_clicked(self) -> ops.Op[Any] | None:
        row = self._need()
        if row is None:
            return None
        self.last_op = run_discharge(self.ctx, row.client_id, self, lambda _plan: self.refresh())
        return self.last_op

    def _plan_clicked(self) -> ops.Op[Any] | None:
        row = self._need()
        if row is None:
            return None
        if row.plan_id is None:
            msgbox.info(self, "No aftercare plan", "This client has no aftercare plan yet.")
            return None
        self.last_op = open_editor(self.ctx, row.plan_id, self, then=self.refresh)
        return self.last_op

    def _print_clicked(self) -> ops.Op[Any] | None:
        row = self._need()
        if row is not None and row.plan_id is not None:
            self.last_op = print_plan(self.ctx, row.plan_id, self)
            return self.last_op
        return None

    def _chart_clicked(self) -> None:
        row = self._need()
        if row is not None:
            self.open_client.emit(row.client_id)


def run_discharge(
    ctx: AppContext,
    client_id: int,
    parent: QWidget | None,
    then: Callable[[int | None], object] | None = None,
) -> ops.Op[Any]:
    """The guided discharge (what it starts from read on a worker), then the new aftercare plan
    in the editor; `then(plan id)` runs at the end (None: not discharged)."""

    def finished(plan_id: int | None) -> None:
        if then is not None:
            then(plan_id)

    def guide(read: tuple[discharge.DischargeStart, str]) -> None:
        dialog = DischargeDialog(ctx, client_id, parent, read=read)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.result_ is None:
            finished(None)
            return
        r = dialog.result_
        msgbox.info(
            parent,
            "Client discharged",
            f"The client is discharged. {r.sessions_cancelled} booked session(s) were "
            "cancelled. Now complete the aftercare plan with the client.",
        )
        open_editor(ctx, r.plan_id, parent, then=lambda: finished(r.plan_id))

    return ops.run(parent, lambda: read_discharge(ctx, client_id), guide)


# -- the chart tab ------------------------------------------------------------------------------
class ClientDischargeTab(QWidget):
    """The chart's Discharge tab: discharge summaries and aftercare plans of this client."""

    changed = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        self.client_status = ""
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.discharge_btn = QPushButton("Discharge...")
        self.discharge_btn.setObjectName("primary")
        self.discharge_btn.clicked.connect(self._discharge_clicked)
        self.new_plan_btn = QPushButton("Start aftercare plan")
        self.new_plan_btn.clicked.connect(self._new_plan_clicked)
        self.plan_btn = QPushButton("Open aftercare plan...")
        self.plan_btn.clicked.connect(self._plan_clicked)
        self.print_btn = QPushButton("Print packet...")
        self.print_btn.clicked.connect(self._print_clicked)
        # the newest discharge summary: write, sign (locks it) and print (issue 20 item 6)
        self.edit_summary_btn = QPushButton("Edit summary...")
        self.edit_summary_btn.clicked.connect(self._edit_summary_clicked)
        self.sign_summary_btn = QPushButton("Sign summary")
        self.sign_summary_btn.clicked.connect(self._sign_summary_clicked)
        self.print_summary_btn = QPushButton("Print summary...")
        self.print_summary_btn.clicked.connect(self._print_summary_clicked)
        self.addendum_btn = QPushButton("Add addendum...")
        self.addendum_btn.clicked.connect(self._addendum_clicked)
        self.latest: discharge.DischargeInfo | None = None
        self.last_op: ops.Op[Any] | None = None
        self.dialog: QDialog | None = None
        for b in (
            self.discharge_btn,
            self.new_plan_btn,
            self.plan_btn,
            self.print_btn,
            self.edit_summary_btn,
            self.sign_summary_btn,
            self.addendum_btn,
            self.print_summary_btn,
        ):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        body = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(section_title("Aftercare plans"))
        self.plans_model: RowsModel[aftercare.PlanSummary] = RowsModel(
            [
                Column("Plan", lambda p: f"#{p.id}"),
                Column("Status", lambda p: p.status.title()),
                Column(
                    "Discharge",
                    lambda p: f"{p.discharge_date:%m/%d/%Y}" if p.discharge_date else "-",
                ),
            ]
        )
        self.plans = make_table()
        self.plans.setModel(self.plans_model)
        self.plans.doubleClicked.connect(lambda _i: self._plan_clicked())
        left.addWidget(self.plans, 1)
        body.addLayout(left, 2)
        right = QVBoxLayout()
        right.addWidget(section_title("Discharge summaries"))
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        right.addWidget(self.summary, 1)
        body.addLayout(right, 3)
        lay.addLayout(body, 1)

    def fetch(self, client_id: int, reason: str = "") -> dict[str, Any]:
        """Worker side of `load`: what the tab reads from the services (no widgets)."""
        db, actor = self.ctx.db, self.ctx.actor
        out: dict[str, Any] = {"plans": [], "infos": []}
        if reason:
            if self.ctx.can(Perm.AFTERCARE_PRINT) and not self.ctx.can(Perm.CLINICAL_VIEW):
                out["plans"] = aftercare.list_plans(db, actor, client_id)
            return out
        try:
            out["plans"] = aftercare.list_plans(db, actor, client_id)
        except UserError:
            out["plans"] = []
        if self.ctx.can(Perm.CLINICAL_VIEW):
            try:
                out["infos"] = discharge.list_discharges(db, actor, client_id)
            except UserError as exc:
                out["infos"] = exc.message
        return out

    def load(
        self, client_id: int, status: str, reason: str = "", data: dict[str, Any] | None = None
    ) -> None:
        """`reason`: the chart hides discharge and aftercare from this user (minimum
        necessary); it is shown instead and nothing is asked of the services. `data`: what
        `fetch` read on a worker (read here when not given)."""
        if data is None:
            data = self.fetch(client_id, reason)
        self.client_id = client_id
        self.client_status = status
        if reason:
            for button in (self.discharge_btn, self.new_plan_btn):
                button.setVisible(False)
            # the front desk prints a finalized packet for the client, unread
            plans: list[aftercare.PlanSummary] = data["plans"]
            self.plans_model.set_rows(plans)
            if plans:
                self.plans.selectRow(0)
            self.plan_btn.setEnabled(False)
            self.print_btn.setEnabled(any(p.status == "finalized" for p in plans))
            self.summary.setPlainText(
                reason
                + (" You can print a finalized aftercare packet for the client." if plans else "")
            )
            return
        can_manage = self.ctx.can(Perm.DISCHARGE_MANAGE)
        self.discharge_btn.setVisible(can_manage)
        self.discharge_btn.setEnabled(status in ("active", "on_hold", "intake", "referral"))
        self.new_plan_btn.setVisible(can_manage)
        plans = data["plans"]
        self.plans_model.set_rows(plans)
        if plans:
            self.plans.selectRow(0)
        self.new_plan_btn.setEnabled(not any(p.status == "draft" for p in plans))
        self.plan_btn.setEnabled(bool(plans))
        self.print_btn.setEnabled(bool(plans))
        self.latest = None
        for b in (
            self.edit_summary_btn,
            self.sign_summary_btn,
            self.addendum_btn,
            self.print_summary_btn,
        ):
            b.setEnabled(False)
            b.setVisible(self.ctx.can(Perm.CLINICAL_VIEW))
        if not self.ctx.can(Perm.CLINICAL_WRITE):
            self.edit_summary_btn.setVisible(False)
            self.sign_summary_btn.setVisible(False)
            self.addendum_btn.setVisible(False)
        if not self.ctx.can(Perm.CLINICAL_VIEW):
            self.summary.setPlainText(
                "Discharge summaries are visible only to the client's clinicians and supervisors."
            )
            return
        infos = data["infos"]
        if isinstance(infos, str):  # refused: the reason
            self.summary.setPlainText(infos)
            return
        if not infos:
            self.summary.setPlainText("No discharge on record.")
            return
        self.latest = infos[0]
        self.edit_summary_btn.setEnabled(not infos[0].signed)
        self.sign_summary_btn.setEnabled(not infos[0].signed)
        self.addendum_btn.setEnabled(infos[0].signed)
        self.print_summary_btn.setEnabled(True)
        lines: list[str] = []
        for d in infos:
            ep = f" (episode {d.episode_no})" if d.episode_no else ""
            lines += [
                f"{d.discharge_date:%m/%d/%Y}{ep}: {d.type_label} "
                f"(TEDS: {discharge.TEDS_LABELS[d.teds_reason]})",
                (
                    f"Signed by {d.signed_by} on {d.signed_at:%m/%d/%Y %H:%M} UTC (locked)"
                    if d.signed_at
                    else "Not signed yet: sign it to lock it."
                ),
                f"Reason: {d.reason}",
                f"Next level of care: {d.step_down_level or '-'}; receiving provider: "
                f"{d.receiving_provider or '-'}",
            ]
            for g in d.goals:
                lines.append(f"• {g.goal_text}: {g.progress or 'no progress entered'}")
            if d.summary:
                lines.append(f"Summary: {d.summary}")
            for a in d.addenda:
                lines.append(f"Addendum {a.signed_at:%m/%d/%Y} by {a.author}: {a.text}")
            lines.append("")
        self.summary.setPlainText("\n".join(lines))

    def _refresh(self) -> None:
        """Read the tab again in the background (after one of its steps changed it)."""
        if self.client_id is None:
            return
        from iopdesk.ui.pages.loading import load

        client_id, status = self.client_id, self.client_status

        def show(data: dict[str, Any]) -> None:
            if self.client_id == client_id:  # not another chart opened meanwhile
                self.load(client_id, status, data=data)

        self.last_op = load(self, lambda: self.fetch(client_id), show)

    def _run(
        self, button: QPushButton, work: Callable[[], Any], done: Callable[[Any], Any]
    ) -> ops.Op[Any]:
        """A button's service call on a worker, the button off meanwhile (then the tab, read
        again, sets each button as the record allows); a refusal is said in a box."""
        button.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(button):
                button.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, work, takes_control=False).success(done)
        self.last_op = op.on_stale(self._refresh).on_done(enable).run_in_background()
        return op

    def _edit_summary_clicked(self) -> None:
        d = self.latest
        if d is None or self.client_id is None:
            return
        dialog = SummaryDialog(self.ctx, d, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._refresh()

    def _sign_summary_clicked(self) -> None:
        d = self.latest
        if d is None or self.client_id is None:
            return
        if not msgbox.confirm(
            self,
            "Sign discharge summary",
            "Sign the discharge summary? It is locked after signing: a later correction is an "
            "addendum, never an edit.",
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(
            self.sign_summary_btn,
            lambda: discharge.sign_discharge(db, actor, d.id, d.version),
            lambda _r: self._refresh(),
        )

    def _addendum_clicked(self) -> None:
        d = self.latest
        if d is None or self.client_id is None:
            return
        from iopdesk.ui.forms import FormDialog, text_box

        dialog = FormDialog(
            "Discharge summary addendum",
            "A later correction or addition to the signed summary, dated and signed when saved.",
            "Save",
            self,
        )
        dialog.resize(560, 300)
        text = text_box(height=120)
        text.setObjectName("reasonText")
        dialog.form.addRow("Addendum (signed when saved)", text)
        typed: list[str] = []
        db, actor = self.ctx.db, self.ctx.actor
        dialog.accept_action = lambda: typed.append(text.toPlainText())
        dialog.save_action = lambda: discharge.add_discharge_addendum(db, actor, d.id, typed[-1])
        self.dialog = dialog
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._refresh()

    def _print_summary_clicked(self) -> None:
        d = self.latest
        if d is None:
            return
        from iopdesk.ui.pages import safety as safety_ui

        path = safety_ui.ask_pdf_path(self, "Print discharge summary", f"discharge-{d.id}.pdf")
        if not path:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(
            self.print_summary_btn,
            lambda: discharge.print_discharge(db, actor, d.id, path),
            lambda _r: safety_ui._opened(path),
        )

    def _selected_plan(self) -> int | None:
        index = self.plans.currentIndex()
        if not index.isValid():
            return None
        return self.plans_model.row_at(index.row()).id

    def _reload(self) -> None:
        self.changed.emit()

    def _discharge_clicked(self) -> None:
        if self.client_id is None:
            return

        def finished(plan: int | None) -> None:
            if plan is not None:
                self._reload()

        self.last_op = run_discharge(self.ctx, self.client_id, self, finished)

    def _new_plan_clicked(self) -> None:
        if self.client_id is None:
            return
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id
        self._run(
            self.new_plan_btn,
            lambda: aftercare.create_plan(db, actor, client_id),
            lambda plan_id: open_editor(self.ctx, plan_id, self, then=self._refresh),
        )

    def _plan_clicked(self) -> None:
        plan_id = self._selected_plan()
        if plan_id is not None and self.client_id is not None:
            self.last_op = open_editor(self.ctx, plan_id, self, then=self._refresh)

    def _print_clicked(self) -> None:
        plan_id = self._selected_plan()
        if plan_id is not None:
            self.last_op = print_plan(self.ctx, plan_id, self)


class SummaryDialog(QDialog):
    """Correct an unsigned discharge summary: reason, summary, goal progress."""

    def __init__(
        self, ctx: AppContext, info: discharge.DischargeInfo, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx, self.info = ctx, info
        self.setWindowTitle("IOPDesk - Discharge summary")
        self.resize(760, 560)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.reason = _text_edit(info.reason, height=60)
        self.summary_edit = _text_edit(info.summary, "Overall course of treatment", 120)
        self.summary_edit.setObjectName("dischargeSummaryText")
        form.addRow("Reason", self.reason)
        form.addRow("Summary of treatment", self.summary_edit)
        self.goal_edits: list[tuple[int, QPlainTextEdit]] = []
        for g in info.goals:
            edit = _text_edit(g.progress, height=50)
            form.addRow(QLabel(html.escape(g.goal_text)), edit)
            self.goal_edits.append((g.id, edit))
        lay.addLayout(form, 1)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.save_btn = QPushButton("Save")
        self.save_btn.setObjectName("primary")
        self.save_btn.clicked.connect(self.save)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_btn)
        lay.addLayout(buttons)

    def save(self) -> ops.Op[Any]:
        """Save in the background (Save off meanwhile); closes when saved, a refusal stays on
        the error line with what was typed."""
        db, actor, d = self.ctx.db, self.ctx.actor, self.info
        fields = {"reason": self.reason.toPlainText(), "summary": self.summary_edit.toPlainText()}
        goals = {gid: edit.toPlainText() for gid, edit in self.goal_edits}
        self.error.setText("")
        self.last_op = submit(
            self,
            lambda: discharge.update_discharge(db, actor, d.id, d.version, fields, goals),
            lambda _r: self.accept(),
            show_error=self.error.setText,
            busy=[self.save_btn],
        )
        return self.last_op
