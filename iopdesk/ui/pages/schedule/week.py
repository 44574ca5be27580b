"""The week grid: day columns of session cards, painted by a delegate, and the one-day table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from iopdesk.models.enums import SessionKind, SessionStatus
from iopdesk.services.schedule import (
    SessionInfo,
    WeekDay,
    WeekView,
)
from iopdesk.ui import style
from iopdesk.ui.pages.schedule.labels import (
    CANCELLED_BG,
    CANCELLED_TEXT,
    COLUMN_SPACING,
    CONFLICT_BORDER,
    KIND_COLORS,
    KIND_LABELS,
    SELECTED_BG,
    day_text,
    facilitators_short,
    long_day,
    plural,
    session_tooltip,
    short_place,
    short_status,
    short_title,
    status_text,
    table_title,
    time_range,
    who_of,
    wrap_text,
)
from iopdesk.ui.tablemodel import ROW_ROLE, Column, RowsModel


class DayHeader(QPushButton):
    """A week column's day button: "Mon 11/30", or "Mon 30" / "Mon" when the column is too
    narrow for it (1024x700), never a clipped label."""

    def __init__(self, siblings: list[DayHeader] | None = None) -> None:
        super().__init__("")
        self.day: dt.date | None = None
        self.siblings = siblings if siblings is not None else [self]

    def set_day(self, day: dt.date) -> None:
        self.day = day
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.day is None:
            return
        # One format for the whole week: the narrowest column decides ("Mon 11/30" ...).
        room = min(h.contentsRect().width() for h in self.siblings) - 8
        metrics = self.fontMetrics()
        for h in self.siblings:
            d = h.day
            if d is None:
                continue
            widest = max(
                (x.day for x in self.siblings if x.day is not None),
                key=lambda x: metrics.horizontalAdvance(day_text(x)),
            )
            for fmt in (day_text, lambda x: f"{x:%a} {x.day}", lambda x: f"{x:%a}"):
                if metrics.horizontalAdvance(fmt(widest)) <= room:
                    break
            text = fmt(d)
            if h.text() != text:
                h.setText(text)


# -- small drawn marks (no dependence on the fonts installed) --------------------------------
def paint_warning(painter: QPainter, rect: QRect) -> None:
    """An orange disc with "!": a scheduling conflict."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(style.WARN))
    painter.drawEllipse(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5))
    painter.setBrush(QColor("white"))
    cx = rect.left() + rect.width() / 2
    w = max(1.6, rect.width() / 7)
    top, bottom = rect.top() + rect.height() * 0.22, rect.top() + rect.height() * 0.6
    painter.drawRoundedRect(QRectF(cx - w / 2, top, w, bottom - top), w / 2, w / 2)
    painter.drawEllipse(QRectF(cx - w / 2, rect.top() + rect.height() * 0.68, w, w))
    painter.restore()


