"""Admin set-up: clinic note templates (list, retire, reactivate) and the clinic logo."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage

from iopdesk.errors import PermissionDenied, ValidationError
from iopdesk.services import clinic, notes
from tests.conftest import Env
from tests.helpers import finish, settle


def _png(width: int = 60, height: int = 24) -> bytes:
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor("#1b6b8a"))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data.data())


def test_templates_listed_retired_and_reactivated(env: Env) -> None:
    w, db = env.world, env.db
    tpl = notes.create_template(db, w.supervisor, "Family session", ["Concerns", "Plan"])
    notes.create_template(db, w.admin, "Aftercare check", ["Status"])
    listed = notes.list_templates(db, w.admin)
    assert [(t.name, t.sections, t.active, t.used) for t in listed] == [
        ("Aftercare check", ("Status",), True, 0),
        ("Family session", ("Concerns", "Plan"), True, 0),
    ]
    assert tpl.template_id is not None
    notes.set_template_active(db, w.supervisor, tpl.template_id, False)
    assert [t.name for t in notes.list_templates(db, w.admin) if not t.active] == ["Family session"]
    offered = {f.template_id for f in notes.note_formats(db, w.therapist)}
    assert tpl.template_id not in offered  # retired: not offered for new notes
    notes.set_template_active(db, w.admin, tpl.template_id, True)
    assert tpl.template_id in {f.template_id for f in notes.note_formats(db, w.therapist)}
    for actor in (w.therapist, w.front_desk, w.billing):
        with pytest.raises(PermissionDenied):
            notes.list_templates(db, actor)
        with pytest.raises(PermissionDenied):
            notes.set_template_active(db, actor, tpl.template_id, False)


def test_clinic_logo_set_validated_and_removed(env: Env) -> None:
    w, db = env.world, env.db
    assert clinic.get_logo(db) is None
    before = clinic.get_clinic(db).version
    png = _png()
    clinic.set_logo(db, w.admin, png)
    assert clinic.get_logo(db) == png
    assert clinic.get_clinic(db).version == before + 1
    with pytest.raises(ValidationError) as bad:
        clinic.set_logo(db, w.admin, b"GIF89a not a png")
    assert "PNG or JPEG" in bad.value.message
    with pytest.raises(ValidationError) as big:
        clinic.set_logo(db, w.admin, b"\x89PNG\r\n\x1a\n" + b"0" * clinic.LOGO_MAX_BYTES)
    assert "1 MB" in big.value.message
    assert clinic.get_logo(db) == png  # refused changes leave the logo as it was
    with pytest.raises(PermissionDenied):
        clinic.set_logo(db, w.therapist, None)
    clinic.set_logo(db, w.admin, None)
    assert clinic.get_logo(db) is None


@pytest.mark.gui
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_admin_tabs_for_templates_and_logo(qtbot, env: Env) -> None:
    from iopdesk.ui import msgbox
    from iopdesk.ui.context import AppContext
    from iopdesk.ui.pages.admin import AdminPage
    from iopdesk.ui.pages.templates import TemplateDialog

    msgbox.NON_BLOCKING = True
    try:
        page = AdminPage(AppContext(env.db, env.world.admin, clinic.get_clinic(env.db)))
        qtbot.addWidget(page)
        page.refresh()
        settle()  # the page loads on a worker
        tab = page.templates_tab
        assert tab.model.rows == []
        dialog = TemplateDialog(tab.ctx, tab)
        dialog.name.setText("Family session")
        dialog._try_accept()  # no sections
        settle()  # the save runs on a worker
        assert dialog.result() == 0 and "at least one section" in dialog.error.text()
        dialog.sections.setPlainText("Concerns\n\nFamily interaction\nPlan\n")
        dialog._try_accept()
        settle()  # the save runs on a worker
        assert dialog.result() == 1
        tab.refresh()
        settle()
        (row,) = tab.model.rows
        assert row.sections == ("Concerns", "Family interaction", "Plan") and row.active
        tab.set_active(row, False)
        settle()
        assert not tab.model.rows[0].active
        finish(page.set_logo(_png()))
        assert page.last_op.error is None
        settle()  # the clinic details reload on a worker
        assert not page.logo_preview.pixmap().isNull()
        finish(page.set_logo(b"not a picture"))
        assert page.last_op.error is not None  # refused, said in a box
        finish(page.set_logo(None))
        assert page.last_op.error is None
        settle()
        assert page.logo_preview.text() == "No logo"
        finish(page.save_clinic())  # the clinic form's version followed the logo change
        assert page.last_op.error is None
    finally:
        msgbox.NON_BLOCKING = False
