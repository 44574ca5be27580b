"""Schedule: the program week (or one day) as a calendar, the selected session's details and
roster, and the dialogs to book appointments, generate group sessions and close the clinic.

Everything comes from iopdesk.services.schedule; these modules display it and call it, one
room each:

- page.py          the page (toolbar, week/day view, details panel; loads in the background)
- week.py          the week grid of session cards and the one-day table
- details.py       the selected session's details and roster
- labels.py        how sessions, conflicts and days are named and coloured; style sheets
- dialog_base.py   what the dialogs share (client picker, time fields, field marks)
- book.py, generate.py, close_day.py, cancel.py, facilitators.py, add_client.py: one dialog each
"""

from iopdesk.ui.pages.schedule.add_client import AddClientDialog
from iopdesk.ui.pages.schedule.book import BookDialog
from iopdesk.ui.pages.schedule.cancel import CancelDialog
from iopdesk.ui.pages.schedule.close_day import CloseDayDialog
from iopdesk.ui.pages.schedule.dialog_base import chosen_client, client_combo, client_label
from iopdesk.ui.pages.schedule.facilitators import FacilitatorsDialog
from iopdesk.ui.pages.schedule.generate import GenerateDialog
from iopdesk.ui.pages.schedule.labels import session_label, session_tooltip, wrap_text
from iopdesk.ui.pages.schedule.page import SchedulePage

__all__ = [
    "AddClientDialog",
    "BookDialog",
    "CancelDialog",
    "CloseDayDialog",
    "FacilitatorsDialog",
    "GenerateDialog",
    "SchedulePage",
    "chosen_client",
    "client_combo",
    "client_label",
    "session_label",
    "session_tooltip",
    "wrap_text",
]
