"""The banner an administrator's allow-insecure setting brings (issue 17, item 4): a remote
database server reached without TLS is said plainly on every screen."""

from __future__ import annotations

import pytest

from iopdesk.db import INSECURE_BANNER
from iopdesk.ui.mainwindow import MainWindow
from tests.helpers import main_window

pytestmark = [pytest.mark.gui, pytest.mark.parametrize("backend", ["sqlite"])]


def _window(qtbot, env) -> MainWindow:  # type: ignore[no-untyped-def]
    return main_window(qtbot, env, env.world.admin, size=(1366, 768))


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
