"""What the schedule dialogs share: the client picker, time fields and the dialog base that
marks fields and closes on a stale record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    Qt,
    QTime,
)
from PySide6.QtGui import (
    QFont,
    QFontMetrics,
)
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QTimeEdit,
    QWidget,
)

from iopdesk.errors import StaleRecordError, UserError, ValidationError
from iopdesk.models.enums import ClientStatus, Role
from iopdesk.services.clients import CensusRow
from iopdesk.services.staff import StaffInfo
from iopdesk.services.textfold import fold
from iopdesk.ui import msgbox, ops
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.forms import FormDialog, submit
from iopdesk.ui.pages.clients import STATUS_LABELS
from iopdesk.ui.pages.intake import FORM_CSS, mark_invalid
from iopdesk.ui.pages.schedule.labels import DIALOG_CSS

# -- pick lists ------------------------------------------------------------------------------
FOLDED_ROLE = Qt.ItemDataRole.UserRole + 7


def client_label(r: CensusRow) -> str:
    label = f"{r.last_name}, {r.first_name} ({r.mrn})"
    if r.status != ClientStatus.ACTIVE:
        label += f" - {STATUS_LABELS.get(r.status, r.status)}"
    return label


def client_combo(rows: Sequence[CensusRow]) -> QComboBox:
    """An editable combo that finds a client by any part of the name or MRN."""
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setMaxVisibleItems(14)
    add_clients(combo, rows)
    completer = QCompleter(combo.model(), combo)
    completer.setCompletionRole(FOLDED_ROLE)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)
    combo.setCurrentIndex(-1)
    line = combo.lineEdit()
    if line is not None:
        line.setPlaceholderText("Type part of a name or MRN...")
    return combo


def add_clients(combo: QComboBox, rows: Sequence[CensusRow]) -> None:
    """Add clients to a `client_combo` (e.g. when its list arrives from a worker); what the
    user typed meanwhile stays."""
    typed = combo.currentText() if combo.currentIndex() < 0 else None
    for r in rows:
        label = client_label(r)
        combo.addItem(label, r.id)
        # Matched on the label and its accent-folded form: "martinez" finds "Martínez".
        combo.setItemData(combo.count() - 1, f"{label}\n{fold(label)}", FOLDED_ROLE)
    if typed is not None:
        combo.setCurrentIndex(-1)  # adding to an empty combo selects its first entry
        if combo.lineEdit() is not None:
            combo.setEditText(typed)


def chosen_client(combo: QComboBox) -> int | None:
    """The client whose entry matches the text exactly, or the only one containing it."""
    text = fold(combo.currentText().strip().split("\n")[0])
    if not text:
        return None
    matches = []
    for i in range(combo.count()):
        label = fold(combo.itemText(i))
        if label == text:
            return int(combo.itemData(i))
        if text in label:
            matches.append(int(combo.itemData(i)))
    return matches[0] if len(matches) == 1 else None


def clinical_staff(people: Sequence[StaffInfo]) -> list[StaffInfo]:
    clinical = {Role.THERAPIST.value, Role.SUPERVISOR.value}
    return [p for p in people if clinical & {r.strip() for r in p.roles.split(",")}]


# -- dialogs ---------------------------------------------------------------------------------
@dataclass
class Save:
    """What a schedule dialog's `action` hands back: `work` (the service call, run on an op
    worker with everything it needs already read from the fields) and `then(result)` (on the
    GUI thread after it succeeded, before the dialog closes)."""

    work: Callable[[], Any]
    then: Callable[[Any], Any] | None = None


class _ScheduleDialog(FormDialog):
    """FormDialog plus field marks from ValidationError.fields, and a stale record closes the
    dialog with the standard message (the page then reloads). `action` checks what was typed
    (GUI thread) and returns a `Save`, run in the background (buttons off meanwhile; a refusal
    marks its fields and keeps the dialog open with everything typed); returning False keeps
    the dialog open without an error (the user said No to a question).

    `read(fn, fill)` reads what the dialog needs to open (pick lists) on a worker and fills
    the fields when it arrives; OK waits for it."""

    def __init__(self, title: str, subtitle: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(title, subtitle, ok_text, parent)
        self.setStyleSheet(FORM_CSS + DIALOG_CSS)
        ok = self.buttons.button(self.buttons.StandardButton.Ok)
        bold = QFont(ok.font())
        bold.setBold(True)  # the default button is drawn bold; its size hint is not
        ok.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(ok_text) + 40)
        self.fields: dict[str, QWidget] = {}
        self.stale = False
        self.action: Callable[[], Save | bool | None] | None = None
        self.reading: ops.Op[Any] | None = None

    def read(self, fn: Callable[[], Any], fill: Callable[[Any], Any]) -> ops.Op[Any]:
        """Read on a worker what the dialog shows (OK is off until `fill` has run)."""
        self.buttons.setEnabled(False)
        self.reading = (
            ops.Op(self, fn, takes_control=False)
            .success(fill)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )
        return self.reading

    def _mark(self, exc: ValidationError) -> None:
        for name, message in exc.fields.items():
            if name in self.fields:
                mark_invalid(self.fields[name], message)

    def show_error(self, text: str) -> None:
        error = self.last_op.error if self.last_op is not None else None
        if isinstance(error, ValidationError) and error.message == text:
            self._mark(error)  # a refusal from the save: mark its fields too
        super().show_error(text)

    def _stale(self) -> None:
        """After 'changed on another workstation' (said in a box): close, the page reloads."""
        self.stale = True
        self.reject()

    def _try_accept(self) -> None:
        for widget in self.fields.values():
            mark_invalid(widget, None)
        self.error.hide()
        self.last_op = None
        try:
            outcome = self.action() if self.action is not None else None
        except StaleRecordError as exc:
            self._stale_now(exc)
            return
        except ValidationError as exc:
            self._mark(exc)
            self.show_error(exc.message)
            return
        except UserError as exc:
            self.show_error(exc.message)
            return
        if outcome is False:
            return
        if isinstance(outcome, Save):
            then = outcome.then
            self.last_op = submit(
                self, outcome.work, lambda r: self._saved_with(then, r), reload=self._stale
            )
            return
        self.accept()

    def _stale_now(self, exc: StaleRecordError) -> None:
        msgbox.user_error(self, exc)
        self._stale()

    def _saved_with(self, then: Callable[[Any], Any] | None, result: Any) -> None:
        self.saved = result
        if then is not None:
            then(result)
        self.accept()


def _date_edit(value: dt.date) -> DateEdit:
    return DateEdit(value, weekday=True)


def _time_edit(value: dt.time) -> QTimeEdit:
    edit = QTimeEdit(QTime(value.hour, value.minute))
    edit.setDisplayFormat("HH:mm")
    edit.lineEdit().setTextMargins(6, 0, 0, 0)  # line up with the other fields' text
    edit.setToolTip(
        "24-hour clock, e.g. 13:30. Up and Down arrows change the part under the cursor."
    )
    edit.setMinimumWidth(80)
    return edit


def _to_time(value: QTime) -> dt.time:
    return dt.time(value.hour(), value.minute())
