"""The intake form: register a new client (referral, intake or admitted) in three sections.

Validation is the service's: its field-level messages are shown on the fields themselves, and
everything typed is kept so the user only fixes what is marked.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.models import Client
from iopdesk.services import clients, drafts, lookups
from iopdesk.services.clients import ClientInput, ContactInput
from iopdesk.ui import clock, dates, msgbox, ops, style
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.forms import FormDialog, submit
from iopdesk.ui.widgets import restore_typed_values, typed_values

# style.py styles QLineEdit[invalid="true"] only; the other editors get the same look here.
FORM_CSS = f"""
QComboBox[invalid="true"], QDateEdit[invalid="true"] {{ border: 1px solid {style.BAD};
    background: #fff5f5; }}
QCheckBox[invalid="true"] {{ color: {style.BAD}; }}
QWidget[invalid="true"] > QCheckBox {{ color: {style.BAD}; }}
QDateEdit[blank="true"] {{ color: #8a96a3; }}
QDateEdit:focus {{ border: 1px solid {style.ACCENT}; }}
QLineEdit:disabled, QComboBox:disabled, QDateEdit:disabled {{ background: #eef1f4;
    color: #8a96a3; }}
QLabel#hint {{ color: {style.MUTED}; font-size: 9pt; }}
QLabel#part2On {{ background: #fdecea; color: {style.BAD}; border: 1px solid #f5c2c0;
    border-radius: 5px; padding: 6px 9px; }}
QLabel#part2Off {{ background: #f1f4f7; color: {style.MUTED}; border: 1px solid {style.BORDER};
    border-radius: 5px; padding: 6px 9px; }}
QLabel#formGroup {{ font-size: 10.5pt; font-weight: 600; color: {style.ACCENT_DARK};
    padding: 0 0 2px 0; }}
"""

LANGUAGES = (
    "English",
    "Spanish",
    "Chinese (Mandarin)",
    "Chinese (Cantonese)",
    "Vietnamese",
    "Tagalog",
    "Arabic",
    "French",
    "Haitian Creole",
    "Korean",
    "Russian",
    "Portuguese",
    "Polish",
    "Hindi",
    "Somali",
    "American Sign Language",
)
PRONOUNS = ("", "she/her", "he/him", "they/them", "she/they", "he/they")
SEXES = (("", ""), ("Female", "Female"), ("Male", "Male"), ("X", "X"), ("Unknown", "Unknown"))
RELATIONSHIPS = (
    "Mother",
    "Father",
    "Parent",
    "Spouse",
    "Partner",
    "Sibling",
    "Son",
    "Daughter",
    "Grandparent",
    "Friend",
    "Guardian",
    "Sponsor",
)
US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
    "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
    "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
)  # fmt: skip
NEW_CLIENT_STATUSES = ("referral", "intake", "active")
MAX_CONTACTS = 3
INTAKE_DRAFT = "intake"
DRAFT_EVERY_MS = 30_000

FIELD_LABELS = {
    "first_name": "Legal first name",
    "middle_name": "Middle name",
    "last_name": "Legal last name",
    "preferred_name": "Preferred name",
    "pronouns": "Pronouns",
    "dob": "Date of birth",
    "sex": "Sex",
    "primary_language": "Primary language",
    "phone": "Phone",
    "email": "E-mail",
    "address_line1": "Address",
    "address_line2": "Address line 2",
    "city": "City",
    "state": "State",
    "postal_code": "ZIP",
    "status": "Status",
    "track_id": "Track",
    "admission_date": "Admission date",
    "required_weekly_hours": "Weekly hours",
    "required_hours_until": "Hours override through",
    "payer_id": "Payer",
    "member_id": "Member ID",
    "diagnoses": "Diagnoses",
    "referral_source": "Referral source",
    "mrn": "MRN",
}


# -- helpers shared by the client and staff forms --------------------------------------------
def mark_invalid(widget: QWidget, message: str | None) -> None:
    """Show (or clear) a field-level problem: red border via the `invalid` property + tooltip."""
    if widget.property("baseToolTip") is None:
        widget.setProperty("baseToolTip", widget.toolTip())
    widget.setProperty("invalid", bool(message))
    widget.setToolTip(message or str(widget.property("baseToolTip") or ""))
    repolish(widget)
    for child in widget.findChildren(QCheckBox):  # a group of boxes marked as one field
        repolish(child)


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a property or object name changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    widget.update()


def is_invalid(widget: QWidget) -> bool:
    return bool(widget.property("invalid"))


to_qdate = dates.to_qdate
from_qdate = dates.from_qdate


def error_dot() -> QIcon:
    pix = QPixmap(10, 10)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(style.BAD))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 8, 8)
    painter.end()
    return QIcon(pix)


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def group_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("formGroup")
    return label


def new_form() -> QFormLayout:
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(8)
    return form


def chain_tab_order(widgets: Sequence[QWidget]) -> None:
    for first, second in itertools.pairwise(widgets):
        QWidget.setTabOrder(first, second)


def compact_combo(combo: QComboBox, chars: int = 18) -> None:
    """Long item texts (payer names) must not widen the form; the popup still shows them."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)


