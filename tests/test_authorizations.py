"""Authorization units left and the warnings on the Today screen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from iopdesk.models import Authorization, BillingBatch, BillingLine, Payer
from iopdesk.services import authorizations, clinic


def test_units_left_counts_only_exported_batches_and_warns(env):
    today = date.today()
    w = env.world
    with env.db.session() as s:
        payer = Payer(payer_code="MCD", name="Medicaid", billing_mode="per_diem")
        s.add(payer)
        s.flush()
        low = Authorization(
            client_id=w.client_own,
            payer_id=payer.id,
            auth_number="LOW",
            code="H0015",
            start_date=today - timedelta(days=10),
            end_date=today + timedelta(days=60),
            units=5,
        )
        ending = Authorization(
            client_id=w.client_other,
            payer_id=payer.id,
            auth_number="END",
            code="H0015",
            start_date=today - timedelta(days=10),
            end_date=today + timedelta(days=3),
            units=30,
        )
        fine = Authorization(
            client_id=w.client_other,
            payer_id=payer.id,
            auth_number="OK",
            code="90834",
            start_date=today,
            end_date=today + timedelta(days=90),
            units=12,
        )
        over = Authorization(
            client_id=w.client_own,
            payer_id=payer.id,
            auth_number="OLD",
            code="H0015",
            start_date=today - timedelta(days=90),
            end_date=today - timedelta(days=1),
            units=1,
        )
        s.add_all([low, ending, fine, over])
        s.flush()
        live = BillingBatch(batch_number="B1", date_from=today, date_to=today)
        dead = BillingBatch(batch_number="B2", date_from=today, date_to=today, status="voided")
        s.add_all([live, dead])
        s.flush()
        for batch, units in ((live, 3), (dead, 2)):
            s.add(
                BillingLine(
                    batch_id=batch.id,
                    client_id=w.client_own,
                    payer_id=payer.id,
                    authorization_id=low.id,
                    date_of_service=today,
                    procedure_code="H0015",
                    units=units,
                    charge=Decimal("10"),
                )
            )
    rows = {a.auth_number: a for a in authorizations.statuses(env.db, w.front_desk)}
    assert set(rows) == {"LOW", "END", "OK"}  # expired ones are not listed
    assert (rows["LOW"].used, rows["LOW"].remaining) == (3, 2)  # voided batch frees units
    assert rows["LOW"].warning == "2 units left"
    assert rows["END"].warning == f"ends {today + timedelta(days=3):%m/%d/%Y}"
    assert rows["OK"].warning == ""
    warned = authorizations.statuses(env.db, w.front_desk, warnings_only=True)
    assert [a.auth_number for a in warned] == ["END", "LOW"]  # soonest end first
    clinic.set_setting(env.db, w.admin, "auth_warn_units", 2)
    clinic.set_setting(env.db, w.admin, "auth_warn_days", 2)
    assert authorizations.statuses(env.db, w.front_desk, warnings_only=True) == []
