"""What to do about each billing exception, in plain words (issue 19 item 8). Reasons not
listed here (added later) get a general hint."""

from __future__ import annotations

from iopdesk.services import billing

FIXES = {
    billing.NO_PAYER: "Add the client's insurance: chart > Billing > Coverage (payer and dates).",
    billing.NO_MEMBER_ID: "Enter the member ID on the client's coverage: chart > Billing.",
    billing.NO_DIAGNOSIS: "Add a diagnosis (ICD-10-CM) on the client's chart > Overview.",
    billing.NOTE_NOT_SIGNED: "The clinician signs the progress note for this session (Notes).",
    billing.NO_PER_DIEM_CODE: "Set the track's per-diem code: Admin > Tracks, or Billing setup.",
    billing.UNDER_16: "Fewer than 16 minutes attended: check the sign-in times; not billable.",
    billing.UNDER_26: "Under the minimum minutes for this code: check the sign-in times.",
    billing.NO_AUTHORIZATION: "Enter the payer's authorization: chart > Billing > "
    "Authorizations (number, code, dates, units).",
    billing.AUTH_EXHAUSTED: "The authorization's units are used up: request more units and "
    "enter the new authorization in chart > Billing.",
}


def how_to_fix(reason: str) -> str:
    for known, fix in FIXES.items():
        if reason == known or reason.startswith(known):
            return fix
    return "Open the client's chart > Billing to correct it, then preview again."
