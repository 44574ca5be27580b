"""The docs/billing.md screenshots from the real app: a fresh demo clinic, last month's claims
exported as 837 files, a generated 835 (paid, partially paid, denied, one unknown claim)
posted, then the screens and the AR aging PDF page.

    QT_QPA_PLATFORM=offscreen python scripts/billing_screenshots.py docs/screenshots
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLineEdit

from iopdesk.db import Database, DbTarget
from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
from iopdesk.services import auth, claims, payers
from iopdesk.services.clients import list_census
from iopdesk.services.clinic import get_clinic
from iopdesk.ui import msgbox, ops
from iopdesk.ui.app import make_app
from iopdesk.ui.context import AppContext
from iopdesk.ui.mainwindow import MainWindow
from iopdesk.ui.pages.billing_setup import CoverageDialog, PayerDialog
from tests.x12_835 import Clp, Svc, write_835

CENT = Decimal("0.01")


def remittance_for(texts: list[str], paid_on: date) -> str:
    """Every 4th claim paid at 80%, partially paid (coinsurance), denied (no authorization),
    or not yet answered; plus a claim the clinic never sent."""
    out = []
    n = 0
    for text in texts:
        for rc in claims.read_837(text):
            kind, n = n % 4, n + 1
            if kind == 3:
                continue
            lines = []
            for ln in rc.lines:
                if kind == 0:
                    paid = (ln.charge * Decimal("0.8")).quantize(CENT)
                    cas = [("CO", "45", ln.charge - paid)]
                elif kind == 1:
                    paid = (ln.charge * Decimal("0.7")).quantize(CENT)
                    coins = (ln.charge * Decimal("0.1")).quantize(CENT)
                    cas = [("PR", "2", coins), ("CO", "45", ln.charge - paid - coins)]
                else:
                    paid, cas = Decimal("0"), [("CO", "197", ln.charge)]
                remarks = ["N54"] if kind == 2 else []
                lines.append(
                    Svc(ln.procedure_code, ln.charge, paid, ln.date_of_service, ln.line_id,
                        cas, remarks)
                )  # fmt: skip
            total = sum((s.paid for s in lines), Decimal("0"))
            pr = sum((a[2] for s in lines for a in s.cas if a[0] == "PR"), Decimal("0"))
            status = "4" if kind == 2 else "1"
            out.append(Clp(rc.claim_number, status, rc.total, total, pr, f"PCN{n:05d}",
                           lines=lines))  # fmt: skip
    out.append(Clp("B999999-1", "1", Decimal("120"), Decimal("96"), Decimal("0"), "PCN99999"))
    return write_835(out, check="EFT20261210", paid_on=paid_on)


def settle(app: object) -> None:
    """Let the screens' background operations deliver, then paint."""
    ops.wait_all()
    ops.spin(50)


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    app = make_app()
    msgbox.NON_BLOCKING = True
    work = Path(tempfile.mkdtemp())
    db = Database.open(DbTarget(path=work / "demo.db"), create=True, key=b"k" * 32)
    create_demo_clinic(db)
    biller = auth.login(db, "billing", DEMO_PASSWORD)
    admin = auth.login(db, "admin", DEMO_PASSWORD)
    window = MainWindow(AppContext(db, biller, get_clinic(db)), demo=True)
    window.resize(1366, 768)
    window.show()
    window.go("Billing")
    page = window.pages["Billing"]
    first_of_month = date.today().replace(day=1)
    last = first_of_month - timedelta(days=1)
    first = last.replace(day=1)
    page.date_from.setDate(QDate(first.year, first.month, first.day))  # type: ignore[attr-defined]
    page.date_to.setDate(QDate(last.year, last.month, last.day))  # type: ignore[attr-defined]
    page.preview()  # type: ignore[attr-defined]
    settle(app)
    window.grab().save(str(target / "billing-claims.png"))
    out = work / "claims"
    out.mkdir()
    page.export_claims_to(out)  # type: ignore[attr-defined]
    settle(app)
    texts = [(out / n).read_text() for n in ("SUMMIT_837P.x12", "LHP_837I.x12")]
    era = work / "era.835"
    era.write_text(remittance_for(texts, date.today() - timedelta(days=2)))
    tab = page.remit_tab  # type: ignore[attr-defined]
    page.tabs.setCurrentWidget(tab)  # type: ignore[attr-defined]
    tab.import_file(era)
    settle(app)
    settle(app)
    window.grab().save(str(target / "billing-denials.png"))
    tab.tabs.setCurrentIndex(1)
    settle(app)
    window.grab().save(str(target / "billing-aging.png"))
    tab.tabs.setCurrentIndex(2)
    settle(app)
    window.grab().save(str(target / "billing-remittance.png"))
    tab.export_aging_to(work / "ar.pdf")  # written on a worker
    settle(app)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(work / "ar.pdf"),
         str(target / "ar-aging-pdf")],
        check=True,
    )  # fmt: skip
    admin_ctx = AppContext(db, admin, get_clinic(db))
    info = next(p for p in payers.list_payers(db, admin) if p.payer_code == "PSMCD")
    for dialog, name in (
        (PayerDialog(admin_ctx, info, window), "payer-edi.png"),
        (_dependent_coverage(admin_ctx, window), "coverage-subscriber.png"),
    ):
        dialog.show()
        dialog.adjustSize()
        dialog.resize(max(dialog.width(), 640), dialog.height())
        settle(app)
        dialog.grab().save(str(target / name))
        dialog.close()
    aw = MainWindow(admin_ctx, demo=True)
    aw.resize(1366, 768)
    aw.show()
    aw.go("Admin")
    ap = aw.pages["Admin"]
    index = next(i for i in range(ap.tabs.count()) if ap.tabs.tabText(i) == "Settings")  # type: ignore[attr-defined]
    ap.tabs.setCurrentIndex(index)  # type: ignore[attr-defined]
    scroll = ap.tabs.widget(index)  # type: ignore[attr-defined]
    settle(app)
    edit = next(w for w in scroll.findChildren(QLineEdit) if w.text() == "RBIOP0001")
    scroll.ensureWidgetVisible(edit, 0, 200)
    settle(app)
    aw.grab().save(str(target / "settings-claims.png"))
    print(f"Saved the billing screenshots in {target}")


def _dependent_coverage(ctx: AppContext, parent: MainWindow) -> CoverageDialog:
    for row in list_census(ctx.db, ctx.actor, status="active"):
        for cov in payers.list_coverage(ctx.db, ctx.actor, row.id):
            if cov.subscriber_relationship != "self":
                return CoverageDialog(ctx, row.id, cov, parent)
    raise SystemExit("the demo clinic has no client whose parent is the subscriber")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
