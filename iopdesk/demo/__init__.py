"""The demo clinic (`iopdesk demo`): invented people, payers and a program's history, for trying
IOPDesk, training, screenshots and tests. Its own package, outside the services: the product's
services never import it; it builds its data with them.

- `clinic`: the whole demo clinic (`create_demo_clinic`), deterministic for (today, seed).
- `safety`: the demo's safety plans, medications, drug screens and ASAM ratings, added last.
"""

from __future__ import annotations

from iopdesk.demo.clinic import (
    CLINIC_NAME,
    CLINIC_TIMEZONE,
    DEMO_PASSWORD,
    STAFF,
    DemoSummary,
    create_demo_clinic,
    npi_check_digit,
)

__all__ = [
    "CLINIC_NAME",
    "CLINIC_TIMEZONE",
    "DEMO_PASSWORD",
    "STAFF",
    "DemoSummary",
    "create_demo_clinic",
    "npi_check_digit",
]
