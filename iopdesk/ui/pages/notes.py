"""Notes: work queues, the progress-note editor, the group-note dialog and chart actions.

The editor autosaves a draft on a timer and when it closes, so a crash loses at most a few
seconds of typing. Signing locks the note (the service and the database refuse edits after).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError, ValidationError
from iopdesk.services import notes
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, files, msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.forms import submit
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import Page, make_table, muted, section_title

if TYPE_CHECKING:
    from iopdesk.ui.pages.clients import ChartPage

AUTOSAVE_MS = 15_000
STATE_COLORS = {
    "draft": "#b26a00",
    notes.AWAITING_COSIGN: "#b26a00",
    "no note": "#c62828",
    "no group note": "#c62828",
}


def _d(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


def _qd(d: date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _text_box(height: int = 70) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setTabChangesFocus(True)  # Tab moves on, as in every other form
    box.setMinimumHeight(height)
    return box


def _when(value: datetime | None) -> str:
    return clock.stamp(value) if value else ""


def note_text(content: notes.NoteContent) -> str:
    """A signed or draft note as plain text for the chart's reading pane."""
    h = content.header
    lines = [
        f"{h.format} note - {h.service_date:%m/%d/%Y} - {h.author}",
        f"Status: {h.state_label}",
    ]
    if content.service_minutes is not None:
        lines.append(f"Minutes: {content.service_minutes}")
    lines.append("")
    if content.group is not None:
        g = content.group
        lines += ["GROUP: " + g.topic, g.interventions, g.narrative, ""]
    for section, text in content.sections.items():
        lines += [section.upper(), text, ""]
    if content.modalities:
        lines.append("Modalities: " + ", ".join(content.modalities))
    if content.goals_addressed:
        goals = [content.goal_labels.get(g, f"Goal {g}") for g in content.goals_addressed]
        lines.append("Plan goals addressed: " + "; ".join(goals))
    lines.append(notes.risk_screen_text(content))
    if content.safety_plan:
        lines.append("Safety plan: " + content.safety_plan)
    lines.append("")
    if h.status == "signed":
        lines.append(f"Signed by {content.signed_by} on {_when(h.signed_at)}")
        if h.cosign_required:
            lines.append(
                f"Co-signed by {content.cosigned_by} on {_when(h.cosigned_at)}"
                if h.cosigned_at
                else "Awaiting co-signature"
            )
    else:
        lines.append("Draft - not signed")
    for a in content.addenda:
        sig = f"signed by {a.signed_by} {_when(a.signed_at)}" if a.signed_at else "not signed"
        lines += ["", f"ADDENDUM by {a.author}, {_when(a.created_at)} ({sig})", a.text]
    return "\n".join(lines)


# -- the progress-note editor ---------------------------------------------------------------
def _draft_controls(
    outer: QVBoxLayout,
    sign_label: str,
    save: Callable[[], object],
    sign: Callable[[], object],
    close: Callable[[], object],
) -> tuple[QLabel, QLabel, QPushButton, QPushButton]:
    """The bottom of both note editors: the field-error line, then the autosave status and the
    Save draft / sign / Close buttons. Returns (error, status, save button, sign button)."""
    error = QLabel("")
    error.setObjectName("fieldError")
    error.setWordWrap(True)
    error.hide()
    outer.addWidget(error)
    bar = QHBoxLayout()
    status = muted("Drafts are saved automatically every 15 seconds and on close.")
    bar.addWidget(status, 1)
    save_btn = QPushButton("Save draft")
    save_btn.clicked.connect(lambda: save())
    sign_btn = QPushButton(sign_label)
    sign_btn.setObjectName("primary")
    sign_btn.clicked.connect(lambda: sign())
    close_btn = QPushButton("Close")
    close_btn.clicked.connect(close)
    for b in (save_btn, sign_btn, close_btn):
        b.setAutoDefault(False)
        b.setMinimumWidth(110)
        bar.addWidget(b)
    outer.addLayout(bar)
    return error, status, save_btn, sign_btn


@dataclass
class EditorRead:
    """What the note editor shows when it opens, read on a worker (`read_editor`)."""

    formats: list[notes.FormatChoice]
    goals: list[notes.GoalChoice]
    banner: str  # the risk banner's text ("" when none)
    defaults: notes.NoteDraft | None  # a new note
    content: notes.NoteContent | None  # a saved one


def read_editor(
    ctx: AppContext, client_id: int, note_id: int | None = None, session_id: int | None = None
) -> EditorRead:
    """Worker side of opening the note editor (services only, no widgets)."""
    from iopdesk.services import safety

    db, actor = ctx.db, ctx.actor
    try:
        banner = safety.banner(db, actor, client_id).text
    except UserError:
        banner = ""
    return EditorRead(
        notes.note_formats(db, actor),
        notes.client_goals(db, actor, client_id),
        banner,
        notes.new_note_defaults(db, actor, client_id, session_id) if note_id is None else None,
        notes.read_note(db, actor, note_id) if note_id is not None else None,
    )


