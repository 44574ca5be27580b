"""Field validators shared by forms, services and the spreadsheet import."""

from __future__ import annotations

import re
from datetime import date

from iopdesk.services import clock

ICD10_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_icd10(code: str) -> str:
    """'f1020' -> 'F10.20'; raises ValueError with a plain message when not ICD-10-CM shaped."""
    text = code.strip().upper().replace(" ", "")
    if "." not in text and len(text) > 3:
        text = text[:3] + "." + text[3:]
    if not ICD10_RE.match(text):
        raise ValueError(f"'{code.strip()}' is not an ICD-10-CM code (for example F10.20).")
    return text


ICD10_SUGGESTIONS = 6  # billable codes named when a header code is refused


def icd10_description(code: str) -> str:
    """The code set's description of a valid ICD-10-CM code ('' when it is not one)."""
    import simple_icd_10_cm as cm

    return cm.get_description(code) if cm.is_valid_item(code) else ""


def check_icd10(code: str) -> tuple[str, str]:
    """(code, description) for a billable ICD-10-CM code of the release simple-icd-10-cm
    carries; ValueError in plain words otherwise. A header (category or subcategory with codes
    under it, e.g. F10 or F10.2) is refused with its billable codes suggested."""
    import simple_icd_10_cm as cm

    normalized = normalize_icd10(code)
    if not cm.is_valid_item(normalized):
        raise ValueError(
            f"{normalized} is not in the ICD-10-CM code set. Check the code (for example "
            "F10.20, alcohol dependence, uncomplicated)."
        )
    if not cm.is_leaf(normalized):
        billable = [c for c in cm.get_descendants(normalized) if cm.is_leaf(c)]
        shown = "; ".join(f"{c} {cm.get_description(c)}" for c in billable[:ICD10_SUGGESTIONS])
        more = len(billable) - ICD10_SUGGESTIONS
        raise ValueError(
            f"{normalized} ({cm.get_description(normalized)}) is a heading, not a billable "
            f"code. Use one of its billable codes: {shown}"
            + (f"; and {more} more." if more > 0 else ".")
        )
    return normalized, cm.get_description(normalized)


def normalize_phone(phone: str) -> str:
    """US-style numbers as (555) 123-4567; +international kept; empty allowed."""
    text = phone.strip()
    if not text:
        return ""
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and 8 <= len(digits) <= 15:
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError("Enter a 10-digit phone number, e.g. (555) 123-4567.")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def check_email(email: str) -> str:
    text = email.strip()
    if text and not EMAIL_RE.match(text):
        raise ValueError("Enter an e-mail address like name@example.org.")
    return text


def npi_is_valid(npi: str) -> bool:
    """10 digits, the last a Luhn check digit over '80840' + the first nine."""
    if not re.fullmatch(r"\d{10}", npi or ""):
        return False
    payload = "80840" + npi[:9]
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def check_dob(dob: date, today: date | None = None) -> date:
    today = today or clock.current_today()
    if dob > today:
        raise ValueError("Date of birth cannot be in the future.")
    if dob.year < today.year - 120:
        raise ValueError("Date of birth is more than 120 years ago; please check it.")
    return dob