def paint_check(painter: QPainter, rect: QRect) -> None:
    """A green tick: the session was held."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(style.OK), max(1.6, rect.width() / 6))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    w, h = rect.width(), rect.height()
    path = QPainterPath()
    path.moveTo(rect.left() + w * 0.15, rect.top() + h * 0.55)
    path.lineTo(rect.left() + w * 0.42, rect.top() + h * 0.8)
    path.lineTo(rect.left() + w * 0.88, rect.top() + h * 0.22)
    painter.drawPath(path)
    painter.restore()


def mark_icon(paint: Callable[[QPainter, QRect], None], size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    paint(painter, QRect(0, 0, size, size))
    painter.end()
    icon = QIcon(pix)
    icon.addPixmap(pix, QIcon.Mode.Selected)  # not tinted on a selected table row
    return icon


def swatch_icon(color: str, size: int = 12, strike: bool = False) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 2, 2)
    painter.end()
    return QIcon(pix)


# -- week view: one list of session cards per day --------------------------------------------
class SessionListModel(QAbstractListModel):
    """A day's sessions for a DayList; the delegate paints them as cards."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[SessionInfo] = []
        self.conflicts: dict[int, list[str]] = {}

    def set_rows(self, rows: Sequence[SessionInfo], conflicts: dict[int, list[str]]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.conflicts = conflicts
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        s = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{time_range(s)} {short_title(s)}, {status_text(s)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return session_tooltip(s, self.conflicts.get(s.id, ()))
        if role == ROW_ROLE:
            return s
        return None


class CardDelegate(QStyledItemDelegate):
    """Paints a session as a compact card: time (with held / conflict marks), the track or
    client on up to two lines, and one detail line. The left stripe is the kind's colour;
    cancelled sessions are greyed and struck through."""

    GAP = 3
    PAD = 6
    STRIPE = 4

    def __init__(self, view: DayList) -> None:
        super().__init__(view)
        self.view = view

    @staticmethod
    def fonts(base: QFont) -> tuple[QFont, QFont, QFont]:
        size = base.pointSizeF() if base.pointSizeF() > 0 else 10.0
        time_font = QFont(base)
        time_font.setPointSizeF(size - 1.5)
        time_font.setBold(True)
        title_font = QFont(base)
        title_font.setPointSizeF(size - 0.5)
        small_font = QFont(base)
        small_font.setPointSizeF(size - 1.5)
        return time_font, title_font, small_font

    def text_width(self, width: int) -> int:
        return max(30, width - 2 * (self.GAP + self.PAD) - self.STRIPE)

    @staticmethod
    def title_of(s: SessionInfo) -> str:
        return who_of(s) or s.title

    @staticmethod
    def detail_of(s: SessionInfo) -> str:
        if s.status == SessionStatus.CANCELLED:
            return "Closed" if s.cancelled_by_clinic and s.cancel_reason else "Cancelled"
        if s.kind == SessionKind.GROUP:
            return plural(s.roster_count, "client")
        return KIND_LABELS.get(s.kind, s.kind.title())

    def layout_for(self, s: SessionInfo, base: QFont, width: int) -> tuple[list[str], int]:
        time_font, title_font, small_font = self.fonts(base)
        fm = QFontMetrics(title_font)
        lines = wrap_text(self.title_of(s), fm, self.text_width(width), 2)
        height = (
            2 * (self.GAP + self.PAD)
            + QFontMetrics(time_font).height()
            + len(lines) * fm.height()
            + QFontMetrics(small_font).height()
            + 2
        )
        return lines, height

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        s = index.data(ROW_ROLE)
        if not isinstance(s, SessionInfo):
            return super().sizeHint(option, index)
        width = self.view.width()
        return QSize(width, self.layout_for(s, self.view.font(), width)[1])

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        s = index.data(ROW_ROLE)
        if not isinstance(s, SessionInfo):
            super().paint(painter, option, index)
            return
        full: QRect = option.rect
        rect = full.adjusted(self.GAP, self.GAP, -self.GAP, -self.GAP)
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        focused = selected and self.view.hasFocus()
        hover = bool(state & QStyle.StateFlag.State_MouseOver)
        cancelled = s.is_cancelled
        conflict = s.id in self.view.model_.conflicts
        base = self.view.font()
        time_font, title_font, small_font = self.fonts(base)
        lines, _ = self.layout_for(s, base, full.width())
        kind_color = KIND_COLORS.get(s.kind, style.ACCENT)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        path.addRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        background = SELECTED_BG if selected else (CANCELLED_BG if cancelled else "white")
        painter.fillPath(path, QColor(background))
        painter.setClipPath(path)
        painter.fillRect(
            QRect(rect.left(), rect.top(), self.STRIPE, rect.height()),
            QColor(CANCELLED_TEXT if cancelled else kind_color),
        )
        painter.setClipping(False)
        border = style.BORDER
        if conflict:
            border = CONFLICT_BORDER
        if hover:
            border = "#9fb3c4"
        if selected:
            border = style.ACCENT
        painter.setPen(QPen(QColor(border), 2.0 if focused else 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)

        x = rect.left() + self.STRIPE + self.PAD
        y = rect.top() + self.PAD
        width = self.text_width(full.width())
        for font in (time_font, title_font):
            font.setStrikeOut(cancelled)
        tm = QFontMetrics(time_font)
        painter.setFont(time_font)
        painter.setPen(QColor(CANCELLED_TEXT if cancelled else kind_color))
        painter.drawText(
            QRect(x, y, width, tm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            tm.elidedText(time_range(s), Qt.TextElideMode.ElideRight, width),
        )
        y += tm.height() + 1
        painter.setFont(title_font)
        painter.setPen(QColor(CANCELLED_TEXT if cancelled else style.TEXT))
        fm = QFontMetrics(title_font)
        for line in lines:
            painter.drawText(QRect(x, y, width, fm.height()), Qt.AlignmentFlag.AlignLeft, line)
            y += fm.height()
        y += 1
        painter.setFont(small_font)
        sm = QFontMetrics(small_font)
        # Marks at the right of the detail line: held (tick), conflict (orange "!").
        mark = sm.height() - 1
        right = x + width
        if conflict:
            right -= mark
            paint_warning(painter, QRect(right, y, mark, mark))
            right -= 3
        if s.status == SessionStatus.HELD:
            right -= mark
            paint_check(painter, QRect(right, y, mark, mark))
            right -= 3
        painter.setPen(QColor(style.BAD if cancelled else style.MUTED))
        detail = sm.elidedText(self.detail_of(s), Qt.TextElideMode.ElideRight, right - x)
        painter.drawText(QRect(x, y, right - x, sm.height()), Qt.AlignmentFlag.AlignLeft, detail)
        painter.restore()


class DayList(QListView):
    """One day's cards, exactly as tall as its cards: the week scrolls as one. Left/Right move
    to the neighbouring day (the week grid handles it)."""

    step = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("dayList")
        self.model_ = SessionListModel(self)
        self.setModel(self.model_)
        self.delegate = CardDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(0)

    def set_rows(self, rows: Sequence[SessionInfo], conflicts: dict[int, list[str]]) -> None:
        self.model_.set_rows(rows, conflicts)
        self.fit_height()

    def fit_height(self) -> None:
        width = self.width()
        font = self.font()
        total = sum(self.delegate.layout_for(s, font, width)[1] for s in self.model_.rows)
        if total != self.height():
            self.setFixedHeight(total)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the week's scroll area scrolls

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right) and not event.modifiers():
            self.step.emit(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        super().keyPressEvent(event)

    def session_at(self, row: int) -> SessionInfo:
        return self.model_.rows[row]


class DayColumn(QFrame):
    """The body of one day: a closure badge, the cards, "No sessions"."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("dayColumn")
        self.day: WeekDay | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        self.closed = QLabel("")
        self.closed.setObjectName("closedBadge")
        self.closed.setWordWrap(True)
        self.closed.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.closed.hide()
        self.list = DayList()
        self.empty = QLabel("No sessions")
        self.empty.setObjectName("dayEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty.hide()
        lay.addWidget(self.closed)
        lay.addWidget(self.list)
        lay.addWidget(self.empty)
        lay.addStretch(1)

    def set_day(self, day: WeekDay, conflicts: dict[int, list[str]]) -> None:
        self.day = day
        self.setProperty("closed", day.closure is not None)
        self.style().unpolish(self)
        self.style().polish(self)
        self.closed.setVisible(day.closure is not None)
        if day.closure is not None:
            self.closed.setText(f"Closed: {day.closure}")
            self.closed.setToolTip(
                f"The clinic is closed on {long_day(day.date)}: {day.closure}.\n"
                "Right-click the day's heading to reopen it."
            )
        self.list.set_rows(day.sessions, conflicts)
        self.list.setVisible(bool(day.sessions))
        self.empty.setVisible(not day.sessions and day.closure is None)


class WeekGrid(QWidget):
    """Day headings (click: that day as a list), seven day columns that scroll together, one
    selection across all of them, and a legend."""

    session_selected = Signal(object)  # SessionInfo | None
    day_opened = Signal(object)  # datetime.date
    session_menu = Signal(object, QPoint)  # SessionInfo, global position
    day_menu = Signal(object, QPoint)  # WeekDay, global position

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        heads = QHBoxLayout()
        heads.setContentsMargins(0, 0, 0, 0)
        heads.setSpacing(COLUMN_SPACING)
        self.headers: list[DayHeader] = []
        for _ in range(7):
            header = DayHeader(self.headers)
            header.setObjectName("dayHeader")
            header.setCursor(Qt.CursorShape.PointingHandCursor)
            header.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            heads.addWidget(header, 1)
            self.headers.append(header)
        self.scrollbar_gap = QWidget()
        self.scrollbar_gap.setFixedWidth(0)
        heads.addWidget(self.scrollbar_gap)
        outer.addLayout(heads)

        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("weekScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("weekBody")
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(COLUMN_SPACING)
        self.columns: list[DayColumn] = []
        for _ in range(7):
            column = DayColumn()
            column.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            row.addWidget(column, 1)
            self.columns.append(column)
        self.scroll_area.setWidget(body)
        outer.addWidget(self.scroll_area, 1)
        bar = self.scroll_area.verticalScrollBar()
        bar.rangeChanged.connect(self._scrollbar_changed)
        outer.addLayout(self._legend())

        self._syncing = False
        for i, (header, column) in enumerate(zip(self.headers, self.columns, strict=True)):
            header.clicked.connect(lambda _c=False, col=column: self._open_day(col))
            header.customContextMenuRequested.connect(
                lambda pos, col=column, h=header: self._day_menu(col, h.mapToGlobal(pos))
            )
            lst = column.list
            lst.step.connect(lambda delta, i=i: self._step(i, delta))
            lst.selectionModel().selectionChanged.connect(
                lambda _s, _d, col=column: self._selection_changed(col)
            )
            lst.selectionModel().currentChanged.connect(
                lambda cur, _prev, col=column: self._ensure_visible(col, cur)
            )
            lst.customContextMenuRequested.connect(
                lambda pos, col=column: self._session_menu(col, pos)
            )

    @staticmethod
    def _legend() -> QHBoxLayout:
        lay = QHBoxLayout()
        lay.setContentsMargins(2, 0, 0, 0)
        lay.setSpacing(4)
        items: list[tuple[QIcon, str]] = [
            (swatch_icon(KIND_COLORS[k]), KIND_LABELS[k]) for k in KIND_LABELS
        ]
        items += [
            (mark_icon(paint_check, 12), "Held"),
            (mark_icon(paint_warning, 12), "Conflict"),
            (swatch_icon(CANCELLED_TEXT), "Cancelled (struck through)"),
        ]
        for icon, text in items:
            pic = QLabel()
            pic.setPixmap(icon.pixmap(12, 12))
            label = QLabel(text)
            label.setObjectName("legend")
            lay.addWidget(pic)
            lay.addWidget(label)
            lay.addSpacing(10)
        lay.addStretch(1)
        return lay

    def set_week(self, week: WeekView, today: dt.date, conflicts: dict[int, list[str]]) -> None:
        self._syncing = True
        try:
            for header, column, day in zip(self.headers, self.columns, week.days, strict=True):
                header.set_day(day.date)
                header.setToolTip(f"Show {long_day(day.date)} as a list")
                header.setProperty("today", day.date == today)
                header.style().unpolish(header)
                header.style().polish(header)
                column.set_day(day, conflicts)
        finally:
            self._syncing = False

    def _scrollbar_changed(self, _low: int, high: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self.scrollbar_gap.setFixedWidth(bar.sizeHint().width() if high > 0 else 0)

    def sessions(self) -> list[SessionInfo]:
        return [s for c in self.columns for s in c.list.model_.rows]

    def selected(self) -> SessionInfo | None:
        for column in self.columns:
            rows = column.list.selectionModel().selectedRows()
            if rows:
                return column.list.session_at(rows[0].row())
        return None

    def select_session(self, session_id: int) -> bool:
        for column in self.columns:
            for row, s in enumerate(column.list.model_.rows):
                if s.id == session_id:
                    column.list.setCurrentIndex(column.list.model_.index(row, 0))
                    return True
        return False

    def _ensure_visible(self, column: DayColumn, index: QModelIndex) -> None:
        if not index.isValid():
            return
        rect = column.list.visualRect(index)
        body = self.scroll_area.widget()
        if body is None:
            return
        top = column.list.viewport().mapTo(body, rect.topLeft())
        half = rect.height() // 2
        self.scroll_area.ensureVisible(top.x(), top.y() + half, 0, half + 8)

    def _selection_changed(self, source: DayColumn) -> None:
        if self._syncing:
            return
        rows = source.list.selectionModel().selectedRows()
        if not rows:
            if self.selected() is None:
                self.session_selected.emit(None)
            return
        self._syncing = True
        try:
            for column in self.columns:
                if column is not source:
                    column.list.clearSelection()
        finally:
            self._syncing = False
        self.session_selected.emit(source.list.session_at(rows[0].row()))

    def _step(self, index: int, delta: int) -> None:
        row = max(0, self.columns[index].list.currentIndex().row())
        i = index + delta
        while 0 <= i < 7:
            target = self.columns[i].list
            count = target.model_.rowCount()
            if count:
                target.setFocus()
                target.setCurrentIndex(target.model_.index(min(row, count - 1), 0))
                return
            i += delta

    def _open_day(self, column: DayColumn) -> None:
        if column.day is not None:
            self.day_opened.emit(column.day.date)

    def _day_menu(self, column: DayColumn, pos: QPoint) -> None:
        if column.day is not None:
            self.day_menu.emit(column.day, pos)

    def _session_menu(self, column: DayColumn, pos: QPoint) -> None:
        index = column.list.indexAt(pos)
        if index.isValid():
            column.list.setCurrentIndex(index)
            self.session_menu.emit(
                column.list.session_at(index.row()), column.list.viewport().mapToGlobal(pos)
            )


# -- day view --------------------------------------------------------------------------------
class SessionRowsModel(RowsModel[SessionInfo]):
    """The day table: cancelled rows greyed and struck through, a mark on conflicts."""

    STATUS_COLUMN = 6

    def __init__(self, columns: Sequence[Column[SessionInfo]], parent: Any = None) -> None:
        super().__init__(columns, parent)
        self.conflicts: dict[int, list[str]] = {}
        self.icon = mark_icon(paint_warning)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        s = self.rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return session_tooltip(s, self.conflicts.get(s.id, ()))
        if s.is_cancelled:
            if role == Qt.ItemDataRole.ForegroundRole:
                status = index.column() == self.STATUS_COLUMN
                return QBrush(QColor(style.BAD if status else CANCELLED_TEXT))
            if role == Qt.ItemDataRole.FontRole and index.column() in (0, 1):
                font = QFont()
                font.setStrikeOut(True)
                return font
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 1:
            return self.icon if s.id in self.conflicts else None
        return super().data(index, role)


def day_columns() -> list[Column[SessionInfo]]:
    return [
        Column("Time", time_range, sort_key=lambda s: (s.start, s.end, s.id)),
        Column("Session", table_title, sort_key=lambda s: table_title(s).casefold()),
        Column("Kind", lambda s: KIND_LABELS.get(s.kind, s.kind.title())),
        Column("Facilitators", facilitators_short),
        Column("Where", short_place),
        Column("Clients", lambda s: s.roster_count, align_right=True),
        Column(
            "Status",
            short_status,
            color=lambda s: {"held": style.OK, "cancelled": style.BAD}.get(s.status),
        ),
    ]