def editable_combo(items: Sequence[str], current: str = "") -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItems(list(items))
    combo.setCurrentText(current)
    completer = combo.completer()
    if completer is not None:
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return combo


class DateField(DateEdit):
    """A date box that may be blank (for a required date the user must actually enter): the
    app's one typed-date widget (ui/dates.py). The calendar opens on `blank_page`."""

    def __init__(
        self,
        maximum: date | None = None,
        blank_page: date | None = None,
        *,
        past: bool = False,
        label: str = "",
    ) -> None:
        super().__init__(
            None, optional=True, past=past, maximum=maximum, blank_page=blank_page, label=label
        )


class ContactRows(QWidget):
    """Emergency contacts as rows of plain text boxes: name, relationship, phone, remove."""

    mark_cleared = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[QLineEdit, QLineEdit, QLineEdit, QPushButton]] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(6)
        for column, text in enumerate(("Name", "Relationship", "Phone")):
            label = QLabel(text)
            label.setObjectName("hint")
            self.grid.addWidget(label, 0, column)
        self.grid.setColumnStretch(0, 5)
        self.grid.setColumnStretch(1, 3)
        self.grid.setColumnStretch(2, 4)
        outer.addLayout(self.grid)
        bar = QHBoxLayout()
        self.add_button = QPushButton("Add another contact")
        self.add_button.setObjectName("addContact")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(lambda: self.add_row(focus=True))
        bar.addWidget(self.add_button)
        bar.addStretch(1)
        outer.addLayout(bar)
        outer.addStretch(1)
        self.add_row()

    def add_row(self, focus: bool = False) -> None:
        if len(self.rows) >= MAX_CONTACTS:
            return
        name, relationship, phone = QLineEdit(), QLineEdit(), QLineEdit()
        n = len(self.rows) + 1
        name.setObjectName(f"contactName{n}")
        relationship.setObjectName(f"contactRelationship{n}")
        phone.setObjectName(f"contactPhone{n}")
        name.setPlaceholderText("Full name")
        relationship.setPlaceholderText("e.g. Mother")
        phone.setPlaceholderText("(555) 123-4567")
        completer = QCompleter(list(RELATIONSHIPS), relationship)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        relationship.setCompleter(completer)
        remove = QPushButton("Remove")
        remove.setAutoDefault(False)
        remove.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        remove.setToolTip("Remove this contact")
        row = (name, relationship, phone, remove)
        remove.clicked.connect(lambda: self.remove_row(row))
        for edit in (name, relationship, phone):
            edit.textChanged.connect(lambda _t, e=edit: self._edited(e))
        self.rows.append(row)
        self._relayout()
        if focus:
            name.setFocus()

    def _edited(self, edit: QLineEdit) -> None:
        if is_invalid(edit):
            mark_invalid(edit, None)
            self.mark_cleared.emit()

    def remove_row(self, row: tuple[QLineEdit, QLineEdit, QLineEdit, QPushButton]) -> None:
        if len(self.rows) == 1:  # keep one (empty) row to type into
            for edit in row[:3]:
                edit.clear()
                mark_invalid(edit, None)
            return
        self.rows.remove(row)
        for widget in row:
            self.grid.removeWidget(widget)
            widget.deleteLater()
        self._relayout()

    def _relayout(self) -> None:
        for r, row in enumerate(self.rows, start=1):
            for c, widget in enumerate(row):
                self.grid.addWidget(widget, r, c)
        self.add_button.setEnabled(len(self.rows) < MAX_CONTACTS)
        edits = [e for row in self.rows for e in row[:3]]
        chain_tab_order([*edits, self.add_button])

    def filled(self) -> list[tuple[int, ContactInput]]:
        """(row index, contact) for every row with anything typed in it."""
        result = []
        for i, (name, relationship, phone, _remove) in enumerate(self.rows):
            if name.text().strip() or relationship.text().strip() or phone.text().strip():
                result.append((i, ContactInput(name.text(), relationship.text(), phone.text())))
        return result


def _load_code_set() -> None:
    import simple_icd_10_cm  # noqa: F401


