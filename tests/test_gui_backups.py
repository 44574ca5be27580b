"""Admin > Backups, the Today warning and the damaged-database start-up offer (real widgets)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iopdesk.db import Database, DbTarget
from iopdesk.services import backup, clinic
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.admin import AdminPage
from iopdesk.ui.pages.today import TodayPage
from tests.conftest import PASSWORD, Env
from tests.helpers import ctx_for, finish, settle

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _ctx(env: Env) -> AppContext:
    return ctx_for(env, env.world.admin)


def test_backups_tab_back_up_now_and_restore(qtbot, env: Env, tmp_path: Path, monkeypatch):
    clinic.set_setting(env.db, env.world.admin, "backup_folder", str(tmp_path / "bk"))
    page = AdminPage(_ctx(env))
    qtbot.addWidget(page)
    tab = page.backups_tab
    assert page.tabs.tabText(page.tabs.indexOf(tab)) == "Backups"
    page.refresh()
    settle()
    assert tab.last_label.text() == "No backup has been made yet."
    assert tab.model.rowCount() == 0
    made = finish(tab.back_up_now())
    settle()
    assert made is not None and made.path.parent == tmp_path / "bk"
    assert msgbox.shown[-1].title == "Backup made"
    assert (
        tab.last_label.text().startswith("Last good backup:") and "today" in tab.last_label.text()
    )
    assert tab.model.rowCount() == 1 and tab.model.rows[0].status == "ok"
    assert str(tmp_path / "bk") in tab.folder_label.text()
    # A damaged file is refused before any question is asked.
    bad = tmp_path / "bad.db"
    shutil.copyfile(made.path, bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    bad.write_bytes(bytes(data))
    check = tab.restore_file(bad)
    settle()
    assert check.error is not None and tab.last_restore is None
    assert msgbox.shown[-1].title == "This backup cannot be used"
    # A good one asks first; "No" changes nothing, "Yes" restores.
    finish(tab.restore_file(made.path))
    assert tab.last_restore is None  # NON_BLOCKING confirm answers No
    assert msgbox.shown[-1].title == "Restore this backup?"
    assert not list(tmp_path.glob("*.before-restore-*"))
    restored = []
    tab.restored.connect(lambda: restored.append(True))
    monkeypatch.setattr(msgbox, "confirm", lambda *a, **k: True)  # the user clicks Yes
    finish(tab.restore_file(made.path))
    settle()
    assert tab.last_restore is not None and tab.last_restore.error is None
    assert restored and msgbox.shown[-1].title == "Backup restored"
    assert len(list(tmp_path.glob("iopdesk.db.before-restore-*"))) == 1


def test_today_warns_when_backups_are_old(qtbot, env: Env, tmp_path: Path):
    clinic.set_setting(env.db, env.world.admin, "backup_folder", str(tmp_path / "bk"))
    page = TodayPage(_ctx(env))
    qtbot.addWidget(page)
    page.refresh()
    settle()
    assert not page.backup_banner.isHidden()
    assert "never been backed up" in page.backup_banner.text()
    backup.create_backup(env.db, env.world.admin)
    page.refresh()
    settle()
    assert page.backup_banner.isHidden()


def test_damaged_database_at_start_up_offers_latest_backup(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from iopdesk.services.clinic import setup_clinic
    from iopdesk.ui.app import open_database

    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "gui-db-passphrase-1")
    monkeypatch.setenv("IOPDESK_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "clinic.db"
    db = Database.open(DbTarget(path=path), create=True)
    admin = setup_clinic(db, "Start-up Clinic", "admin", PASSWORD)
    made = backup.create_backup(db, admin)
    db.close()
    for side in ("-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    raw = bytearray(path.read_bytes())
    raw[0:4096] = bytes(4096)
    path.write_bytes(bytes(raw))
    assert open_database(DbTarget(path=path)) is None  # the user answered No
    offer = msgbox.shown[-1]
    assert offer.title == "Restore the latest good backup?"
    assert "damaged" in offer.text and str(made.path) in offer.text


def test_backups_tab_prints_the_recovery_kit(qtbot, env: Env, tmp_path: Path, monkeypatch):
    from pypdf import PdfReader
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    from iopdesk.services import recovery

    page = AdminPage(_ctx(env))
    qtbot.addWidget(page)
    tab = page.backups_tab
    kit = tmp_path / "kit.pdf"
    # The operating system's save dialog stands in for the person choosing a file name.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(kit), "PDF"))
    qtbot.mouseClick(tab.kit_btn, Qt.MouseButton.LeftButton)
    settle()  # the kit is written on a worker
    assert msgbox.shown[-1].title == "Recovery kit saved"
    assert "make a backup now" in msgbox.shown[-1].text  # a new key for an older database
    key = recovery.ensure_recovery_key(env.db).key
    assert key in PdfReader(kit).pages[0].extract_text()
    qtbot.mouseClick(tab.kit_btn, Qt.MouseButton.LeftButton)  # again: the same key
    settle()  # the kit is written on a worker
    assert "make a backup now" not in msgbox.shown[-1].text
    assert key in PdfReader(kit).pages[0].extract_text()
