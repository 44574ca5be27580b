"""The names of the people behind user ids, as records and printouts show them."""

from __future__ import annotations

from sqlmodel import Session

from iopdesk.models import Staff, User


def staff_label(staff: Staff) -> str:
    """ "First Last, CREDENTIALS" (no comma when there are no credentials)."""
    name = f"{staff.first_name} {staff.last_name}"
    return f"{name}, {staff.credentials}" if staff.credentials else name


def user_name(session: Session, user_id: int | None, *, as_staff: bool = True) -> str:
    """Who a user id is: the linked staff member with credentials (as a signer is shown;
    `as_staff=False` for the account's display name only), else the display name, else the
    user name; "" for no user."""
    if user_id is None:
        return ""
    user = session.get(User, user_id)
    if user is None:
        return ""
    if as_staff and user.staff_id is not None:
        staff = session.get(Staff, user.staff_id)
        if staff is not None:
            return staff_label(staff)
    return user.display_name or user.username