IntakeChoices = tuple[list[lookups.TrackOption], list[lookups.PayerOption]]


def intake_choices(ctx: AppContext) -> IntakeChoices:
    """The tracks and payers the intake form offers (service calls: run it on a worker)."""
    return lookups.list_tracks(ctx.db, ctx.actor), lookups.list_payers(ctx.db, ctx.actor)


class IntakeDialog(FormDialog):
    """Register a new client. After a successful save `created` holds the new Client."""

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        choices: IntakeChoices | None = None,
    ) -> None:
        """`choices`: the tracks and payers, read beforehand by `intake_choices` on a worker
        (the main window does); read here when not given."""
        super().__init__(
            "New client",
            "Required: legal name and date of birth. An admitted (active) client also needs a "
            "track and an admission date. The MRN is assigned when you save.",
            "Save client",
            parent,
        )
        self.ctx = ctx
        self.created: Client | None = None
        self._dup_confirmed: tuple[object, ...] | None = None
        self._contact_rows_sent: list[int] = []
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(840)
        self.tracks, self.payers = choices if choices is not None else intake_choices(ctx)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("intakeTabs")
        self.form.addRow(self.tabs)
        self.fields: dict[str, QWidget] = {}
        self._build_client_tab()
        self._build_contact_tab()
        self._build_program_tab()
        for widget in self.fields.values():
            self._clear_on_edit(widget)
        self.next_button = QPushButton("Next section  \u203a")
        self.next_button.setObjectName("nextSection")
        self.next_button.setToolTip("Go to the next section (Ctrl+Tab)")
        self.next_button.setAutoDefault(False)
        self.next_button.clicked.connect(self._next_tab)
        self.tabs.currentChanged.connect(self._tab_changed)
        outer = self.layout()
        assert isinstance(outer, QVBoxLayout)
        index = outer.indexOf(self.buttons)
        outer.removeWidget(self.buttons)
        bottom = QHBoxLayout()
        bottom.addWidget(self.next_button)
        bottom.addWidget(self.buttons, 1)
        outer.insertLayout(index, bottom)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.save_button.setObjectName("primary")
        repolish(self.save_button)
        self.buttons.rejected.disconnect(self.reject)
        self.buttons.rejected.connect(self.cancel)
        self._status_changed()
        self._track_changed()
        self._payer_changed()
        self.resize(900, 600)
        self.first_name.setFocus()
        # What is typed is never lost: kept as a draft every half minute, and when the user
        # signs out or closes the app with the form open (see MainWindow.typed_work).
        self.draft_timer = QTimer(self)
        self.draft_timer.setInterval(DRAFT_EVERY_MS)
        self.draft_timer.timeout.connect(self._keep_draft_if_typed)
        self.draft_timer.start()
        self._offer_draft()

    # -- building ----------------------------------------------------------------------------
    def _page(self) -> tuple[QWidget, QHBoxLayout]:
        page = QWidget()
        lay = QHBoxLayout(page)
        lay.setContentsMargins(18, 14, 18, 12)
        lay.setSpacing(28)
        return page, lay

    def _column(self, layout: QHBoxLayout, title: str) -> QFormLayout:
        column = QVBoxLayout()
        column.setSpacing(6)
        column.addWidget(group_label(title))
        form = new_form()
        column.addLayout(form)
        column.addStretch(1)
        layout.addLayout(column, 1)
        return form

    def _line(self, name: str, placeholder: str = "", max_length: int = 100) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(max_length)
        self.fields[name] = edit
        return edit

    def _build_client_tab(self) -> None:
        page, lay = self._page()
        left = self._column(lay, "Legal name")
        self.first_name = self._line("first_name")
        self.middle_name = self._line("middle_name")
        self.last_name = self._line("last_name")
        self.preferred_name = self._line("preferred_name", "What the client likes to be called")
        self.pronouns = editable_combo(PRONOUNS)
        self.pronouns.setObjectName("pronouns")
        self.fields["pronouns"] = self.pronouns
        left.addRow("First name *", self.first_name)
        left.addRow("Middle name", self.middle_name)
        left.addRow("Last name *", self.last_name)
        left.addRow("Preferred name", self.preferred_name)
        left.addRow("Pronouns", self.pronouns)
        right = self._column(lay, "Demographics")
        # Never prefilled; a two-digit year is never in the future (issue 19 item 2).
        self.dob = DateField(
            past=True, blank_page=date(clock.today().year - 30, 1, 1), label="The date of birth"
        )
        self.dob.setObjectName("dob")
        self.fields["dob"] = self.dob
        self.sex = QComboBox()
        self.sex.setObjectName("sex")
        for label, value in SEXES:
            self.sex.addItem(label or "Not recorded", value)
        self.fields["sex"] = self.sex
        self.language = editable_combo(LANGUAGES, "English")
        self.language.setObjectName("primary_language")
        self.fields["primary_language"] = self.language
        self.age = hint("")
        self.age.setObjectName("ageHint")
        self.dob.dateChanged.connect(lambda _d: self._dob_changed())
        self.dob.committed.connect(self._dob_changed)
        right.addRow("Date of birth *", self.dob)
        right.addRow("", self.age)
        right.addRow("Sex", self.sex)
        right.addRow("Primary language", self.language)
        right.addRow("", hint("Type another language if it is not in the list."))
        chain_tab_order(
            [
                self.first_name,
                self.middle_name,
                self.last_name,
                self.preferred_name,
                self.pronouns,
                self.dob,
                self.sex,
                self.language,
            ]
        )
        self.tabs.addTab(page, "1. Client")

    def _build_contact_tab(self) -> None:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(18, 14, 18, 12)
        outer.setSpacing(10)
        top = QHBoxLayout()
        top.setSpacing(28)
        outer.addLayout(top)
        left = self._column(top, "Phone and e-mail")
        self.phone = self._line("phone", "(555) 123-4567", 30)
        self.email = self._line("email", "name@example.org", 200)
        left.addRow("Phone", self.phone)
        left.addRow("E-mail", self.email)
        right = self._column(top, "Home address")
        self.address1 = self._line("address_line1", "Street and number", 200)
        self.address2 = self._line("address_line2", "Apartment, suite (optional)", 200)
        self.city = self._line("city", "", 100)
        self.state = QComboBox()
        self.state.setObjectName("state")
        self.state.addItem("", "")
        for code in US_STATES:
            self.state.addItem(code, code)
        self.state.setMinimumWidth(72)
        self.fields["state"] = self.state
        self.zip = self._line("postal_code", "12345", 10)
        self.zip.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"^\d{0,5}(-\d{0,4})?$"), self.zip)
        )
        self.zip.setMaximumWidth(110)
        state_row = QHBoxLayout()
        state_row.setSpacing(8)
        state_row.addWidget(self.state)
        state_row.addSpacing(8)
        state_row.addWidget(QLabel("ZIP"))
        state_row.addWidget(self.zip)
        state_row.addStretch(1)
        right.addRow("Address", self.address1)
        right.addRow("", self.address2)
        right.addRow("City", self.city)
        right.addRow("State", state_row)
        outer.addWidget(group_label("Emergency contacts"))
        self.contacts = ContactRows()
        self.contacts.mark_cleared.connect(self._update_tab_marks)
        self.contacts.setObjectName("emergencyContacts")
        outer.addWidget(self.contacts, 1)
        chain_tab_order(
            [
                self.phone,
                self.email,
                self.address1,
                self.address2,
                self.city,
                self.state,
                self.zip,
                self.contacts.rows[0][0],
            ]
        )
        self.tabs.addTab(page, "2. Contact")

    def _build_program_tab(self) -> None:
        from iopdesk.ui.pages.clients import STATUS_LABELS  # late: clients.py opens this form

        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(18, 14, 18, 12)
        outer.setSpacing(12)
        lay = QHBoxLayout()
        lay.setSpacing(28)
        outer.addLayout(lay)
        left = self._column(lay, "Program")
        self.status = QComboBox()
        self.status.setObjectName("status")
        for value in NEW_CLIENT_STATUSES:
            self.status.addItem(STATUS_LABELS[value], value)
        self.status.setItemText(2, "Active (admitted)")
        self.fields["status"] = self.status
        self.track = QComboBox()
        self.track.setObjectName("track_id")
        self.track.addItem("No track yet", None)
        for t in self.tracks:
            self.track.addItem(t.name, t.id)
            self.track.setItemData(
                self.track.count() - 1,
                f"{t.label}: {t.level_of_care}, {t.population}"
                + (", substance use (42 CFR Part 2)" if t.is_sud else ""),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.fields["track_id"] = self.track
        compact_combo(self.track)
        today = clock.today()
        self.admission = DateField(maximum=date(today.year + 1, 12, 31), blank_page=today)
        self.admission.setObjectName("admission_date")
        self.admission.set_value(today)
        self.fields["admission_date"] = self.admission
        self.hours = self._line("required_weekly_hours", "", 5)
        self.hours.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"^\d{0,2}([.,]\d{0,2})?$"), self.hours)
        )
        self.hours.setMaximumWidth(150)
        self.hours.setToolTip(
            "Hours of programming the client must attend each week. Leave blank to use the "
            "track's requirement."
        )
        hours_row = QHBoxLayout()
        hours_row.setSpacing(8)
        hours_row.addWidget(self.hours)
        self.hours_unit = hint("hours / week")
        self.hours_unit.setWordWrap(False)
        hours_row.addWidget(self.hours_unit)
        # An override is dated (issue 20): through this day, then the track's hours again.
        self.hours_until_label = hint("through")
        hours_row.addWidget(self.hours_until_label)
        self.hours_until = DateField(maximum=date(today.year + 1, 12, 31), blank_page=today)
        self.hours_until.setObjectName("required_hours_until")
        self.hours_until.setToolTip(
            "The last day the client's own weekly hours apply; after it the track's hours "
            "apply again. Required when you type weekly hours."
        )
        self.fields["required_hours_until"] = self.hours_until
        hours_row.addWidget(self.hours_until, 1)
        self.referral_source = self._line("referral_source", "e.g. Self, court, Dr. Lee", 200)
        self.part2 = QLabel("")
        self.part2.setObjectName("part2Off")
        self.part2.setWordWrap(True)
        left.addRow("Status", self.status)
        left.addRow("Track", self.track)
        left.addRow("Admission date", self.admission)
        left.addRow("Weekly hours", hours_row)
        left.addRow("Referral source", self.referral_source)
        right = self._column(lay, "Coverage and diagnoses")
        self.payer = QComboBox()
        self.payer.setObjectName("payer_id")
        self.payer.addItem("Self-pay / none", None)
        for p in self.payers:
            self.payer.addItem(p.name, p.id)
        self.fields["payer_id"] = self.payer
        compact_combo(self.payer)
        self.member_id = self._line("member_id", "As printed on the insurance card", 60)
        self.diagnoses = self._line("diagnoses", "e.g. F10.20, F41.1", 200)
        right.addRow("Payer", self.payer)
        right.addRow("Member ID", self.member_id)
        right.addRow("Diagnoses", self.diagnoses)
        right.addRow(
            "",
            hint(
                "ICD-10-CM codes separated by commas. The first code is the primary "
                "diagnosis. Dots are optional (F1020 = F10.20)."
            ),
        )
        # what each typed code is, from the ICD-10-CM code set, as it is typed
        self.diagnosis_descriptions = QLabel("")
        self.diagnosis_descriptions.setObjectName("diagnosis_descriptions")
        self.diagnosis_descriptions.setWordWrap(True)
        self.diagnosis_descriptions.setTextFormat(Qt.TextFormat.PlainText)
        right.addRow("", self.diagnosis_descriptions)
        self.diagnoses.textChanged.connect(lambda _t: self._describe_diagnoses())
        # the ICD-10-CM code set takes a couple of seconds to load: load it while the user
        # fills in the first tabs, not on the first key typed here
        threading.Thread(target=_load_code_set, name="icd10-load", daemon=True).start()
        outer.addWidget(self.part2)
        outer.addStretch(1)
        self.status.currentIndexChanged.connect(lambda _i: self._status_changed())
        self.track.currentIndexChanged.connect(lambda _i: self._track_changed())
        self.payer.currentIndexChanged.connect(lambda _i: self._payer_changed())
        chain_tab_order(
            [
                self.status,
                self.track,
                self.admission,
                self.hours,
                self.referral_source,
                self.payer,
                self.member_id,
                self.diagnoses,
            ]
        )
        self.tabs.addTab(page, "3. Program && coverage")

    # -- reactions ---------------------------------------------------------------------------
    def _describe_diagnoses(self) -> None:
        from iopdesk.services.validation import check_icd10, normalize_icd10

        lines = []
        for raw in self.diagnoses.text().replace(";", ",").split(","):
            if not raw.strip():
                continue
            try:
                code, description = check_icd10(raw)
                lines.append(f"{code}: {description}")
            except ValueError:
                try:
                    shown = normalize_icd10(raw)
                except ValueError:
                    shown = raw.strip()
                lines.append(f"{shown}: not a billable ICD-10-CM code")
        self.diagnosis_descriptions.setText("\n".join(lines))

    def _clear_on_edit(self, widget: QWidget) -> None:
        def clear() -> None:
            if is_invalid(widget):
                mark_invalid(widget, None)
                self._update_tab_marks()

        if isinstance(widget, QLineEdit):
            widget.textChanged.connect(lambda _t: clear())
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(lambda _i: clear())
            if widget.isEditable():
                widget.editTextChanged.connect(lambda _t: clear())
        elif isinstance(widget, QDateEdit | DateEdit):
            widget.dateChanged.connect(lambda _d: clear())

    def _dob_changed(self) -> None:
        from iopdesk.ui.pages.clients import age  # late: clients.py opens this form

        if self.dob.error:
            self.age.setText(self.dob.error)
            self.age.setStyleSheet(f"color: {style.BAD};")
        else:
            dob = self.dob.value()
            self.age.setText("" if dob is None else f"Age {age(dob, clock.today())}")
            self.age.setStyleSheet("")

    def selected_track(self) -> lookups.TrackOption | None:
        track_id = self.track.currentData()
        return next((t for t in self.tracks if t.id == track_id), None)

    def _status_changed(self) -> None:
        active = self.status.currentData() == "active"
        self.admission.setEnabled(active)
        self.admission.setToolTip(
            "" if active else "The admission date is entered when the client is admitted."
        )

    def _track_changed(self) -> None:
        track = self.selected_track()
        if track is not None:
            default = f"{track.required_weekly_hours.normalize():f}"
            self.hours.setPlaceholderText(f"{default} (track default)")
        else:
            self.hours.setPlaceholderText("Track default")
        if track is not None and track.is_sud:
            self.part2.setObjectName("part2On")
            self.part2.setText(
                "42 CFR Part 2 record: yes. This is a substance-use track, so the record is "
                "protected; disclosures need the client's written consent."
            )
        else:
            self.part2.setObjectName("part2Off")
            self.part2.setText("42 CFR Part 2 record: set automatically for substance-use tracks.")
        repolish(self.part2)

    def _payer_changed(self) -> None:
        has_payer = self.payer.currentData() is not None
        self.member_id.setEnabled(has_payer)

    def _next_tab(self) -> None:
        index = min(self.tabs.currentIndex() + 1, self.tabs.count() - 1)
        self.tabs.setCurrentIndex(index)
        first = {0: self.first_name, 1: self.phone, 2: self.status}[index]
        first.setFocus()

    def _tab_changed(self, index: int) -> None:
        self.next_button.setEnabled(index < self.tabs.count() - 1)

    def has_input(self) -> bool:
        """Anything typed that would be lost by cancelling."""
        edits = [
            w
            for w in self.fields.values()
            if isinstance(w, QLineEdit) and not isinstance(w, DateEdit)
        ]
        edits += [e for row in self.contacts.rows for e in row[:3]]
        return bool(self.dob.text().strip()) or any(e.text().strip() for e in edits)

    def cancel(self) -> None:
        """Cancel or Escape: ask before throwing away a half-typed intake."""
        if self.has_input() and not msgbox.confirm(
            self,
            "Discard this intake?",
            "The new client has not been saved. Close the form and discard what you typed?",
            default=False,
        ):
            return
        self.draft_timer.stop()
        self._discard_draft()
        self.reject()

    def _discard_draft(self) -> None:
        """Throw the kept draft away on an op worker (the form may close meanwhile)."""
        db, actor = self.ctx.db, self.ctx.actor
        ops.Op(self.parentWidget(), lambda: drafts.discard(db, actor, INTAKE_DRAFT)).failure(
            lambda exc: ops.log_bug(exc)
        ).run_in_background()

    # -- drafts (typed work is never lost) ------------------------------------------------------
    def typed_state(self) -> dict[str, object]:
        state = typed_values(self.fields)
        state["contacts"] = [[w.text() for w in row[:3]] for row in self.contacts.rows]
        return state

    def restore_state(self, state: dict[str, object]) -> None:
        restore_typed_values(self.fields, state)
        contacts = state.get("contacts")
        if isinstance(contacts, list):
            for i, values in enumerate(contacts):
                while i >= len(self.contacts.rows) and len(self.contacts.rows) < MAX_CONTACTS:
                    self.contacts.add_row()
                if i < len(self.contacts.rows) and isinstance(values, list):
                    for widget, value in zip(self.contacts.rows[i][:3], values, strict=False):
                        widget.setText(str(value))

    def unsaved_work(self) -> str | None:
        """For signing out and closing: what would be lost (None: nothing)."""
        if self.created is None and self.has_input():
            return "a new-client form that is not saved yet"
        return None

    def keep_typed_work(self) -> None:
        """Keep what was typed now (signing out, locking, closing: they wait for it)."""
        drafts.keep(self.ctx.db, self.ctx.actor, INTAKE_DRAFT, self.typed_state())

    def _keep_draft_if_typed(self) -> None:
        """The half-minute autosave: what was typed is read here, kept on an op worker."""
        if self.unsaved_work() is None:
            return
        db, actor, state = self.ctx.db, self.ctx.actor, self.typed_state()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, UserError):
                self.show_error(f"The draft could not be kept: {exc.message}")
            else:
                ops.report_failure(self, exc)

        self.autosave = (
            ops.Op(self, lambda: drafts.keep(db, actor, INTAKE_DRAFT, state), takes_control=False)
            .failure(failed)
            .run_in_background()
        )

    def _offer_draft(self) -> None:
        """A draft kept earlier is looked up on an op worker, then offered back."""
        db, actor = self.ctx.db, self.ctx.actor
        self.draft_lookup = ops.run(
            self, lambda: drafts.peek(db, actor, INTAKE_DRAFT), self._offer_found
        )

    def _offer_found(self, draft: drafts.Draft | None) -> None:
        if draft is None or self.has_input():  # nothing kept, or the user started afresh
            return
        when = clinic_time(draft.saved_at)
        if msgbox.confirm(
            self,
            "Continue the new-client form?",
            f"You started a new-client form on {when:%m/%d/%Y at %H:%M} that was not saved. "
            "Continue where you left off?",
            default=True,
        ):
            self.restore_state(draft.data)
        else:
            self._discard_draft()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            return
        super().keyPressEvent(event)

    # -- saving ------------------------------------------------------------------------------
    def build_input(self) -> ClientInput:
        """The form as a ClientInput. A blank date of birth is refused here (it is required)."""
        dob = self.dob.value()
        if dob is None:
            missing = {"dob": "Enter the date of birth."}
            for name, edit in (("first_name", self.first_name), ("last_name", self.last_name)):
                if not edit.text().strip():
                    missing[name] = "Required."
            raise ValidationError("Please correct the highlighted fields.", missing)
        track = self.selected_track()
        status = str(self.status.currentData())
        payer_id = self.payer.currentData()
        contacts = self.contacts.filled()
        self._contact_rows_sent = [i for i, _c in contacts]
        codes = [c.strip() for c in self.diagnoses.text().replace(";", ",").split(",")]
        return ClientInput(
            first_name=self.first_name.text(),
            last_name=self.last_name.text(),
            middle_name=self.middle_name.text(),
            preferred_name=self.preferred_name.text(),
            pronouns=self.pronouns.currentText(),
            dob=dob,
            sex=str(self.sex.currentData() or ""),
            primary_language=self.language.currentText().strip() or "English",
            phone=self.phone.text(),
            email=self.email.text(),
            address_line1=self.address1.text(),
            address_line2=self.address2.text(),
            city=self.city.text(),
            state=str(self.state.currentData() or ""),
            postal_code=self.zip.text(),
            referral_source=self.referral_source.text(),
            status=status,
            track_id=track.id if track is not None else None,
            admission_date=self.admission.value() if status == "active" else None,
            required_weekly_hours=self._hours(),
            required_hours_until=self._hours_until(),
            payer_id=payer_id,
            member_id=self.member_id.text() if payer_id is not None else "",
            diagnoses=[c for c in codes if c],
            emergency_contacts=[c for _i, c in contacts],
        )

    def _hours_until(self) -> date | None:
        if not self.hours.text().strip():
            return None  # no override: no end date to ask for
        if not self.hours_until.text().strip():
            return None  # the service explains that the override needs its last day
        return self.hours_until.value()

    def _hours(self) -> Decimal | None:
        text = self.hours.text().strip().replace(",", ".")
        if not text:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValidationError(
                "Please correct the highlighted fields.",
                {"required_weekly_hours": "Enter hours like 9 or 7.5, or leave it blank."},
            ) from None

    def _try_accept(self) -> None:
        """Save: what was typed is checked here; the duplicate search and the save run on op
        workers (the buttons are off meanwhile); a refusal marks its fields, nothing typed is
        lost."""
        self.error.hide()
        self._clear_marks()
        try:
            data = self.build_input()
        except ValidationError as exc:
            self.show_error(self._show_field_errors(exc.fields, exc.message))
            return
        db, actor = self.ctx.db, self.ctx.actor
        first, last = data.first_name.strip(), data.last_name.strip()

        def search() -> list[Any]:
            if not first or not last:
                return []  # the service reports the missing name
            return clients.find_possible_duplicates(db, actor, first, last, data.dob)

        self.last_op = submit(
            self, search, lambda dups: self._after_search(data, dups), show_error=self._refused
        )

    def _after_search(self, data: ClientInput, dups: list[Any]) -> None:
        if not self._no_duplicates_or_confirmed(data, dups):
            self.show_error(
                "Not saved: this may be a client who is already registered. Check the "
                "census, or save again and confirm to register a new client anyway."
            )
            return
        db, actor = self.ctx.db, self.ctx.actor

        def save() -> Client:
            created = clients.create_client(db, actor, data)
            drafts.discard(db, actor, INTAKE_DRAFT)
            return created

        self.last_op = submit(self, save, self._created, show_error=self._refused)

    def _created(self, created: Client) -> None:
        self.created = created
        self.saved = created
        self.draft_timer.stop()
        self.accept()

    def _refused(self, text: str) -> None:
        exc = self.last_op.error if self.last_op is not None else None
        if isinstance(exc, ValidationError):
            text = self._show_field_errors(exc.fields, exc.message)
        self.show_error(text)

    def _no_duplicates_or_confirmed(self, data: ClientInput, dups: list[Any]) -> bool:
        """`dups`: the possible duplicates found (on a worker); asks when there are any."""
        from iopdesk.ui.pages.clients import STATUS_LABELS  # late: clients.py opens this form

        if not dups:
            return True
        key = (
            data.first_name.strip().casefold(),
            data.last_name.strip().casefold(),
            data.dob,
            tuple(sorted(d.id for d in dups)),
        )
        if key == self._dup_confirmed:
            return True
        lines = "\n".join(
            f"  \u2022 {d.display_name}  -  MRN {d.mrn}  -  DOB {data.dob:%m/%d/%Y}  -  "
            f"{STATUS_LABELS.get(d.status, d.status)}"
            for d in dups[:8]
        )
        more = f"\n  ...and {len(dups) - 8} more" if len(dups) > 8 else ""
        who = "this client" if len(dups) == 1 else "these clients"
        text = (
            f"IOPDesk already has {who} with the same date of birth and a similar name:\n\n"
            f"{lines}{more}\n\n"
            "If this is the same person, choose No and open their chart instead (a returning "
            "client is readmitted from their chart).\n\n"
            "Register a new, separate client anyway?"
        )
        if msgbox.confirm(self, "Possible duplicate client", text, default=False):
            self._dup_confirmed = key
            return True
        return False

    def _widget_for(self, field_name: str) -> QWidget | None:
        if field_name.startswith("emergency_contacts."):
            _prefix, index, part = [*field_name.split("."), "", ""][:3]
            if not index.isdigit() or int(index) >= len(self._contact_rows_sent):
                return None
            row = self.contacts.rows[self._contact_rows_sent[int(index)]]
            return {"name": row[0], "relationship": row[1], "phone": row[2]}.get(part)
        return self.fields.get(field_name)

    def _label_for(self, field_name: str) -> str:
        if field_name.startswith("emergency_contacts."):
            parts = field_name.split(".")
            n = int(parts[1]) + 1 if len(parts) > 1 and parts[1].isdigit() else 1
            part = parts[2] if len(parts) > 2 else ""
            return f"Emergency contact {n} {part}".strip()
        return FIELD_LABELS.get(field_name, field_name.replace("_", " ").capitalize())

    def _show_field_errors(self, fields: dict[str, str], fallback: str) -> str:
        """Mark every field named in `fields`, go to the first one; the text for the error line."""
        first: QWidget | None = None
        lines: list[str] = []
        order = list(FIELD_LABELS)

        def rank(name: str) -> tuple[int, str]:
            if name.startswith("emergency_contacts."):
                return order.index("postal_code"), name
            return (order.index(name) if name in order else len(order)), name

        for name in sorted(fields, key=rank):
            message = fields[name]
            widget = self._widget_for(name)
            if widget is not None:
                mark_invalid(widget, message)
                first = first or widget
            lines.append(f"{self._label_for(name)}: {message}")
        self._update_tab_marks()
        if first is not None:
            for i in range(self.tabs.count()):
                page = self.tabs.widget(i)
                if page is not None and page.isAncestorOf(first):
                    self.tabs.setCurrentIndex(i)
                    break
            first.setFocus()
        if not lines:
            return fallback
        shown = lines[:4] + ([f"...and {len(lines) - 4} more"] if len(lines) > 4 else [])
        return "Please correct the highlighted fields:\n" + "\n".join(
            f"\u2022 {line}" for line in shown
        )

    def invalid_widgets(self) -> list[QWidget]:
        widgets = list(self.fields.values())
        widgets += [e for row in self.contacts.rows for e in row[:3]]
        return [w for w in widgets if is_invalid(w)]

    def _clear_marks(self) -> None:
        for widget in self.invalid_widgets():
            mark_invalid(widget, None)
        self._update_tab_marks()

    def _update_tab_marks(self) -> None:
        bad = self.invalid_widgets()
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            has_error = page is not None and any(page.isAncestorOf(w) for w in bad)
            self.tabs.setTabIcon(i, error_dot() if has_error else QIcon())
