"""The main window: sidebar navigation, top bar with global search, pages, status bar, and
the inactivity lock that hides every client detail until the password is typed again."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QPaintEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk import paths
from iopdesk.errors import UserError
from iopdesk.services import auth
from iopdesk.services.clinic import get_setting
from iopdesk.services.permissions import Perm
from iopdesk.ui import msgbox, ops
from iopdesk.ui.changewatch import AUTO_REFRESH, ChangeWatch
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.today import TodayPage
from iopdesk.ui.widgets import Page

if TYPE_CHECKING:
    from iopdesk.ui.pages.clients import ChartPage

LATER = {
    "Discharge": "Guided discharge and the printable aftercare packet.",
}
NAV: list[tuple[str, Perm]] = [
    ("Today", Perm.CENSUS_VIEW),
    ("Clients", Perm.CENSUS_VIEW),
    ("Caseloads", Perm.CENSUS_VIEW),
    ("Schedule", Perm.CLIENT_VIEW),
    ("Attendance", Perm.ATTENDANCE_RECORD),
    ("Notes", Perm.CLINICAL_VIEW),
    ("Discharge", Perm.CLIENT_VIEW),
    ("Billing", Perm.BILLING_VIEW),
    ("Reports", Perm.REPORTS_VIEW),
    ("Admin", Perm.USERS_MANAGE),
]


def ui_settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat)


class IdleWatcher(QObject):
    """Notes the time of the last keyboard or mouse input anywhere in the app."""

    INPUT_EVENTS = {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }

    def __init__(self) -> None:
        super().__init__()
        self.last_input = time.monotonic()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self.INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False


class LockPage(QWidget):
    unlocked = Signal()
    sign_out = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._checking: ops.Op[None] | None = None
        self.setObjectName("lockPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        card = QFrame()
        card.setObjectName("lockCard")
        card.setFixedWidth(420)
        lay = QVBoxLayout(card)
        lay.setContentsMargins(28, 24, 28, 24)
        lay.setSpacing(10)
        title = QLabel("IOPDesk is locked")
        title.setObjectName("lockTitle")
        lay.addWidget(title)
        who = QLabel(
            "Client information is hidden.\n"
            f"{ctx.actor.display_name}: type your password to continue,\n"
            "or sign out so someone else can sign in."
        )
        who.setObjectName("subtitle")
        lay.addWidget(who)
        self.password = QLineEdit()
        self.password.setObjectName("unlockPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Password")
        self.password.returnPressed.connect(self.try_unlock)
        lay.addWidget(self.password)
        self.error = QLabel("")
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        out = QPushButton("Sign out")
        out.clicked.connect(self.sign_out.emit)
        unlock = QPushButton("Unlock")
        unlock.setObjectName("primary")
        unlock.clicked.connect(self.try_unlock)
        buttons.addWidget(out)
        buttons.addStretch(1)
        buttons.addWidget(unlock)
        lay.addLayout(buttons)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

    def try_unlock(self) -> ops.Op[None] | None:
        """Check the password in the background (a password hash takes a while); the window
        keeps painting. The op, or None while a check is already running."""
        if self._checking is not None:
            return None
        db, actor, password = self.ctx.db, self.ctx.actor, self.password.text()

        def wrong(exc: BaseException) -> None:
            if not isinstance(exc, UserError):
                ops.report_failure(self, exc)
                return
            self.password.clear()
            self.error.setText(exc.message)

        def right(_none: None) -> None:
            self.password.clear()
            self.error.setText("")
            self.unlocked.emit()

        def done() -> None:
            self._checking = None

        self._checking = (
            ops.Op(self, lambda: auth.unlock_screen(db, actor, password))
            .success(right)
            .failure(wrong)
            .on_done(done)
            .run_in_background()
        )
        return self._checking


class PageSet(Mapping[str, Page]):
    """The sidebar's pages by name. Each page (and its module) is built the first time it is
    asked for, so start-up pays only for the page that is shown first; asking for a page
    builds it and adds it to the window's stack. `built()` lists only the pages built so far."""

    def __init__(self, stack: QStackedWidget) -> None:
        self._stack = stack
        self._factories: dict[str, Callable[[], Page]] = {}
        self._built: dict[str, Page] = {}

    def add(self, name: str, factory: Callable[[], Page]) -> None:
        self._factories[name] = factory

    def __getitem__(self, name: str) -> Page:
        page = self._built.get(name)
        if page is None:
            page = self._factories[name]()
            self._built[name] = page
            self._stack.addWidget(page)
        return page

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def built(self) -> dict[str, Page]:
        return dict(self._built)