class NoteEditorDialog(QDialog):
    """Write a progress note: format sections, modalities, goals, risk screen, minutes.

    Saving, signing and the 15-second autosave run on a worker (Save and Sign off meanwhile);
    only closing saves on the GUI thread, because the window is going away (see `autosave`).
    `read`: what `read_editor` read on a worker (the screens open it that way); without it the
    editor reads here (tests and the screenshot tool build it directly)."""

    def __init__(
        self,
        ctx: AppContext,
        client_id: int,
        note_id: int | None = None,
        session_id: int | None = None,
        client_label: str = "",
        parent: QWidget | None = None,
        read: EditorRead | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.client_id = client_id
        self.note_id = note_id
        self.version: int | None = None
        self.session_id = session_id
        self.signed = False
        self.dirty = False
        self._edits = 0  # typing since the dialog opened (a save done meanwhile keeps it dirty)
        self._loading = True
        self.saving: ops.Op[Any] | None = None  # the save on its way (tests wait on it)
        self.setWindowTitle("IOPDesk - Progress note")
        self.resize(1160, 720)
        if read is None:
            read = read_editor(ctx, client_id, note_id, session_id)
        self.read = read
        self.formats = read.formats
        self.goals = read.goals
        self.section_boxes: dict[str, QPlainTextEdit] = {}
        self._kept: dict[str, str] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 14)
        title = QLabel(f"Progress note - {client_label}" if client_label else "Progress note")
        title.setObjectName("pageTitle")
        outer.addWidget(title)
        from iopdesk.ui.pages.safety import RiskBanner

        self.risk_banner = RiskBanner()
        self.risk_banner.show_text(read.banner)
        outer.addWidget(self.risk_banner)
        top = QHBoxLayout()
        self.format = QComboBox()
        self.format.setMinimumWidth(170)
        for f in self.formats:
            self.format.addItem(f.label, f.key)
        self.date = DateEdit(clock.today(), label="The date of service")
        self.date.setObjectName("service_date")
        self.minutes = QSpinBox()
        self.minutes.setRange(0, 1440)
        self.minutes.setSuffix(" min")
        self.session_label = muted("")
        for label, widget in (
            ("Format", self.format),
            ("Date of service", self.date),
            ("Service minutes", self.minutes),
        ):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.session_label, 1)
        outer.addLayout(top)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QScrollArea()
        left.setWidgetResizable(True)
        self.sections_holder = QWidget()
        self.sections_layout = QFormLayout(self.sections_holder)
        self.sections_layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        left.setWidget(self.sections_holder)
        split.addWidget(left)
        right_scroll = QScrollArea()
        right_scroll.setWidgetResizable(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addWidget(section_title("Modalities used"))
        grid = QGridLayout()
        self.modality_boxes: dict[str, QCheckBox] = {}
        for i, m in enumerate(notes.MODALITIES):
            box = QCheckBox(m)
            self.modality_boxes[m] = box
            grid.addWidget(box, i // 2, i % 2)
        rl.addLayout(grid)
        rl.addWidget(section_title("Treatment-plan goals addressed"))
        self.goal_list = QListWidget()
        self.goal_list.setMaximumHeight(110)
        for g in self.goals:
            item = QListWidgetItem(g.label)
            item.setData(Qt.ItemDataRole.UserRole, g.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.goal_list.addItem(item)
        if self.goals:
            rl.addWidget(self.goal_list)
        else:
            self.goal_list.hide()
            rl.addWidget(muted("This client has no treatment-plan goals yet."))
        rl.addWidget(section_title("Risk screen"))
        self.screened = QCheckBox("Risk screen done (asked about suicidal and homicidal ideation)")
        self.screened.setObjectName("riskScreened")
        self.suicidal = QCheckBox("Suicidal ideation reported")
        self.homicidal = QCheckBox("Homicidal ideation reported")
        rl.addWidget(self.screened)
        rl.addWidget(self.suicidal)
        rl.addWidget(self.homicidal)
        self.safety_label = QLabel("Safety plan (required when either is checked)")
        rl.addWidget(self.safety_label)
        self.safety_plan = _text_box(80)
        rl.addWidget(self.safety_plan)
        rl.addStretch(1)
        right_scroll.setWidget(right)
        split.addWidget(right_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([690, 430])
        outer.addWidget(split, 1)

        self.error, self.status, self.save_btn, self.sign_btn = _draft_controls(
            outer, "Sign and lock", self.save_draft, self.sign, self.close
        )

        self.format.currentIndexChanged.connect(self._format_changed)
        for w in (self.date, self.minutes):
            w.editingFinished.connect(self._mark_dirty)
        self.minutes.valueChanged.connect(self._mark_dirty)
        for box in self.modality_boxes.values():
            box.toggled.connect(self._mark_dirty)
        for box in (self.suicidal, self.homicidal):
            box.toggled.connect(self._risk_changed)
        self.screened.toggled.connect(self._mark_dirty)
        self.safety_plan.textChanged.connect(self._mark_dirty)
        self.goal_list.itemChanged.connect(self._mark_dirty)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self._load()
        self._loading = False
        self._risk_changed()
        self.autosave_timer.start()

    # -- loading and form state -------------------------------------------------------------
    def _load(self) -> None:
        if self.note_id is None:
            draft = self.read.defaults
            assert draft is not None
            self._set_format(draft.format, None)
            self.date.setDate(_qd(draft.service_date))
            self.minutes.setValue(draft.service_minutes or 0)
            if self.session_id is not None:
                self.date.setEnabled(False)
                self.session_label.setText(
                    "Minutes prefilled from attendance." if draft.service_minutes else ""
                )
            self._build_sections({})
            return
        content = self.read.content
        assert content is not None
        h = content.header
        self.version = h.version
        self.session_id = h.session_id
        self.signed = h.status == "signed"
        self._set_format(h.format, content.template_id)
        self.date.setDate(_qd(h.service_date))
        self.date.setEnabled(self.session_id is None)
        self.minutes.setValue(content.service_minutes or 0)
        self._build_sections(content.sections)
        for m in content.modalities:
            if m in self.modality_boxes:
                self.modality_boxes[m].setChecked(True)
        for i in range(self.goal_list.count()):
            item = self.goal_list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) in content.goals_addressed:
                item.setCheckState(Qt.CheckState.Checked)
        self.screened.setChecked(content.risk_screened)
        self.suicidal.setChecked(content.risk_suicidal)
        self.homicidal.setChecked(content.risk_homicidal)
        self.safety_plan.setPlainText(content.safety_plan)
        if self.signed:
            self._read_only("This note is signed and locked. Corrections are addenda.")

    def _read_only(self, text: str) -> None:
        self.autosave_timer.stop()
        for w in (self.save_btn, self.sign_btn, self.format, self.date, self.minutes):
            w.setEnabled(False)
        for box in self.section_boxes.values():
            box.setReadOnly(True)
        self.safety_plan.setReadOnly(True)
        for check in (self.screened, self.suicidal, self.homicidal):
            check.setEnabled(False)
        self.status.setText(text)

    def _set_format(self, fmt: str, template_id: int | None) -> None:
        key = f"template:{template_id}" if template_id else fmt
        index = self.format.findData(key)
        self.format.setCurrentIndex(max(0, index))

    def current_format(self) -> notes.FormatChoice:
        key = self.format.currentData()
        return next(f for f in self.formats if f.key == key)

    def _build_sections(self, values: dict[str, str]) -> None:
        for name, box in self.section_boxes.items():
            self._kept[name] = box.toPlainText()
        while self.sections_layout.rowCount():
            self.sections_layout.removeRow(0)
        self.section_boxes = {}
        for name in self.current_format().sections:
            box = _text_box(90)
            box.setPlainText(values.get(name, self._kept.get(name, "")))
            box.setObjectName(f"section_{name}")
            box.textChanged.connect(self._mark_dirty)
            self.section_boxes[name] = box
            label = QLabel(name)
            label.setObjectName("sectionTitle")
            self.sections_layout.addRow(label, box)

    def _format_changed(self) -> None:
        if self._loading:
            return
        self._build_sections({})
        self._mark_dirty()

    def _risk_changed(self) -> None:
        positive = self.suicidal.isChecked() or self.homicidal.isChecked()
        if positive:
            self.screened.setChecked(True)  # an answer means the screen was done
        self.safety_label.setStyleSheet("color: #c62828; font-weight: 600;" if positive else "")
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        if not self._loading:
            self.dirty = True
            self._edits += 1

    def draft(self) -> notes.NoteDraft:
        f = self.current_format()
        goals = [
            int(self.goal_list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.goal_list.count())
            if self.goal_list.item(i).checkState() == Qt.CheckState.Checked
        ]
        return notes.NoteDraft(
            client_id=self.client_id,
            service_date=_d(self.date.date()),
            format=f.format,
            template_id=f.template_id,
            sections={n: b.toPlainText() for n, b in self.section_boxes.items()},
            session_id=self.session_id,
            modalities=[m for m, b in self.modality_boxes.items() if b.isChecked()],
            goals_addressed=goals,
            risk_suicidal=self.suicidal.isChecked(),
            risk_homicidal=self.homicidal.isChecked(),
            risk_screened=self.screened.isChecked(),
            safety_plan=self.safety_plan.toPlainText(),
            service_minutes=self.minutes.value(),
        )

    # -- actions ---------------------------------------------------------------------------
    def _show_error(self, exc: UserError) -> None:
        text = exc.message
        if isinstance(exc, ValidationError) and exc.fields:
            text = " ".join(dict.fromkeys(exc.fields.values()))
            if "safety_plan" in exc.fields:
                self.safety_plan.setFocus()
        self.error.setText(text)
        self.error.show()

    def _saved(self, saved: notes.SavedNote, what: str, edits: int | None = None) -> None:
        """`edits`: the typing count when the draft was taken (typed since: still dirty)."""
        self.note_id, self.version = saved.id, saved.version
        self.dirty = edits is not None and edits != self._edits
        self.error.hide()
        self.status.setText(f"{what} {clock.now():%H:%M:%S}.")

    def _busy(self) -> bool:
        return self.saving is not None and not self.saving.done

    def _submit(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> ops.Op[Any]:
        """A save or the signature on a worker: Save and Sign off meanwhile; a refusal on the
        error line (its field focused) with everything typed kept."""

        def failed(exc: BaseException) -> None:
            if isinstance(exc, UserError):
                self._show_error(exc)
            else:
                ops.report_failure(self, exc)

        def buttons() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(self) and not self.signed:
                self.save_btn.setEnabled(True)
                self.sign_btn.setEnabled(True)

        op = submit(self, work, done, busy=[self.save_btn, self.sign_btn])
        self.saving = op.failure(failed).on_done(buttons)
        return op

    def autosave(self) -> ops.Op[Any] | None:
        """The 15-second timer: keep whatever was typed, complete or not, saved on a worker
        (skipped while another save is on its way)."""
        if not self.dirty or self.signed or self._busy():
            return None
        db, actor, note_id, version = self.ctx.db, self.ctx.actor, self.note_id, self.version
        draft, edits = self.draft(), self._edits
        return self._submit(
            lambda: notes.autosave_note(db, actor, note_id, version, draft),
            lambda saved: self._saved(saved, "Draft autosaved at", edits),
        )

    def autosave_now(self) -> bool:
        """Closing (and signing out or locking, which close the dialog): the window is going
        away, so what was typed is saved here and now, on the GUI thread (one small write, kept
        on purpose: tests/test_gui_thread_dialogs_a.py KEPT)."""
        if self._busy():
            ops.wait_all(30_000)  # a save on its way lands first (its version is needed)
        if not self.dirty or self.signed:
            return True
        try:
            saved = notes.autosave_note(
                self.ctx.db, self.ctx.actor, self.note_id, self.version, self.draft()
            )
        except UserError as exc:
            self._show_error(exc)
            return False
        self._saved(saved, "Draft autosaved at")
        return True

    def save_draft(self, then: Callable[[], object] | None = None) -> ops.Op[Any] | None:
        """Save the draft on a worker; `then` runs once it is saved. Returns the op (None:
        another save is still on its way)."""
        if self._busy():
            return None
        db, actor, note_id, version = self.ctx.db, self.ctx.actor, self.note_id, self.version
        draft, edits = self.draft(), self._edits

        def work() -> notes.SavedNote:
            if note_id is None:
                return notes.create_note(db, actor, draft)
            return notes.update_note(db, actor, note_id, version or 0, draft)

        def done(saved: notes.SavedNote) -> None:
            self._saved(saved, "Draft saved at", edits)
            if then is not None:
                then()

        return self._submit(work, done)

    def sign(self) -> ops.Op[Any] | None:
        """Save, ask, then sign and lock, each step on a worker; the dialog closes when signed.
        Returns the first step's op (`saving` is the latest)."""
        return self.save_draft(then=self._confirm_sign)

    def _confirm_sign(self) -> None:
        if not msgbox.confirm(
            self,
            "Sign and lock this note?",
            "Once signed, the note cannot be changed; corrections are added as addenda.",
            default=True,
        ):
            return
        db, actor, note_id, version = self.ctx.db, self.ctx.actor, self.note_id, self.version
        self._submit(lambda: notes.sign_note(db, actor, note_id or 0, version or 0), self._signed)

    def _signed(self, header: notes.NoteHeader) -> None:
        self.signed = True
        self.dirty = False
        self.version = header.version
        self._read_only(f"Signed and locked ({header.state_label}).")
        self.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.autosave_timer.stop()
        self.autosave_now()
        super().closeEvent(event)

    def reject(self) -> None:
        self.autosave_timer.stop()
        self.autosave_now()
        super().reject()


# -- the group-note dialog ------------------------------------------------------------------
class _EntryRow(QFrame):
    def __init__(self, member: notes.GroupMember) -> None:
        super().__init__()
        self.setObjectName("card")
        self.member = member
        lay = QGridLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        status = member.attendance.replace("_", " ")
        name = QLabel(f"<b>{member.name}</b>  ({member.mrn}) - {status}")
        lay.addWidget(name, 0, 0, 1, 3)
        self.minutes = QSpinBox()
        self.minutes.setRange(0, 1440)
        self.minutes.setSuffix(" min")
        self.minutes.setValue(member.entry.service_minutes or 0)
        self.minutes.setMaximumWidth(110)
        self.minutes.setToolTip("Minutes attended (from sign-in)")
        lay.addWidget(self.minutes, 0, 3, Qt.AlignmentFlag.AlignRight)
        self.participation = _text_box(54)
        self.participation.setPlaceholderText("Participation: what this client said and did")
        self.participation.setPlainText(member.entry.participation)
        self.response = _text_box(54)
        self.response.setPlaceholderText("Response to the interventions")
        self.response.setPlainText(member.entry.response)
        self.plan = QLineEdit(member.entry.plan)
        self.plan.setPlaceholderText("Plan for this client")
        for column, text in ((0, "Participation"), (2, "Response to interventions")):
            label = muted(text)
            label.setWordWrap(False)
            lay.addWidget(label, 1, column, 1, 2)
        for box in (self.participation, self.response):
            box.setMaximumHeight(64)
        self.plan.setToolTip("Plan for this client")
        lay.addWidget(self.participation, 2, 0, 1, 2)
        lay.addWidget(self.response, 2, 2, 1, 2)
        lay.addWidget(self.plan, 3, 0, 1, 4)

    def entry(self) -> notes.GroupEntry:
        return notes.GroupEntry(
            self.participation.toPlainText(),
            self.response.toPlainText(),
            self.plan.text(),
            self.minutes.value(),
        )


class GroupNoteDialog(QDialog):
    """One narrative for the group, one individualized entry per attending client.

    Saving, signing and the autosave run on a worker; closing saves on the GUI thread (as the
    note editor). `form`: the group note read on a worker (the Notes page opens it that way);
    without it the dialog reads here (tests and the screenshot tool)."""

    def __init__(
        self,
        ctx: AppContext,
        session_id: int,
        parent: QWidget | None = None,
        form: notes.GroupNoteForm | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session_id = session_id
        self.dirty = False
        self._edits = 0
        self.saving: ops.Op[Any] | None = None
        self.warnings: list[str] = []
        self.setWindowTitle("IOPDesk - Group note")
        self.resize(1160, 740)
        if form is None:
            form = notes.group_note_form(ctx.db, ctx.actor, session_id)
        self.group_note_id = form.group_note_id
        self.version = form.version
        self.signed = form.status == "signed"
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 14)
        title = QLabel(f"Group note - {form.title}")
        title.setObjectName("pageTitle")
        outer.addWidget(title)
        outer.addWidget(
            muted(
                f"{form.session_date:%A %m/%d/%Y} {form.start}-{form.end}   |   "
                f"{len(form.members)} attended"
                + (f"   |   Absent (no note): {', '.join(form.absent)}" if form.absent else "")
            )
        )
        top = QFormLayout()
        self.topic = QLineEdit(form.topic)
        self.interventions = QLineEdit(form.interventions)
        top.addRow("Topic", self.topic)
        top.addRow("Interventions", self.interventions)
        mods = QHBoxLayout()
        self.modality_boxes: dict[str, QCheckBox] = {}
        for m in notes.MODALITIES:
            box = QCheckBox(m)
            box.setChecked(m in form.modalities)
            box.toggled.connect(self._mark_dirty)
            self.modality_boxes[m] = box
            mods.addWidget(box)
        mods.addStretch(1)
        top.addRow("Modalities", mods)
        self.narrative = _text_box(60)
        self.narrative.setMaximumHeight(80)
        self.narrative.setPlainText(form.narrative)
        top.addRow("Group narrative", self.narrative)
        outer.addLayout(top)
        outer.addWidget(section_title("Individualized entries (attending clients only)"))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        holder = QWidget()
        hl = QVBoxLayout(holder)
        self.rows = [_EntryRow(m) for m in form.members]
        for row in self.rows:
            hl.addWidget(row)
            for w in (row.participation, row.response):
                w.textChanged.connect(self._mark_dirty)
            row.plan.textEdited.connect(self._mark_dirty)
        if not self.rows:
            hl.addWidget(muted("No client attended this group, so there is nothing to document."))
        hl.addStretch(1)
        scroll.setWidget(holder)
        outer.addWidget(scroll, 1)
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b26a00; font-weight: 600;")
        self.warning_label.hide()
        outer.addWidget(self.warning_label)
        self.error, self.status, self.save_btn, self.sign_btn = _draft_controls(
            outer, "Sign group note", self.save_draft, self.sign, self.close
        )
        for line in (self.topic, self.interventions):
            line.textEdited.connect(self._mark_dirty)
        self.narrative.textChanged.connect(self._mark_dirty)
        self.dirty = False
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        if self.signed:
            self.autosave_timer.stop()
            for b in (self.save_btn, self.sign_btn):
                b.setEnabled(False)
            self.status.setText("This group note is signed and locked.")
        else:
            self.autosave_timer.start()

    def _mark_dirty(self) -> None:
        self.dirty = True
        self._edits += 1

    def data(self) -> notes.GroupNoteInput:
        return notes.GroupNoteInput(
            topic=self.topic.text(),
            interventions=self.interventions.text(),
            modalities=[m for m, b in self.modality_boxes.items() if b.isChecked()],
            narrative=self.narrative.toPlainText(),
            entries={r.member.client_id: r.entry() for r in self.rows},
        )

    def _show_warnings(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.warning_label.setText("\n".join(warnings))
        self.warning_label.setVisible(bool(warnings))

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _saved(self, result: notes.GroupSaveResult, edits: int | None) -> None:
        self.group_note_id, self.version = result.group_note_id, result.version
        self.dirty = edits is not None and edits != self._edits
        self.error.hide()
        self._show_warnings(result.warnings)
        self.status.setText(f"Draft saved at {clock.now():%H:%M:%S}.")

    def _busy(self) -> bool:
        return self.saving is not None and not self.saving.done

    def _submit(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> ops.Op[Any]:
        """A save or the signature on a worker, Save and Sign off meanwhile; a refusal on the
        error line with everything typed kept."""

        def buttons() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(self) and not self.signed:
                self.save_btn.setEnabled(True)
                self.sign_btn.setEnabled(True)

        op = submit(
            self, work, done, show_error=self._show_error, busy=[self.save_btn, self.sign_btn]
        )
        self.saving = op.on_done(buttons)
        return op

    def save_draft(self, then: Callable[[], object] | None = None) -> ops.Op[Any] | None:
        """Save on a worker; `then` runs once saved (None: another save is on its way)."""
        if self._busy():
            return None
        db, actor, session_id, version = self.ctx.db, self.ctx.actor, self.session_id, self.version
        data, edits = self.data(), self._edits

        def done(result: notes.GroupSaveResult) -> None:
            self._saved(result, edits)
            if then is not None:
                then()

        return self._submit(
            lambda: notes.save_group_note(db, actor, session_id, data, version), done
        )

    def autosave(self) -> ops.Op[Any] | None:
        """The timer: save what was typed, on a worker."""
        if not self.dirty or self.signed:
            return None
        return self.save_draft()

    def autosave_now(self) -> bool:
        """Closing: the window is going away, so what was typed is saved here and now on the
        GUI thread (kept on purpose: tests/test_gui_thread_dialogs_a.py KEPT)."""
        if self._busy():
            ops.wait_all(30_000)  # a save on its way lands first (its version is needed)
        if not self.dirty or self.signed:
            return True
        try:
            result = notes.save_group_note(
                self.ctx.db, self.ctx.actor, self.session_id, self.data(), self.version
            )
        except UserError as exc:
            self._show_error(exc.message)
            return False
        self._saved(result, None)
        return True

    def sign(self) -> ops.Op[Any] | None:
        """Save, ask (naming any warning), then sign on a worker; closes when signed."""
        return self.save_draft(then=self._confirm_sign)

    def _confirm_sign(self) -> None:
        question = "Signing locks the narrative and every client's entry."
        if self.warnings:
            question = "\n".join(self.warnings) + "\n\nSign anyway? " + question
        if not msgbox.confirm(self, "Sign this group note?", question, default=True):
            return
        db, actor = self.ctx.db, self.ctx.actor
        note_id, version = self.group_note_id or 0, self.version or 0
        self._submit(lambda: notes.sign_group_note(db, actor, note_id, version), self._signed)

    def _signed(self, result: Any) -> None:
        self.signed = True
        self.dirty = False
        self.version = result.version
        self.autosave_timer.stop()
        self.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.autosave_timer.stop()
        self.autosave_now()
        super().closeEvent(event)

    def reject(self) -> None:
        self.autosave_timer.stop()
        self.autosave_now()
        super().reject()


# -- the Notes page (work queues) ------------------------------------------------------------
def _queue_model() -> RowsModel[notes.QueueItem]:
    return RowsModel(
        [
            Column(
                "Date", lambda q: f"{q.service_date:%m/%d/%Y}", sort_key=lambda q: q.service_date
            ),
            Column("Client / group", lambda q: q.title),
            Column("Kind", lambda q: q.detail.title() if q.detail.islower() else q.detail),
            Column("Author", lambda q: q.author),
            Column(
                "State", lambda q: q.state.capitalize(), color=lambda q: STATE_COLORS.get(q.state)
            ),
        ]
    )


class NotesPage(Page):
    title = "Notes"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.summary = muted("")
        self.layout_.addWidget(self.summary)
        self.tabs = QTabWidget()
        self.drafts_model = _queue_model()
        self.cosign_model = _queue_model()
        self.missing_model = _queue_model()
        self.drafts_table = make_table()
        self.cosign_table = make_table()
        self.missing_table = make_table()
        for table, model in (
            (self.drafts_table, self.drafts_model),
            (self.cosign_table, self.cosign_model),
            (self.missing_table, self.missing_model),
        ):
            table.setModel(model)
            for column, width in ((0, 90), (1, 170), (2, 60), (3, 150)):
                table.setColumnWidth(column, width)
        self.cosign_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # My drafts
        drafts = QWidget()
        dl = QVBoxLayout(drafts)
        dl.addWidget(self.drafts_table, 1)
        self.open_btn = QPushButton("Open draft")
        self.open_btn.setObjectName("primary")
        self.open_btn.clicked.connect(self.open_selected_draft)
        self.drafts_table.activated.connect(lambda _i: self.open_selected_draft())
        dl.addLayout(_bar(self.open_btn))
        self.tabs.addTab(drafts, "My drafts")
        # Awaiting my co-signature
        cosign = QWidget()
        cl = QHBoxLayout(cosign)
        left = QVBoxLayout()
        left.addWidget(self.cosign_table, 1)
        self.cosign_btn = QPushButton("Co-sign selected")
        self.cosign_btn.setObjectName("primary")
        self.cosign_btn.setToolTip(
            "Co-sign the selected notes (Ctrl+click or Shift+click selects several). A group "
            "note is one row and co-signs every client's entry."
        )
        self.cosign_btn.clicked.connect(self.cosign_selected)
        left.addLayout(_bar(self.cosign_btn))
        cl.addLayout(left, 3)
        self.cosign_view = QPlainTextEdit()
        self.cosign_view.setReadOnly(True)
        self.cosign_view.setPlaceholderText("Select a note to read it before co-signing.")
        cl.addWidget(self.cosign_view, 2)
        self.cosign_table.clicked.connect(self._preview_cosign)
        self.cosign_table.selectionModel().currentRowChanged.connect(
            lambda _c, _p: self._preview_cosign()
        )
        self.tabs.addTab(cosign, "Awaiting my co-signature")
        # Sessions without a note
        missing = QWidget()
        ml = QVBoxLayout(missing)
        ml.addWidget(self.missing_table, 1)
        self.write_btn = QPushButton("Write note")
        self.write_btn.setObjectName("primary")
        self.write_btn.clicked.connect(self.write_selected)
        self.missing_table.activated.connect(lambda _i: self.write_selected())
        ml.addLayout(_bar(self.write_btn))
        self.tabs.addTab(missing, "Sessions without a note")
        self.layout_.addWidget(self.tabs, 1)
        self.dialog: QDialog | None = None

    shows = frozenset({"note", "groupnote", "clinic_session", "attendance", "noteaddendum"})

    def refresh(self, then: Callable[[], object] | None = None) -> None:
        """The three queues, loaded in the background; `then` runs once they are shown."""
        from iopdesk.ui.pages.loading import load

        def present(data: object) -> None:
            self.present(data)
            if then is not None:
                then()

        load(self, self.fetch, present)

    def fetch(self) -> tuple[list[notes.QueueItem], list[notes.QueueItem], list[notes.QueueItem]]:
        """Worker thread: services only."""
        a, db = self.ctx.actor, self.ctx.db
        return notes.my_drafts(db, a), notes.cosign_queue(db, a), notes.sessions_without_note(db, a)

    def present(self, data: object) -> None:
        a = self.ctx.actor
        drafts, cosign, missing = cast(Any, data)
        self.drafts_model.set_rows(drafts)
        self.cosign_model.set_rows(cosign)
        self.missing_model.set_rows(missing)
        self.tabs.setTabText(0, f"My drafts ({len(drafts)})")
        self.tabs.setTabText(1, f"Awaiting my co-signature ({len(cosign)})")
        self.tabs.setTabText(2, f"Sessions without a note ({len(missing)})")
        self.tabs.setTabVisible(1, self.ctx.can(Perm.NOTE_COSIGN))
        writer = self.ctx.can(Perm.CLINICAL_WRITE) and a.staff_id is not None
        self.summary.setText(
            f"{len(drafts)} unsigned, {len(missing)} sessions without a note"
            + (
                f", {len(cosign)} awaiting your co-signature"
                if self.ctx.can(Perm.NOTE_COSIGN)
                else ""
            )
            + ". Unsigned notes are not billable."
            if writer
            else "Your account does not write notes: the queues list a clinician's own work."
        )
        self.cosign_view.clear()

    def _selected(self, table: object, model: RowsModel[notes.QueueItem]) -> notes.QueueItem | None:
        index = table.currentIndex()  # type: ignore[attr-defined]
        if not index.isValid():
            return None
        return model.row_at(index.row())

    def _run_dialog(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.exec()
        self.dialog = None
        self.refresh()

    @staticmethod
    def _is_group(item: notes.QueueItem) -> bool:
        return item.kind == "group" or (item.kind == "session" and item.detail == "group")

    def read_for(self, item: notes.QueueItem) -> Any:
        """Worker side of opening a queue row: what its editor shows."""
        if self._is_group(item):
            return notes.group_note_form(self.ctx.db, self.ctx.actor, item.session_id or 0)
        if item.kind == "note":
            return read_editor(self.ctx, item.client_id or 0, note_id=item.id)
        return read_editor(self.ctx, item.client_id or 0, session_id=item.session_id)

    def dialog_for(self, item: notes.QueueItem, read: Any = None) -> QDialog:
        """The editor for a queue row: a draft, or a session that still needs its note.
        `read`: what `read_for` read on a worker (read here when not given, in tests)."""
        if read is None:
            read = self.read_for(item)
        if self._is_group(item):
            return GroupNoteDialog(self.ctx, item.session_id or 0, self, form=read)
        if item.kind == "note":
            return NoteEditorDialog(
                self.ctx,
                item.client_id or 0,
                note_id=item.id,
                client_label=item.title,
                parent=self,
                read=read,
            )
        return NoteEditorDialog(
            self.ctx,
            item.client_id or 0,
            session_id=item.session_id,
            client_label=item.title,
            parent=self,
            read=read,
        )

    def _open(self, item: notes.QueueItem | None) -> ops.Op[Any] | None:
        """Read the row's note on a worker, then open its editor (the buttons off meanwhile:
        one editor per click)."""
        if item is None:
            return None
        buttons = (self.open_btn, self.write_btn)
        for b in buttons:
            b.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            for b in buttons:
                if alive(b):
                    b.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, lambda: self.read_for(item), takes_control=False)
        op.success(lambda read: self._run_dialog(self.dialog_for(item, read)))
        self.last_open = op.on_done(enable).run_in_background()
        return op

    def open_selected_draft(self) -> None:
        self._open(self._selected(self.drafts_table, self.drafts_model))

    def write_selected(self) -> None:
        self._open(self._selected(self.missing_table, self.missing_model))

    def _preview_cosign(self) -> None:
        from iopdesk.ui.pages.loading import load

        item = self._selected(self.cosign_table, self.cosign_model)
        if item is None:
            return
        db, actor, note_id = self.ctx.db, self.ctx.actor, item.id

        def read() -> str:
            try:
                return note_text(notes.read_note(db, actor, note_id))
            except UserError as exc:
                return exc.message

        load(self.cosign_view, read, self.cosign_view.setPlainText)

    def cosign_selected(self) -> int:
        """Co-sign every selected note (a group note: every client's entry) in the background,
        then move on to the next note in the queue; returns how many rows were sent
        (`last_cosign` is the op)."""
        rows = sorted({i.row() for i in self.cosign_table.selectionModel().selectedRows()})
        items = [self.cosign_model.row_at(r) for r in rows]
        if not items:
            msgbox.info(self, "Co-sign", "Select the notes to co-sign first.")
            return 0
        if len(items) > 1 and not msgbox.confirm(
            self, "Co-sign notes", f"Co-sign the {len(items)} selected notes?", default=True
        ):
            return 0
        db, actor = self.ctx.db, self.ctx.actor

        def work() -> tuple[int, UserError | None]:
            done = 0
            try:
                for item in items:
                    for note_id, version in item.members or ((item.id, item.version),):
                        notes.cosign_note(db, actor, note_id, version)
                        done += 1
            except UserError as exc:
                return done, exc
            return done, None

        def next_note() -> None:
            # The next note waiting (the one now in the first co-signed row's place) is
            # selected and shown, ready to read and co-sign.
            if self.cosign_model.rowCount():
                nxt = min(rows[0], self.cosign_model.rowCount() - 1)
                self.cosign_table.selectRow(nxt)
                self._preview_cosign()

        def signed(result: tuple[int, UserError | None]) -> None:
            if result[1] is not None:
                msgbox.user_error(self, result[1])
            self.refresh(then=next_note)

        self.last_cosign = ops.Op(self, work).success(signed).run_in_background()
        return len(items)


def _bar(*buttons: QPushButton) -> QHBoxLayout:
    bar = QHBoxLayout()
    bar.addStretch(1)
    for b in buttons:
        bar.addWidget(b)
    return bar


# -- the chart's Notes tab actions -----------------------------------------------------------
class ChartNoteActions(QWidget):
    """New note / Add addendum / Co-sign / Print under the chart's notes list."""

    def __init__(self, chart: ChartPage) -> None:
        super().__init__()
        self.chart = chart
        ctx = chart.ctx
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.new_btn = QPushButton("New note")
        self.edit_btn = QPushButton("Edit draft")
        self.edit_btn.clicked.connect(self.edit_draft)
        self.addendum_btn = QPushButton("Add addendum")
        self.cosign_btn = QPushButton("Co-sign")
        self.print_btn = QPushButton("Print...")
        self.new_btn.clicked.connect(self.new_note)
        self.addendum_btn.clicked.connect(self.add_addendum)
        self.cosign_btn.clicked.connect(self.cosign)
        self.print_btn.clicked.connect(lambda: self.print_note())
        for b in (self.new_btn, self.edit_btn, self.addendum_btn, self.cosign_btn, self.print_btn):
            lay.addWidget(b)
        lay.addStretch(1)
        writer = ctx.can(Perm.CLINICAL_WRITE)
        self.new_btn.setVisible(writer)
        self.edit_btn.setVisible(writer)
        self.addendum_btn.setVisible(writer)
        self.cosign_btn.setVisible(ctx.can(Perm.NOTE_COSIGN))
        self.print_btn.setVisible(ctx.can(Perm.CLINICAL_VIEW))
        self.setVisible(ctx.can(Perm.CLINICAL_VIEW))
        self.dialog: QDialog | None = None
        self.last_op: ops.Op[Any] | None = None
        self.ask_text: Callable[[str], str | None] = self._ask_text
        self.choose_session: Callable[[list[notes.QueueItem]], int | bool | None] = (
            self._choose_session
        )

    def selected(self) -> notes.NoteHeader | None:
        index = self.chart.notes_table.currentIndex()
        if not index.isValid():
            return None
        return self.chart.notes_model.row_at(index.row())

    def _reload(self) -> None:
        """Reload the list keeping the selected note selected and shown (a new addendum or
        co-signature appears at once, without choosing the note again)."""
        if self.chart.client_id is None:
            return
        from iopdesk.ui import ops

        cid = self.chart.client_id
        current = self.selected()
        db, actor = self.chart.ctx.db, self.chart.ctx.actor

        def show(headers: list[notes.NoteHeader]) -> None:
            if self.chart.client_id != cid:
                return  # another chart was opened meanwhile
            self.chart.notes_model.set_rows(headers)
            if current is None:
                return
            for row, header in enumerate(self.chart.notes_model.rows):
                if header.id == current.id:
                    index = self.chart.notes_model.index(row, 0)
                    self.chart.notes_table.setCurrentIndex(index)
                    self.chart._show_note(index)
                    return

        self.chart.refresh_safety()  # a risk screen with ideation raises the flag
        ops.Op(self, lambda: notes.list_note_headers(db, actor, cid), takes_control=False).success(
            show
        ).run_in_background()

    def _choose_session(self, sessions: list[notes.QueueItem]) -> int | bool | None:
        """Which held session the note documents (False: cancelled)."""
        from PySide6.QtWidgets import QInputDialog

        labels = [f"{q.service_date:%m/%d/%Y} {q.title}" for q in sessions]
        labels.append("No session (other contact)")
        choice, ok = QInputDialog.getItem(
            self, "New note", "Session this note documents:", labels, 0, False
        )
        if not ok:
            return False
        index = labels.index(choice)
        return sessions[index].session_id if index < len(sessions) else None

    def _run(
        self,
        button: QPushButton,
        work: Callable[[], Any],
        done: Callable[[Any], Any],
    ) -> ops.Op[Any]:
        """A button's service call on a worker, the button off meanwhile; a refusal is said in a
        box, a stale note reloads the list."""
        button.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(button):
                button.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, work, takes_control=False).success(done)
        self.last_op = op.on_stale(self._reload).on_done(enable).run_in_background()
        return op

    def new_note(self) -> ops.Op[Any] | None:
        """A new progress note; the client's held sessions without a note are offered first
        (read on a worker, then the editor's content, then the editor opens)."""
        cid = self.chart.client_id
        if cid is None:
            return None
        ctx = self.chart.ctx
        label = self.chart.name.text()

        def chosen(sessions: list[notes.QueueItem]) -> None:
            session_id = self.choose_session(sessions) if sessions else None
            if session_id is False:
                return
            sid = session_id if isinstance(session_id, int) else None
            self._run(
                self.new_btn,
                lambda: read_editor(ctx, cid, session_id=sid),
                lambda read: self._exec(
                    NoteEditorDialog(
                        ctx, cid, session_id=sid, client_label=label, parent=self, read=read
                    )
                ),
            )

        return self._run(
            self.new_btn, lambda: notes.client_sessions(ctx.db, ctx.actor, cid), chosen
        )

    def edit_draft(self) -> None:
        header = self.selected()
        if header is not None and header.status == "signed":
            # A signed note is locked: say so and offer the way to correct it.
            if msgbox.confirm(
                self,
                "This note is signed",
                f"The {header.format} note of {header.service_date:%m/%d/%Y} is signed and "
                "locked, so it cannot be edited. A correction or late information is added as "
                "an addendum, dated and signed, below the note.\n\nAdd an addendum now?",
                default=True,
            ):
                self.add_addendum()
            return
        if header is not None and header.group_note_id is not None:
            msgbox.info(
                self,
                "Edit draft",
                "This is a client's part of a group note: open it from Notes > My drafts, "
                "where the whole group note is edited.",
            )
            return
        if header is None or header.status != "draft":
            msgbox.info(self, "Edit draft", "Select one of your draft progress notes.")
            return
        ctx, label = self.chart.ctx, self.chart.name.text()
        self._run(
            self.edit_btn,
            lambda: read_editor(ctx, header.client_id, note_id=header.id),
            lambda read: self._exec(
                NoteEditorDialog(
                    ctx,
                    header.client_id,
                    note_id=header.id,
                    client_label=label,
                    parent=self,
                    read=read,
                )
            ),
        )

    def _exec(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.exec()
        self.dialog = None
        self._reload()

    def _ask_text(self, title: str) -> str | None:
        from PySide6.QtWidgets import QInputDialog

        text, ok = QInputDialog.getMultiLineText(self, title, "Addendum text (dated and signed):")
        return text if ok else None

    def add_addendum(self) -> None:
        header = self.selected()
        if header is None:
            msgbox.info(self, "Add addendum", "Select a signed note first.")
            return
        text = self.ask_text("Add addendum")
        if not text:
            return
        db, actor = self.chart.ctx.db, self.chart.ctx.actor

        def work() -> None:
            add = notes.add_addendum(db, actor, header.id, text)
            notes.sign_addendum(db, actor, add.id, add.version)

        self._run(self.addendum_btn, work, lambda _r: self._reload())

    def cosign(self) -> None:
        header = self.selected()
        if header is None:
            return
        db, actor = self.chart.ctx.db, self.chart.ctx.actor
        self._run(
            self.cosign_btn,
            lambda: notes.cosign_note(db, actor, header.id, header.version),
            lambda _r: self._reload(),
        )

    def print_note(
        self, path: Path | None = None, release: Release | None = None
    ) -> ops.Op[Path] | None:
        """Ask who receives it and where, then write the PDF on a worker (the op's result is
        the path). None: nothing to print or the user cancelled."""
        header = self.selected()
        if header is None:
            msgbox.info(self, "Print note", "Select a note first.")
            return None
        if path is None:
            from iopdesk.ui.pages.privacy import ask_release

            release = ask_release(self, "A progress note", allow_client_copy=True)
            if release is None:
                return None
            name, _ = QFileDialog.getSaveFileName(
                self,
                "Save note as PDF",
                str(files.default_path(f"note-{header.service_date:%Y%m%d}.pdf")),
                "PDF (*.pdf)",
            )
            if not name:
                return None
            path = Path(name)
        db, actor, out = self.chart.ctx.db, self.chart.ctx.actor, path
        return self._run(
            self.print_btn,
            lambda: notes.print_note(db, actor, header.id, out, release=release),
            lambda _r: None,
        )
