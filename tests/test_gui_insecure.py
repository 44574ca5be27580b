"""The banner an administrator's allow-insecure setting brings (issue 17, item 4): a remote
database server reached without TLS is said plainly on every screen."""

from __future__ import annotations

import pytest

from iopdesk.db import INSECURE_BANNER
from iopdesk.services import clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.mainwindow import MainWindow

pytestmark = [pytest.mark.gui, pytest.mark.parametrize("backend", ["sqlite"])]


@pytest.fixture(autouse=True)
def _nonblocking_boxes():  # type: ignore[no-untyped-def]
    msgbox.NON_BLOCKING = True
    yield
    msgbox.NON_BLOCKING = False


def _window(qtbot, env) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_no_banner_over_a_secure_connection(qtbot, env) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, env)
    assert not window.insecure_banner.isVisible()


def test_the_banner_says_the_connection_is_not_encrypted(qtbot, env) -> None:  # type: ignore[no-untyped-def]
    env.db.insecure_warning = INSECURE_BANNER.format(setting="IOPDESK_DB_ALLOW_INSECURE=1")
    window = _window(qtbot, env)
    assert window.insecure_banner.isVisible()
    assert window.insecure_banner.text().startswith("Not encrypted")
    window.go("Clients")
    assert window.insecure_banner.isVisible()  # on every screen, not only the first
    window.grab().save("/tmp/hardening-insecure-banner.png")