class MainWindow(QMainWindow):
    signed_out = Signal()

    def __init__(self, ctx: AppContext, demo: bool = False) -> None:
        super().__init__()
        from iopdesk.ui import gcguard

        gcguard.install()  # collect garbage on this thread only: no pauses inside ops
        self.ctx = ctx
        self.demo = demo
        self.locked = False
        self._closing_for_sign_out = False
        self._typed_work_settled = False  # asked (or kept) once for this close
        self._hidden_by_lock: list[QWidget] = []
        prefix = "IOPDesk - DEMO - " if demo else "IOPDesk - "
        self.setWindowTitle(prefix + ctx.clinic.name)
        self.setMinimumSize(1024, 640)
        self.outer = QStackedWidget()
        self.setCentralWidget(self.outer)
        self.main_ui = QWidget()
        self.outer.addWidget(self.main_ui)
        self.lock_page = LockPage(ctx)
        self.lock_page.unlocked.connect(self.unlock)
        self.lock_page.sign_out.connect(self._sign_out_from_lock)
        self.outer.addWidget(self.lock_page)
        root = QHBoxLayout(self.main_ui)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._sidebar())
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        right.addWidget(self._topbar())
        self.change_watch = ChangeWatch(self)  # refresh on changes elsewhere; offline banner
        ops.bus().changed.connect(self._on_changes)
        right.addWidget(self.change_watch.banner)
        # A remote database server reached without TLS (allowed by an administrator's setting)
        self.insecure_banner = QLabel(getattr(ctx.db, "insecure_warning", None) or "")
        self.insecure_banner.setObjectName("insecureBanner")
        self.insecure_banner.setWordWrap(True)
        self.insecure_banner.setStyleSheet(
            "background: #fff4e5; color: #7a3e00; border-bottom: 1px solid #f0c48a; "
            "padding: 8px 24px; font-weight: 600;"
        )
        self.insecure_banner.setVisible(bool(self.insecure_banner.text()))
        right.addWidget(self.insecure_banner)
        self.stack = QStackedWidget()
        right.addWidget(self.stack, 1)
        root.addLayout(right, 1)
        self.pages = PageSet(self.stack)
        self._chart: ChartPage | None = None
        self._build_pages()
        self._status_bar()
        self._shortcuts()
        self.idle = IdleWatcher()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.idle)
        self.idle_minutes = int(get_setting(ctx.db, "inactivity_lock_minutes"))
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(5000)
        self.idle_timer.timeout.connect(self.check_idle)
        self.idle_timer.start()
        self.restore_geometry()
        # The first page is shown at once and filled just after the window's first paint, so
        # the window appears without waiting for the page's queries (`ready` turns True then).
        self.ready = False
        self._first_fill: Page | None = None
        self._building = True
        self.nav.setCurrentRow(0)
        self._building = False

    # -- layout ----------------------------------------------------------------------------
    def _sidebar(self) -> QWidget:
        side = QWidget()
        side.setObjectName("navSidebar")  # not "sidebar": Qt's file dialog has one too
        side.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        side.setFixedWidth(210)
        lay = QVBoxLayout(side)
        lay.setContentsMargins(0, 6, 0, 10)
        lay.setSpacing(0)
        brand = QLabel("IOPDesk")
        brand.setObjectName("brand")
        clinic = QLabel(self.ctx.clinic.name)
        clinic.setObjectName("clinicName")
        clinic.setWordWrap(True)
        lay.addWidget(brand)
        lay.addWidget(clinic)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.nav.currentRowChanged.connect(self._nav_changed)
        lay.addWidget(self.nav, 1)
        version = QLabel(f"Version {__import__('iopdesk').__version__}")
        version.setObjectName("clinicName")
        lay.addWidget(version)
        return side

    def _topbar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("topbar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(24, 10, 16, 10)
        self.page_title = QLabel("")
        self.page_title.setObjectName("pageTitle")
        lay.addWidget(self.page_title)
        if self.demo:
            badge = QLabel("DEMO - fake data")
            badge.setObjectName("demoBadge")
            lay.addWidget(badge)
        lay.addStretch(1)
        self.search = QLineEdit()
        self.search.setObjectName("globalSearch")
        self.search.setPlaceholderText("Find a client (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._global_search)
        lay.addWidget(self.search)
        from iopdesk.ui.pages.privacy import AccountButton

        self.account_btn = AccountButton(self.ctx, self)
        lay.addWidget(self.account_btn)
        lock = QPushButton("Lock")
        lock.setToolTip("Lock the screen now (Ctrl+L)")
        lock.clicked.connect(self.lock)
        out = QPushButton("Sign out")
        out.clicked.connect(self.sign_out)
        lay.addWidget(lock)
        lay.addWidget(out)
        return bar

    def _build_pages(self) -> None:
        for name, perm in NAV:
            if not self.ctx.can(perm):
                continue
            self.pages.add(name, functools.partial(self._make_page, name))
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.nav.addItem(item)

    def _make_page(self, name: str) -> Page:
        """Build one sidebar page (importing its module now, not at start-up)."""
        if name == "Today":
            today_page = TodayPage(self.ctx)
            today_page.open_list.connect(self.open_list)
            return today_page
        if name == "Clients":
            from iopdesk.ui.pages.clients import ClientsPage

            clients_page = ClientsPage(self.ctx)
            clients_page.open_client.connect(self.open_chart)
            clients_page.new_client.connect(self.new_client)
            return clients_page
        if name == "Attendance":
            from iopdesk.ui.pages.attendance import AttendancePage

            attendance_page = AttendancePage(self.ctx)
            attendance_page.open_client.connect(self.open_chart)
            return attendance_page
        if name == "Caseloads":
            from iopdesk.ui.pages.caseload import CaseloadPage

            caseload_page = CaseloadPage(self.ctx)
            caseload_page.open_client.connect(self.open_chart)
            return caseload_page
        if name == "Schedule":
            from iopdesk.ui.pages.schedule import SchedulePage

            schedule_page = SchedulePage(self.ctx)
            schedule_page.open_client.connect(self.open_chart)
            schedule_page.open_sign_in.connect(self.open_sign_in)
            return schedule_page
        if name == "Notes":
            from iopdesk.ui.pages.notes import NotesPage

            return NotesPage(self.ctx)
        if name == "Discharge":
            from iopdesk.ui.pages.discharge import DischargePage

            discharge_page = DischargePage(self.ctx)
            discharge_page.open_client.connect(self.open_chart)
            return discharge_page
        if name == "Billing":
            from iopdesk.ui.pages.billing import BillingPage

            billing_page = BillingPage(self.ctx)
            billing_page.open_client_billing.connect(self.open_chart_billing)
            return billing_page
        if name == "Reports":
            from iopdesk.ui.pages.reports import ReportsPage

            return ReportsPage(self.ctx)
        if name == "Admin":
            from iopdesk.ui.pages.admin import AdminPage

            return AdminPage(self.ctx)
        from iopdesk.ui.pages.placeholder import PlaceholderPage

        return PlaceholderPage(name, LATER[name])

    @property
    def chart(self) -> ChartPage:
        """The client chart, built the first time a chart is opened."""
        if self._chart is None:
            from iopdesk.ui.pages.clients import ChartPage

            self._chart = ChartPage(self.ctx)
            self._chart.closed.connect(lambda: self.go("Clients"))
            self.stack.addWidget(self._chart)
        return self._chart

    def _status_bar(self) -> None:
        bar = self.statusBar()
        a = self.ctx.actor
        self.status_user = QLabel(f"Signed in: {a.display_name} ({a.role_label})")
        self.status_db = QLabel(f"Database: {self.ctx.db.describe()}")
        self.status_key = QLabel(self.ctx.db.key_description)
        bar.addWidget(self.status_user)
        bar.addWidget(self.status_db, 1)
        bar.addPermanentWidget(self.status_key)

    def _shortcuts(self) -> None:
        for i in range(min(9, self.nav.count())):
            sc = QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self)
            sc.activated.connect(lambda row=i: self.nav.setCurrentRow(row))
        for seq in ("Ctrl+K", "Ctrl+F"):
            QShortcut(QKeySequence(seq), self).activated.connect(self._focus_search)
        QShortcut(QKeySequence("Ctrl+L"), self).activated.connect(self.lock)
        QShortcut(QKeySequence("F5"), self).activated.connect(self.refresh_current)

    # -- navigation ------------------------------------------------------------------------
    def go(self, name: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(Qt.ItemDataRole.UserRole) == name:
                if self.nav.currentRow() == row:
                    self._nav_changed(row)
                self.nav.setCurrentRow(row)
                return

    def _nav_changed(self, row: int) -> None:
        if row < 0:
            return
        name = self.nav.item(row).data(Qt.ItemDataRole.UserRole)
        page = self.pages[name]
        self.stack.setCurrentWidget(page)
        self.page_title.setText(page.title)
        if self._building:
            self._first_fill = page
            return
        self._first_fill = None  # the user moved on before the first fill: this one counts
        self._run(page.refresh)
        self.ready = True

    def _fill_first_page(self) -> None:
        page, self._first_fill = self._first_fill, None
        if page is not None:
            self._run(page.refresh)
        self.ready = True

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._first_fill is not None:
            QTimer.singleShot(0, self._fill_first_page)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._first_fill is not None:  # in case no paint comes (e.g. shown minimised)
            QTimer.singleShot(500, self._fill_first_page)

    def _on_changes(self, changes: ops.OpChanges) -> None:
        """An operation committed: the shown page refreshes if it shows what changed.

        The page that ran the operation refreshes itself in its own success callback (it knows
        what it wants to show next), so it is not refreshed twice here.
        """
        if self.locked:
            return
        page = self.stack.currentWidget()
        if not isinstance(page, Page) or not changes.touches(page.shows):
            return
        source = changes.source
        if isinstance(source, QWidget) and (source is page or page.isAncestorOf(source)):
            return
        name = next((n for n, p in self.pages.built().items() if p is page), "")
        if name in AUTO_REFRESH:  # lists only: reloading cannot throw away anything typed
            self.refresh_current()
        else:
            self.statusBar().showMessage(
                "Data shown here was changed. Press F5 to see the latest.", 15000
            )

    def refresh_current(self) -> None:
        page = self.stack.currentWidget()
        if page is self._chart and self.chart.client_id is not None:
            self.chart.load(self.chart.client_id)  # on a worker; a stale record reloads it
        elif isinstance(page, Page):
            self._run(page.refresh)

    def open_chart(self, client_id: int, then: Callable[[], Any] | None = None) -> None:
        """Read the chart on a worker; the window switches to it once it is shown (a refusal
        or a missing record leaves the current page, with the message). `then` runs after."""

        def shown() -> None:
            self.stack.setCurrentWidget(self.chart)
            self.page_title.setText("Client chart")
            if then is not None:
                then()

        self.chart.load(client_id, then=shown)

    def new_client(self) -> ops.Op[Any]:
        """The intake form (its tracks and payers read in the background first); after
        saving, the census is refreshed and the new chart opens."""
        from iopdesk.ui.pages.intake import intake_choices

        ctx = self.ctx
        return ops.Op(self, lambda: intake_choices(ctx)).success(self._intake).run_in_background()

    def _intake(self, choices: Any) -> None:
        from iopdesk.ui.pages.intake import IntakeDialog

        dialog = IntakeDialog(self.ctx, self, choices)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.created is None:
            return
        page = self.pages.get("Clients")
        if isinstance(page, Page):
            self._run(page.refresh)
        self.open_chart(dialog.created.id or 0)

    def open_chart_billing(self, client_id: int) -> None:
        """A billing exception's "Open chart > Billing": the chart at its Billing tab."""
        chart = self.chart

        def billing_tab() -> None:
            if chart.billing_tab is not None:
                chart.tabs.setCurrentWidget(chart.billing_tab)

        self.open_chart(client_id, then=billing_tab)

    def open_list(self, page_name: str, detail: str) -> None:
        """A Today tile was clicked: show the list it counts (issue 19 item 13)."""
        if page_name not in self.pages:
            return
        self.go(page_name)
        page = self.pages[page_name]
        tabs = getattr(page, "tabs", None)
        if page_name == "Attendance" and tabs is not None:
            tabs.setCurrentIndex(1 if detail == "hours" else 0)
        elif page_name == "Notes" and tabs is not None:
            tabs.setCurrentIndex({"drafts": 0, "cosign": 1, "missing": 2}.get(detail, 0))
        elif page_name == "Admin" and tabs is not None:
            for i in range(tabs.count()):
                if tabs.tabText(i) == detail:
                    tabs.setCurrentIndex(i)
        elif page_name == "Clients":
            status = getattr(page, "status", None)
            if status is not None:
                status.setCurrentIndex(max(0, status.findData(detail)))

    def open_sign_in(self, session_id: int) -> None:
        from iopdesk.ui.pages.attendance import AttendancePage

        page = self.pages.get("Attendance")
        if isinstance(page, AttendancePage):
            self.go("Attendance")
            page.open_session(session_id)  # in the background; selects it once shown

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _global_search(self) -> None:
        text = self.search.text().strip()
        from iopdesk.ui.pages.clients import ClientsPage

        page = self.pages.get("Clients")
        if isinstance(page, ClientsPage):
            self.go("Clients")
            page.set_search(text)
            page.table.setFocus()

    def _run(self, action: Callable[[], None]) -> None:
        """Start a page's refresh (or the chart's load); errors the user can fix are shown in
        plain words. Pages load through `Page.fetch`/`present`, so this returns at once; the
        data arrives on the GUI thread when the worker is done."""
        ops.attempt(self, action)

    # -- locking ---------------------------------------------------------------------------
    def check_idle(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self.locked and now - self.idle.last_input >= self.idle_minutes * 60:
            self.lock()

    def lock(self) -> None:
        if self.locked:
            return
        self.locked = True
        self._hidden_by_lock = []
        for widget in QApplication.topLevelWidgets():
            if widget is not self and widget.isWindow() and widget.isVisible():
                widget.hide()  # dialogs showing client details are hidden too
                self._hidden_by_lock.append(widget)
        self.outer.setCurrentWidget(self.lock_page)
        self.lock_page.password.setFocus()
        db, actor = self.ctx.db, self.ctx.actor
        ops.run(self, lambda: auth.record_screen_lock(db, actor))
        # Nobody works behind the lock screen: the one moment for a walk over the whole heap.
        from iopdesk.ui import gcguard

        QTimer.singleShot(0, gcguard.release)

    def unlock(self) -> None:
        self.locked = False
        self.idle.last_input = time.monotonic()
        self.outer.setCurrentWidget(self.main_ui)
        # The forms that were open come back as they were, typed text and all.
        hidden, self._hidden_by_lock = self._hidden_by_lock, []
        for widget in hidden:
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                widget.show()

    def sign_out(self) -> None:
        if not self._settle_typed_work("sign out"):
            return
        self._closing_for_sign_out = True
        self.close()

    def _sign_out_from_lock(self) -> None:
        """Sign out from the lock screen: whoever typed is not here to ask, so everything
        typed is kept as their draft (offered back when they open the same form)."""
        self._keep_typed_work(self.typed_work())
        self._typed_work_settled = True
        self._closing_for_sign_out = True
        self.close()

    # -- typed work that is not saved ------------------------------------------------------
    def typed_work(self) -> list[tuple[Any, str]]:
        """Open forms with unsaved typing: pages, the chart and dialogs that say so through
        `unsaved_work()` (and keep it through `keep_typed_work()`)."""
        holders: list[QWidget] = list(self.pages.built().values())
        if self._chart is not None:
            holders.append(self._chart)
        holders += [w for w in QApplication.topLevelWidgets() if w is not self]
        found: list[tuple[Any, str]] = []
        seen: set[int] = set()
        for widget in holders:
            if id(widget) in seen:
                continue
            seen.add(id(widget))
            describe = getattr(widget, "unsaved_work", None)
            if not callable(describe):
                continue
            try:
                what = describe()
            except RuntimeError:  # a widget already deleted
                continue
            if what:
                found.append((widget, str(what)))
        return found

    def _keep_typed_work(self, found: list[tuple[Any, str]]) -> bool:
        failed = []
        for widget, what in found:
            try:
                widget.keep_typed_work()
            except UserError as exc:
                failed.append(f"{what}: {exc.message}")
        if failed:
            msgbox.warning(
                self, "Not everything could be kept", "Could not keep:\n" + "\n".join(failed)
            )
            return False
        return True

    def _settle_typed_work(self, leaving: str) -> bool:
        """Ask once what to do with unsaved typing; False: the user chose to stay."""
        if self._typed_work_settled:
            return True
        found = self.typed_work()
        if found:
            lines = "\n".join(f"  \u2022 {what}" for _w, what in found)
            choice = msgbox.choose(
                self,
                "Unsaved work",
                f"Before you {leaving}, note that you have typed work that is not saved:\n\n"
                f"{lines}\n\nKeep it as a draft? It is offered back to you the next time you "
                "open the same form.",
                ["Keep as draft", "Discard", "Cancel"],
                default=0,
            )
            if choice == 2:
                return False
            if choice == 0 and not self._keep_typed_work(found):
                return False
        self._typed_work_settled = True
        return True

    # -- geometry and close ----------------------------------------------------------------
    def restore_geometry(self) -> None:
        geometry = ui_settings().value("main/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1366, 768)
        self.fit_to_screen()

    # Room for the window's title bar and frame, which the window manager adds outside
    # geometry() (unknown before the window is shown).
    FRAME_ALLOWANCE = QSize(16, 40)

    def fit_to_screen(self, avail: QRect | None = None) -> None:
        """Keep the whole window, status bar included, on the screen's usable area (issue 19
        item 15): a 1366x768 laptop's taskbar and title bar leave less than 768 pixels."""
        if avail is None:
            screen = self.screen() or QApplication.primaryScreen()
            if screen is None:
                return
            avail = screen.availableGeometry()
        room = QSize(
            avail.width() - self.FRAME_ALLOWANCE.width(),
            avail.height() - self.FRAME_ALLOWANCE.height(),
        )
        self.setMinimumSize(
            min(self.minimumWidth(), room.width()), min(self.minimumHeight(), room.height())
        )
        size = self.size().boundedTo(room)
        if size != self.size():
            self.resize(size)
        x = min(
            max(self.x(), avail.left()),
            avail.right() - size.width() - self.FRAME_ALLOWANCE.width() + 1,
        )
        y = min(
            max(self.y(), avail.top()),
            avail.bottom() - size.height() - self.FRAME_ALLOWANCE.height() + 1,
        )
        self.move(max(x, avail.left()), max(y, avail.top()))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.locked and not self._typed_work_settled:
            self._keep_typed_work(self.typed_work())  # nobody to ask: keep it
            self._typed_work_settled = True
        if not self._settle_typed_work("close IOPDesk"):
            event.ignore()
            return
        for widget in QApplication.topLevelWidgets():  # forms still open (e.g. hidden by lock)
            if widget is not self and isinstance(widget, QDialog) and widget.isModal():
                with contextlib.suppress(RuntimeError):
                    widget.reject()
        settings = ui_settings()
        settings.setValue("main/geometry", self.saveGeometry())
        settings.sync()
        self.idle_timer.stop()
        self.change_watch.stop()
        if not getattr(self, "_bus_disconnected", False):
            self._bus_disconnected = True
            ops.bus().changed.disconnect(self._on_changes)
        ops.wait_all()  # let running operations deliver before the database closes
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
        db, actor = self.ctx.db, self.ctx.actor
        ops.Op(self, lambda: auth.logout(db, actor)).failure(lambda _exc: None).run_in_background()
        ops.wait_all()  # signed out (audited) on a worker before the database closes
        super().closeEvent(event)
        if self._closing_for_sign_out:
            self.signed_out.emit()
            from iopdesk.ui import gcguard

            QTimer.singleShot(0, gcguard.release)  # nobody is working: walk the whole heap
