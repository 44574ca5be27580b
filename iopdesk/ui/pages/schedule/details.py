"""The details panel: the selected session, its roster and what can be done with it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.models.enums import SessionKind, SessionStatus
from iopdesk.services import schedule
from iopdesk.services.permissions import Perm
from iopdesk.services.schedule import (
    RosterEntry,
    SessionInfo,
)
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.schedule.labels import (
    KIND_COLORS,
    KIND_LABELS,
    MAX_CONFLICT_LINES,
    SOURCE_LABELS,
    duration_text,
    place_text,
    status_colors,
    status_text,
    time_range,
)
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title


# -- details panel ---------------------------------------------------------------------------
class DetailsPanel(QFrame):
    """The selected session: what, when, where, who, status, and its roster."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.setObjectName("detailsPanel")
        self.setMinimumWidth(290)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        empty = QWidget()
        el = QVBoxLayout(empty)
        el.setContentsMargins(20, 20, 20, 20)
        el.addStretch(1)
        self.placeholder = muted(
            "Select a session to see its details and roster.\n\n"
            "Click a day's heading to see that day as a list."
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        el.addWidget(self.placeholder)
        el.addStretch(2)
        self.stack.addWidget(empty)

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(14, 12, 14, 12)
        lay.setSpacing(6)
        self.title = QLabel("")
        self.title.setObjectName("detailsTitle")
        self.title.setWordWrap(True)
        self.when = muted("")
        pills = QHBoxLayout()
        pills.setSpacing(6)
        self.kind = QLabel("")
        self.kind.setObjectName("statusPill")
        self.status = QLabel("")
        self.status.setObjectName("statusPill")
        pills.addWidget(self.kind)
        pills.addWidget(self.status)
        pills.addStretch(1)
        lay.addWidget(self.title)
        lay.addWidget(self.when)
        lay.addLayout(pills)
        form = QFormLayout()
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(3)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.where = self._value()
        self.facilitators = self._value()
        self.topic = self._value()
        self.reason = self._value()
        self.topic_key = self._key("Topic")
        self.reason_key = self._key("Reason")
        form.addRow(self._key("Where"), self.where)
        form.addRow(self._key("Facilitators"), self.facilitators)
        form.addRow(self.topic_key, self.topic)
        form.addRow(self.reason_key, self.reason)
        lay.addLayout(form)
        self.conflict = QLabel("")
        self.conflict.setObjectName("detailConflict")
        self.conflict.setWordWrap(True)
        lay.addWidget(self.conflict)

        manage = ctx.can(Perm.SCHEDULE_MANAGE)
        actions = QGridLayout()
        actions.setHorizontalSpacing(6)
        actions.setVerticalSpacing(6)
        self.sign_in = QPushButton("Sign in...")
        self.sign_in.setObjectName("primary")
        self.sign_in.setVisible(ctx.can(Perm.ATTENDANCE_RECORD))
        self.edit_facilitators = QPushButton("Facilitators...")
        self.edit_facilitators.setToolTip("Choose who runs this session")
        self.cancel = QPushButton("Cancel session...")
        self.cancel.setToolTip("Cancel this one session, with a reason")
        self.reinstate = QPushButton("Reinstate")
        self.reinstate.setToolTip("Undo the cancellation of this session")
        for w in (self.edit_facilitators, self.cancel, self.reinstate):
            w.setVisible(manage)
        actions.addWidget(self.sign_in, 0, 0)
        actions.addWidget(self.edit_facilitators, 0, 1)
        actions.addWidget(self.cancel, 1, 0)
        actions.addWidget(self.reinstate, 1, 1)
        lay.addLayout(actions)

        roster_head = QHBoxLayout()
        roster_head.setSpacing(6)
        self.roster_title = section_title("Roster")
        self.add_client = QPushButton("Add client...")
        self.add_client.setToolTip("Add a client to this one session only")
        roster_head.addWidget(self.roster_title)
        roster_head.addStretch(1)
        roster_head.addWidget(self.add_client, 0, Qt.AlignmentFlag.AlignBottom)
        lay.addSpacing(2)
        lay.addLayout(roster_head)
        self.roster_model: RowsModel[RosterEntry] = RowsModel(
            [
                Column(
                    "Client",
                    lambda r: r.display_name,
                    sort_key=lambda r: (r.last.casefold(), r.first.casefold()),
                ),
                Column("MRN", lambda r: r.mrn),
                Column("Source", lambda r: SOURCE_LABELS.get(r.source, r.source)),
            ]
        )
        self.roster = make_table()
        self.roster.setObjectName("rosterTable")
        self.roster.setModel(self.roster_model)
        self.roster.setSortingEnabled(False)
        self.roster.setToolTip("Double-click a client to open the chart")
        self.roster.setMinimumHeight(90)
        header = self.roster.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.roster.verticalHeader().setDefaultSectionSize(26)
        lay.addWidget(self.roster, 1)
        foot = QHBoxLayout()
        foot.setSpacing(6)
        self.remove_client = QPushButton("Remove from this session")
        self.remove_client.setToolTip(
            "Take the selected client off this one session; they stay enrolled in the track"
        )
        self.roster_hint = muted("Double-click a client to open the chart.")
        foot.addWidget(self.remove_client)
        foot.addWidget(self.roster_hint, 1)
        foot.addStretch(0)
        lay.addLayout(foot)
        self.add_client.setVisible(manage)
        self.remove_client.setVisible(manage)
        self.roster_hint.setVisible(not manage)
        self.stack.addWidget(body)
        self.manage = manage
        self.info: SessionInfo | None = None

    @staticmethod
    def _key(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("formKey")
        return label

    @staticmethod
    def _value() -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def clear(self) -> None:
        self.info = None
        self.roster_model.set_rows([])
        self.stack.setCurrentIndex(0)

    def show_session(
        self, s: SessionInfo, roster: Sequence[RosterEntry], conflicts: Sequence[str]
    ) -> None:
        self.info = s
        self.stack.setCurrentIndex(1)
        self.title.setText(s.title)
        self.title.setToolTip(s.title)
        self.when.setText(f"{s.date:%a %m/%d/%Y},  {time_range(s)}  ({duration_text(s.minutes)})")
        self.kind.setText(KIND_LABELS.get(s.kind, s.kind.title()))
        self.kind.setStyleSheet(f"color: white; background: {KIND_COLORS.get(s.kind)};")
        fg, bg = status_colors(s)
        self.status.setText(status_text(s))
        self.status.setStyleSheet(f"color: {fg}; background: {bg};")
        self.where.setText(place_text(s))
        self.facilitators.setText("\n".join(s.facilitators) or "None set")
        self.topic.setText(s.topic)
        self.topic.setVisible(bool(s.topic))
        self.topic_key.setVisible(bool(s.topic))
        self.reason.setText(s.cancel_reason)
        self.reason.setVisible(bool(s.cancel_reason))
        self.reason_key.setVisible(bool(s.cancel_reason))
        shown = list(conflicts[:MAX_CONFLICT_LINES])
        if len(conflicts) > MAX_CONFLICT_LINES:
            shown.append(f"and {len(conflicts) - MAX_CONFLICT_LINES} more (point here to see all)")
        self.conflict.setText("\n".join(shown))
        self.conflict.setToolTip("\n".join(conflicts))
        self.conflict.setVisible(bool(conflicts))
        cancelled = s.is_cancelled
        self.sign_in.setEnabled(not cancelled)
        self.sign_in.setToolTip(
            "A cancelled session has no sign-in sheet."
            if cancelled
            else "Open the sign-in sheet for this session"
        )
        self.cancel.setVisible(self.manage and s.status == SessionStatus.SCHEDULED)
        self.reinstate.setVisible(self.manage and cancelled)
        group = s.kind == SessionKind.GROUP
        self.roster_title.setText(f"Roster ({len(roster)})" if group else "Client")
        self.roster_model.set_rows(roster)
        self.add_client.setVisible(self.manage and group)
        self.add_client.setEnabled(not cancelled)
        self.remove_client.setVisible(self.manage and group)
        self.roster_hint.setVisible(not (self.manage and group))
        self.update_remove()

    def selected_entry(self) -> RosterEntry | None:
        rows = self.roster.selectionModel().selectedRows()
        return self.roster_model.row_at(rows[0].row()) if rows else None

    def update_remove(self) -> None:
        entry = self.selected_entry()
        ok = (
            self.info is not None
            and not self.info.is_cancelled
            and entry is not None
            and entry.source != schedule.SOURCE_BOOKED
        )
        self.remove_client.setEnabled(ok)
        self.remove_client.setToolTip(
            "Take the selected client off this one session; they stay enrolled in the track"
            if entry is not None
            else "Select a client in the roster first"
        )
