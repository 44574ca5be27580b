"""Issue 19 item 17: every page and dialog at 1024x700 and 1366x768, and no button whose text
is wider than the button (a clipped "Sign ir", "Cance|", "Add use" fails here)."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from tests.helpers import ctx_for, settle

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]

SIZES = [(1024, 700), (1366, 768)]


@pytest.fixture(autouse=True)
def _the_apps_style():
    from iopdesk.ui.app import make_app

    make_app()  # the real style sheet: padding and bold labels are what clip


def clipped_buttons(root: QWidget) -> list[str]:
    """Visible push buttons whose label does not fit: the text's advance in the button's own
    (style-sheet) font against the width the style gives the label."""
    QApplication.processEvents()
    bad = []
    for button in root.findChildren(QPushButton):
        if not button.isVisible() or not button.text():
            continue
        text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        option = QStyleOptionButton()
        button.initStyleOption(option)
        rect = button.style().subElementRect(
            QStyle.SubElement.SE_PushButtonContents, option, button
        )
        room = min(rect.width(), button.contentsRect().width())
        if not button.icon().isNull():
            room -= button.iconSize().width() + 4
        need = QFontMetrics(button.font()).horizontalAdvance(text)
        if need > room:
            where = button.window().windowTitle() or type(button.window()).__name__
            bad.append(f"{where}: '{text}' needs {need}px, has {room}px")
    return bad


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_page_fits_its_button_labels(qtbot, env, width, height):
    from iopdesk.ui.mainwindow import MainWindow

    window = MainWindow(ctx_for(env, env.world.admin))
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitUntil(lambda: window.ready)
    problems: list[str] = []
    for row in range(window.nav.count()):
        window.nav.setCurrentRow(row)
        page = window.stack.currentWidget()
        problems += [f"{window.nav.item(row).text()} {p}" for p in clipped_buttons(page)]
        tabs = page.findChildren(__import__("PySide6.QtWidgets").QtWidgets.QTabWidget)
        for tab_widget in tabs:
            if not tab_widget.isVisible():
                continue
            for i in range(tab_widget.count()):
                tab_widget.setCurrentIndex(i)
                problems += [
                    f"{window.nav.item(row).text()}/{tab_widget.tabText(i)} {p}"
                    for p in clipped_buttons(tab_widget.widget(i))
                ]
    window.open_chart(env.world.client_own)
    settle()
    chart = window.stack.currentWidget()
    problems += [f"Chart {p}" for p in clipped_buttons(chart)]
    assert not problems, "\n".join(sorted(set(problems)))


def _dialogs(env):
    from iopdesk.services import aftercare
    from iopdesk.ui.dialogs import LoginDialog, PassphraseDialog, SetupDialog
    from iopdesk.ui.pages.admin import AddUserDialog
    from iopdesk.ui.pages.discharge import ClinicListsDialog, DischargeDialog, PrintDialog
    from iopdesk.ui.pages.intake import IntakeDialog
    from iopdesk.ui.pages.notes import NoteEditorDialog
    from iopdesk.ui.pages.privacy import AmendmentRequestDialog, ConsentDialog
    from iopdesk.ui.pages.schedule import BookDialog, CloseDayDialog
    from iopdesk.ui.pages.templates import TemplateDialog
    from tests.test_discharge import admitted_client

    w = env.world
    admin, therapist = ctx_for(env, w.admin), ctx_for(env, w.therapist)
    st = admitted_client(env)
    plan_id = aftercare.create_plan(env.db, w.therapist, st.client_id)
    view = aftercare.get_plan(env.db, w.therapist, plan_id)
    return [
        lambda: LoginDialog(admin.clinic.name, lambda _u, _p, _c: None, "This computer"),
        lambda: PassphraseDialog(True),
        lambda: SetupDialog(),
        lambda: AddUserDialog(admin),
        lambda: IntakeDialog(ctx_for(env, w.front_desk)),
        lambda: BookDialog(ctx_for(env, w.front_desk), date.today()),
        lambda: CloseDayDialog(admin, date.today()),
        lambda: DischargeDialog(therapist, st.client_id),
        lambda: PrintDialog(therapist, view),
        lambda: ClinicListsDialog(admin),
        lambda: NoteEditorDialog(therapist, w.client_own, client_label="Own"),
        lambda: ConsentDialog(therapist, w.client_own),
        lambda: AmendmentRequestDialog(therapist, w.client_own),
        lambda: TemplateDialog(admin),
    ]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_dialog_fits_its_button_labels(qtbot, env, width, height):
    problems: list[str] = []
    for make in _dialogs(env):
        dialog: QDialog = make()
        qtbot.addWidget(dialog)
        # As shown on that screen: its natural size, never larger than the screen.
        dialog.resize(dialog.sizeHint().boundedTo(QSize(width, height - 40)))
        dialog.show()
        problems += clipped_buttons(dialog)
        dialog.close()
    assert not problems, "\n".join(sorted(set(problems)))


def test_file_dialog_sidebar_is_readable_and_spin_boxes_have_arrows(qtbot):
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QFileDialog, QSpinBox

    from iopdesk.ui import style

    dialog = QFileDialog(None, "Save")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    qtbot.addWidget(dialog)
    dialog.resize(800, 500)
    dialog.show()
    side = dialog.findChild(QWidget, "sidebar")
    assert side is not None
    image = side.grab().toImage()
    middle = QColor(image.pixel(image.width() // 2, image.height() - 5))
    assert middle.name() != QColor(style.SIDEBAR).name()  # not the app's dark navigation blue
    spin = QSpinBox()
    qtbot.addWidget(spin)
    spin.resize(120, 32)
    spin.show()
    shot = spin.grab().toImage()
    # The up/down arrows are drawn: dark pixels in the buttons' strip on the right.
    dark = sum(
        1
        for x in range(shot.width() - 18, shot.width() - 2)
        for y in range(2, shot.height() - 2)
        if QColor(shot.pixel(x, y)).lightness() < 110
    )
    assert dark >= 6
