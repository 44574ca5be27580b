"""Screenshots of the real window on the demo clinic, for `make screenshots` and visual checks:
`iopdesk demo --screenshot PNG --page NAME --size WxH`. A developer's tool: the command line
loads this module only when --screenshot is given, and the product never imports it
(tests/test_rooms.py holds that).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QDialog, QWidget
from sqlmodel import col, select

from iopdesk.db import Database
from iopdesk.models import Client, PlanReview, TreatmentPlan
from iopdesk.models.enums import PlanStatus
from iopdesk.services import consents, discharge, notes
from iopdesk.services.actor import Actor
from iopdesk.services.clinic import get_clinic
from iopdesk.services.permissions import Perm, require
from iopdesk.ui import clock, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.mainwindow import MainWindow
from iopdesk.ui.pages.discharge import AftercareEditor, DischargeDialog
from iopdesk.ui.pages.notes import GroupNoteDialog, NoteEditorDialog, NotesPage
from iopdesk.ui.pages.privacy import BreakGlassDialog


def demo_screenshot(
    out: str, page: str = "today", size: str = "1366x768", db: str | None = None
) -> int:
    """A demo clinic (fresh, or the one kept in `db`), one page of the window saved to `out`."""
    from iopdesk.ui.app import run_demo

    return run_demo(db_target=db, show=partial(_render, out=out, page=page, size=size))


def _render(
    app: QApplication, db: Database, actor: Actor, *, out: str, page: str, size: str
) -> int:
    return render_page(app, db, actor, out, page, size)


def render_page(
    app: QApplication, db: Database, actor: Actor, out: str, page: str, size: str
) -> int:
    """Render one page of the real window to a PNG (README screenshots, visual checks)."""
    width, height = (int(v) for v in size.lower().split("x"))
    window = MainWindow(AppContext(db, actor, get_clinic(db)), demo=True)
    window.resize(width, height)
    window.show()
    name = page.strip().lower()
    target: QWidget = window
    if name.startswith("chart"):
        from iopdesk.services.clients import list_census

        rows = list_census(db, actor, status="active")
        window.go("Clients")
        chosen = rows[0].id
        if name == "chart-plan":
            chosen = showcase_client(db, actor) or chosen
        window.open_chart(chosen)
        ops.wait_all()  # the chart reads on a worker: shown before a tab is chosen
        if name == "chart-plan":
            window.chart.tabs.setCurrentWidget(window.chart.plan_tab)
        if name == "chart-attendance":
            window.chart.tabs.setCurrentIndex(1)
        elif name == "chart-billing" and window.chart.billing_tab is not None:
            window.chart.tabs.setCurrentWidget(window.chart.billing_tab)
    elif name in ("notes", "note-editor", "group-note"):
        target = notes_screenshot(window, name)
    elif name in ("aftercare", "discharge-dialog", "aftercare-final"):
        target = discharge_screenshot(window, name)
    elif name == "lock":
        window.lock()
    elif name == "backups":
        from iopdesk.services import backup

        backup.create_backup(db, actor)  # the demo makes none by itself: show one
        window.go("Admin")
        ops.wait_all()
        admin_page = window.pages["Admin"]
        admin_page.tabs.setCurrentWidget(admin_page.backups_tab)  # type: ignore[attr-defined]
    elif name in ("consents", "audit", "breakglass"):
        target = privacy_screenshot(window, name)
    elif name == "billing-payers":
        window.go("Billing")
        ops.wait_all()
        billing_page = window.pages["Billing"]
        billing_page.tabs.setCurrentWidget(billing_page.payers_tab)  # type: ignore[attr-defined]
    elif name == "intake":
        from iopdesk.ui.pages.intake import IntakeDialog

        target = IntakeDialog(window.ctx, window)
        target.show()
    elif name in ("signin", "hours"):
        from iopdesk.services.schedule import list_sessions

        window.go("Attendance")
        ops.wait_all()
        page_widget = window.pages["Attendance"]
        if name == "signin":
            groups = [
                s
                for s in list_sessions(db, actor, clock.today(), clock.today())
                if s.kind == "group"
            ]
            if groups:
                page_widget.open_session(groups[0].id)  # type: ignore[attr-defined]
        else:
            page_widget.tabs.setCurrentIndex(1)  # type: ignore[attr-defined]
    else:
        window.go(name.title())
        if name == "billing":
            ops.wait_all()
            window.pages["Billing"].preview()  # type: ignore[attr-defined]
    ops.wait_all()
    ops.spin(50)
    target.grab().save(out)
    window._closing_for_sign_out = False
    window.close()
    print(f"Saved {out}")
    return 0


def showcase_client(db: Database, actor: Actor) -> int | None:
    """An active client with a signed plan that has reviews and outcome measures (for
    screenshots of the chart's plan tab); None when there is none."""
    require(actor, Perm.CLINICAL_VIEW)
    from sqlmodel import func

    from iopdesk.models import OutcomeMeasure

    with db.session() as session:
        measured = (
            select(OutcomeMeasure.client_id)
            .group_by(col(OutcomeMeasure.client_id))
            .having(func.count() >= 4)
            .scalar_subquery()
        )
        reviewed = select(PlanReview.plan_id).scalar_subquery()
        return session.exec(
            select(TreatmentPlan.client_id)
            .join(Client, Client.id == TreatmentPlan.client_id)  # type: ignore[arg-type]
            .where(
                TreatmentPlan.status == PlanStatus.ACTIVE.value,
                Client.status == "active",
                col(TreatmentPlan.client_id).in_(measured),
                col(TreatmentPlan.id).in_(reviewed),
            )
            .order_by(col(Client.last_name), col(Client.first_name))
            .limit(1)
        ).first()


def notes_screenshot(window: QWidget, name: str) -> QWidget:
    """For `iopdesk demo --screenshot`: the Notes page, the editor or the group-note dialog,
    as the demo supervisor (a clinician with queues; the admin writes no notes)."""
    from iopdesk.demo import DEMO_PASSWORD
    from iopdesk.services import auth
    from iopdesk.services.clinic import get_clinic
    from iopdesk.ui.mainwindow import MainWindow

    old: MainWindow = window  # type: ignore[assignment]
    db = old.ctx.db
    actor = auth.login(db, "supervisor", DEMO_PASSWORD)
    if name == "group-note":  # a clinician with a group still to document
        for username in ("supervisor", "therapist", "therapist2", "therapist3", "therapist4"):
            actor = auth.login(db, username, DEMO_PASSWORD)
            queue = notes.my_drafts(db, actor) + notes.sessions_without_note(db, actor)
            if any(q.kind == "group" or q.detail == "group" for q in queue):
                break
    main = MainWindow(AppContext(db, actor, get_clinic(db)), demo=True)
    main.resize(old.size())
    old.hide()
    main.show()
    main.go("Notes")
    ops.wait_all()  # the page's queues load on a worker
    page: NotesPage = main.pages["Notes"]  # type: ignore[assignment]
    if name == "notes":
        page.tabs.setCurrentIndex(1)
        if page.cosign_model.rowCount():
            page.cosign_table.selectRow(0)
            page._preview_cosign()
            ops.wait_all()
        return main
    dialog: QDialog
    if name == "group-note":
        groups = [q for q in page.missing_model.rows if q.detail == "group"]
        drafts = [q for q in page.drafts_model.rows if q.kind == "group"]
        sid = (groups or drafts)[0].session_id or 0
        dialog = GroupNoteDialog(main.ctx, sid, main)
    else:
        items = [q for q in page.drafts_model.rows if q.kind == "note"]
        item = items[0]
        dialog = NoteEditorDialog(
            main.ctx, item.client_id or 0, note_id=item.id, client_label=item.title, parent=main
        )
    dialog.show()
    return dialog


def discharge_screenshot(window: Any, name: str) -> QWidget:
    """Screenshots of the discharge dialog and the aftercare editor on the demo clinic, as the
    demo supervisor (the administrator cannot edit clinical plans)."""
    from iopdesk.demo import DEMO_PASSWORD
    from iopdesk.services import auth
    from iopdesk.services.clients import list_census

    ctx = window.ctx
    sup = AppContext(ctx.db, auth.login(ctx.db, "supervisor", DEMO_PASSWORD), ctx.clinic)
    window.go("Discharge")
    target: QWidget
    if name == "discharge-dialog":
        census = list_census(ctx.db, sup.actor, status="active")
        dialog = DischargeDialog(sup, census[0].id, window)
        dialog.reason.setPlainText("Completed the program; met treatment plan goals.")
        for _, edit in dialog.goal_edits:
            edit.setPlainText("Sober 62 days; uses coping skills daily.")
        dialog.go(1)
        target = dialog
    else:
        wanted = "draft" if name == "aftercare" else "finalized"
        rows = [r for r in discharge.work_list(ctx.db, sup.actor) if r.plan_id is not None]
        row = next((r for r in rows if r.plan_status == wanted), rows[0])
        assert row.plan_id is not None
        target = AftercareEditor(sup, row.plan_id, window)
    target.resize(window.size())
    target.show()
    return target


def privacy_screenshot(window: QWidget, name: str) -> QWidget:
    """The screens of issue 8 for `iopdesk demo --screenshot --page consents|audit|breakglass`."""
    from iopdesk.services.clients import list_census

    win: Any = window
    ctx: AppContext = win.ctx
    if name == "audit":
        win.go("Admin")
        ops.wait_all()
        admin = win.pages["Admin"]
        admin.tabs.setCurrentWidget(admin.audit_report)
        admin.audit_report.refresh()
        admin.audit_report.verify()
        return window
    rows = [r for r in list_census(ctx.db, ctx.actor, status="active") if r.part2]
    rows.sort(key=lambda r: -len(consents.list_consents(ctx.db, ctx.actor, r.id)))
    win.go("Clients")
    win.open_chart(rows[0].id)
    ops.wait_all()  # the chart reads on a worker: shown before a tab is chosen
    chart = win.chart
    if name == "consents":
        chart.tabs.setCurrentWidget(chart.privacy_tab)
        return window
    dialog = BreakGlassDialog(ctx, rows[0].id, f"{rows[0].display_name} ({rows[0].mrn})", window)
    dialog.reason.setPlainText(
        "Client called the after-hours line in crisis; on-call clinician needs the safety plan."
    )
    dialog.show()
    return dialog


def write_screenshot(widget: QWidget, path: Path) -> None:
    """One widget, as painted now, to a PNG."""
    widget.grab().save(str(path))
