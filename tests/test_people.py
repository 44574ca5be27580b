"""The one way a user id becomes a name on a record (signers, flag events, amendments)."""

from __future__ import annotations

from iopdesk.models import Staff
from iopdesk.services.people import staff_label, user_name
from tests.conftest import Env


def test_a_user_is_named_as_their_staff_record_with_credentials(env: Env) -> None:
    w = env.world
    with env.db.session() as s:
        assert user_name(s, w.therapist.user_id) == "Theo Rapist, LPC"
        assert user_name(s, w.supervisor.user_id) == "Sue Pervisor, LCSW"
        # the account's display name where it is asked for, or where no staff record is linked
        assert user_name(s, w.supervisor.user_id, as_staff=False) == "Sue"
        assert user_name(s, w.admin.user_id) == "Ada Admin"
        assert user_name(s, None) == "" and user_name(s, 987654) == ""


def test_no_comma_without_credentials() -> None:
    assert staff_label(Staff(staff_code="X", first_name="Ann", last_name="Lee")) == "Ann Lee"
    ann = Staff(staff_code="X", first_name="Ann", last_name="Lee", credentials="LCSW")
    assert staff_label(ann) == "Ann Lee, LCSW"
