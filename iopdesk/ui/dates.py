"""The one date-entry box of the app (issue 19 item 2).

A text box that accepts the usual ways of typing a US date (see services/datetext.py), with a
calendar button. Leaving the box reformats a good date as MM/DD/YYYY; an impossible or
unreadable date turns the box red with the plain message as its tooltip (and `committed` lets a
form show it beside the box),
and keeps the text so nothing typed is lost. `value()` refuses such text with a
ValidationError naming the field. A date of birth (`past=True`) is never prefilled.

It keeps the parts of QDateEdit's interface the screens use (date/setDate/dateChanged,
minimum/maximum), so it replaces QDateEdit where a user types dates.
"""

from __future__ import annotations

import datetime as dt
from datetime import date

from PySide6.QtCore import QDate, QEvent, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QCalendarWidget,
    QFrame,
    QLineEdit,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import ValidationError
from iopdesk.services.datetext import PLACEHOLDER, format_date, parse_date
from iopdesk.ui import clock


def to_qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def from_qdate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _as_date(value: date | QDate) -> date:
    return from_qdate(value) if isinstance(value, QDate) else value


class _CalendarPopup(QFrame):
    def __init__(self, owner: DateEdit) -> None:
        super().__init__(owner, Qt.WindowType.Popup)
        self.setObjectName("datePopup")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.calendar = QCalendarWidget()
        self.calendar.setGridVisible(False)
        self.calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        lay.addWidget(self.calendar)
        self.calendar.clicked.connect(self._picked)
        self.calendar.activated.connect(self._picked)
        self.owner = owner

    def _picked(self, day: QDate) -> None:
        self.owner.set_value(from_qdate(day))
        self.owner.dateChanged.emit(day)
        self.hide()
        self.owner.setFocus()


class DateEdit(QLineEdit):
    """A typed date. `optional`: blank is allowed (value() None); otherwise leaving the box blank
    restores the last good date (a navigation date such as a report's week) unless `past` or
    `blank_ok`."""

    dateChanged = Signal(QDate)
    committed = Signal()  # after each reading of the text (good or not)

    def __init__(
        self,
        value: dt.date | None = None,
        *,
        past: bool = False,
        optional: bool = False,
        weekday: bool = False,
        minimum: dt.date | None = None,
        maximum: dt.date | None = None,
        blank_page: dt.date | None = None,
        label: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.past = past
        self.optional = optional or past
        self.weekday = weekday
        self.minimum = minimum
        self.maximum = maximum
        self.blank_page = blank_page
        self.label = label
        self.error = ""
        self._value: dt.date | None = None
        self.setPlaceholderText(PLACEHOLDER)
        self.setToolTip("Type the date (for example 03/15/1988 or 03151988) or pick it.")
        sample = "Wed 00/00/0000" if weekday else "00/00/0000"
        self._width = self.fontMetrics().horizontalAdvance(sample) + 48
        self.setMinimumWidth(self._width)
        self._popup: _CalendarPopup | None = None
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView)
        self.pick = QAction(QIcon(icon), "Pick a date", self)
        self.pick.triggered.connect(self.open_calendar)
        self.addAction(self.pick, QLineEdit.ActionPosition.TrailingPosition)
        self.editingFinished.connect(self.commit)
        if value is not None and not past:
            self.set_value(value)

    def sizeHint(self) -> QSize:
        return QSize(self._width, super().sizeHint().height())

    # -- QDateEdit-like interface ------------------------------------------------------------
    def date(self) -> QDate:
        return QDate() if self._value is None else to_qdate(self._value)

    def setDate(self, value: dt.date | QDate) -> None:
        new = _as_date(value)
        changed = new != self._value
        self.set_value(new)
        if changed:
            self.dateChanged.emit(to_qdate(new))

    def setMaximumDate(self, value: dt.date | QDate) -> None:
        self.maximum = _as_date(value)

    def setMinimumDate(self, value: dt.date | QDate) -> None:
        self.minimum = _as_date(value)

    def setCalendarPopup(self, _on: bool) -> None:
        """Always has a calendar button."""

    # -- values ------------------------------------------------------------------------------
    def set_value(self, value: dt.date | None) -> None:
        self._value = value
        self.setText(format_date(value, weekday=self.weekday))
        self._set_error("")

    def value(self) -> dt.date | None:
        """The date shown (None when blank and allowed); ValidationError for a bad entry."""
        if self.text().strip() != format_date(self._value, weekday=self.weekday):
            self.commit()
        if self.error:
            key = self.objectName() or "date"
            raise ValidationError(self.error, {key: self.error})
        return self._value

    def check(self, text: str) -> dt.date | None:
        """Parse and range-check `text`; ValueError with a plain message."""
        day = parse_date(text, today=clock.today(), past=self.past)
        if day is None:
            return None
        what = self.label or ("The date of birth" if self.past else "The date")
        if self.past and day > clock.today():
            raise ValueError(f"{what} {day:%m/%d/%Y} is in the future.")
        if self.maximum is not None and day > self.maximum:
            raise ValueError(f"{what} must be on or before {self.maximum:%m/%d/%Y}.")
        if self.minimum is not None and day < self.minimum:
            raise ValueError(f"{what} must be on or after {self.minimum:%m/%d/%Y}.")
        return day

    def commit(self) -> None:
        """Read what was typed: reformat a good date, or show why it is not one."""
        text = self.text()
        try:
            day: dt.date | None = self.check(text)
            problem = ""
        except ValueError as exc:
            day, problem = None, str(exc)
        if problem:
            self._set_error(problem)
        elif day is None and not self.optional:
            self.set_value(self._value)  # a navigation date cannot be blank: keep the last one
        else:
            changed = day != self._value
            self.set_value(day)
            if changed:
                self.dateChanged.emit(QDate() if day is None else to_qdate(day))
        self.committed.emit()

    def _set_error(self, message: str) -> None:
        self.error = message
        if bool(self.property("invalid")) != bool(message):
            self.setProperty("invalid", bool(message))
            self.style().unpolish(self)
            self.style().polish(self)
        base = "Type the date (for example 03/15/1988 or 03151988) or pick it."
        self.setToolTip(message or base)

    # -- keys and calendar -------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
        ):
            self.commit()  # also when the window is not active (no focus-out to finish on)
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down and event.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.open_calendar()
            return
        elif event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self._value is not None:
            step = 1 if event.key() == Qt.Key.Key_Up else -1
            self.setDate(to_qdate(self._value).addDays(step))
            return
        super().keyPressEvent(event)

    def open_calendar(self) -> None:
        if self._popup is None:
            self._popup = _CalendarPopup(self)
        cal = self._popup.calendar
        if self.minimum is not None:
            cal.setMinimumDate(to_qdate(self.minimum))
        if self.maximum is not None:
            cal.setMaximumDate(to_qdate(self.maximum))
        shown = self._value or self.blank_page or clock.today()
        if self._value is not None:
            cal.setSelectedDate(to_qdate(self._value))
        cal.setCurrentPage(shown.year, shown.month)
        self._popup.adjustSize()
        self._popup.move(self.mapToGlobal(QPoint(0, self.height())))
        self._popup.show()
        cal.setFocus()
