"""The ASAM Criteria dimensions and assessment occasions, as the plan printout names them.

The words are the ones iopdesk.services.asam records against (it imports them from here).
"""

DIMENSIONS = (
    "Acute intoxication and/or withdrawal potential",
    "Biomedical conditions and complications",
    "Emotional, behavioral, or cognitive conditions and complications",
    "Readiness to change",
    "Relapse, continued use, or continued problem potential",
    "Recovery/living environment",
)

OCCASIONS = {"admission": "Admission", "plan_review": "Plan review", "other": "Other"}
