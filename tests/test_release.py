"""Release pieces that run without building: the demo self-test the frozen smoke test relies
on, the version the build reads, the app icon and the Linux menu entry.
(The frozen build itself is tested by `make release-smoke`, see docs/install.md.)"""

from __future__ import annotations

import configparser
import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from iopdesk import __version__, cli
from iopdesk.db import Database
from iopdesk.services.clinic import get_clinic, is_initialized, setup_clinic

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "iopdesk_release_build", ROOT / "installer" / "build.py"
)
assert _spec is not None and _spec.loader is not None
release_build = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = release_build  # its dataclasses look themselves up there
_spec.loader.exec_module(release_build)
pytestmark = pytest.mark.sqlite_only


@pytest.mark.gui
def test_demo_self_test_opens_every_screen_and_keeps_the_database(
    qtbot, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("IOPDESK_DB_PASSPHRASE", "release test passphrase")
    target = tmp_path / "demo.db"
    assert cli.main(["--db", str(target), "demo", "--self-test"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "Self-test passed" in out
    screens = int(out.split("Self-test passed: ")[1].split()[0])
    assert screens >= 40  # 5 role combinations x (pages + chart tabs)
    # The demo clinic stays in the new database, encrypted with the passphrase (no keyring).
    db = Database.open(str(target))
    try:
        assert is_initialized(db)
        assert get_clinic(db).is_demo
    finally:
        db.close()
    assert '"passphrase"' in target.with_name("demo.db.keyinfo").read_text()

    assert out.index("first main window is painted") < out.index("Self-test passed")

    # A kept demo clinic is opened again, not created twice (the smoke test times this start-up;
    # a screenshot is the cheap way to open it here).
    shot = tmp_path / "today.png"
    assert cli.main(["--db", str(target), "demo", "--screenshot", str(shot)]) == cli.EXIT_OK
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    db = Database.open(str(target))
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM clinic").scalar() == 1
    finally:
        db.close()
    capsys.readouterr()

    # ... but a demo never goes into a database that holds a real clinic.
    real = tmp_path / "clinic.db"
    db = Database.open(str(real), create=True)
    try:
        setup_clinic(db, "Real Clinic", "director", "director-password-1")
    finally:
        db.close()
    assert cli.main(["--db", str(real), "demo", "--self-test"]) == cli.EXIT_USER_ERROR
    assert "holds a real clinic" in capsys.readouterr().err
    db = Database.open(str(real))
    try:
        assert get_clinic(db).name == "Real Clinic"
    finally:
        db.close()


def test_release_version_is_the_package_version():
    assert release_build.project_version() == __version__


def test_windows_icon_has_every_size_and_the_png_exists():
    data = (ROOT / "installer" / "iopdesk.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, _h, _c, _r, _planes, _bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * i
        )
        sizes.append(width or 256)
        assert data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(data)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]
    png = ROOT / "resources" / "icons" / "iopdesk.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_linux_desktop_entry():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(ROOT / "installer" / "linux" / "iopdesk.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == "IOPDesk"
    assert section["Exec"] == "iopdesk"
    assert section["Icon"] == "iopdesk"
    assert section["Terminal"] == "false"
    assert section["Categories"].endswith(";")
