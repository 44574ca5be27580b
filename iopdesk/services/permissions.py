"""Role-based access: which role may do what. One table, checked by every service call."""

from __future__ import annotations

from enum import StrEnum

from iopdesk.errors import PermissionDenied
from iopdesk.models.enums import Role
from iopdesk.services.actor import Actor


class Perm(StrEnum):
    CENSUS_VIEW = "census.view"
    CLIENT_VIEW = "client.view"  # demographics, schedule, attendance (no clinical content)
    CLIENT_EDIT = "client.edit"
    CLINICAL_VIEW = "clinical.view"  # note and plan content
    CLINICAL_WRITE = "clinical.write"
    NOTE_COSIGN = "note.cosign"
    ASSIGNMENT_MANAGE = "assignment.manage"
    STAFF_MANAGE = "staff.manage"
    SCHEDULE_MANAGE = "schedule.manage"
    ATTENDANCE_RECORD = "attendance.record"
    DISCHARGE_MANAGE = "discharge.manage"
    AFTERCARE_PRINT = "aftercare.print"
    BILLING_VIEW = "billing.view"
    BILLING_EXPORT = "billing.export"
    PAYER_MANAGE = "payer.manage"
    REPORTS_VIEW = "reports.view"
    USERS_MANAGE = "users.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_VIEW = "audit.view"
    IMPORT_RUN = "import.run"
    BACKUP_RUN = "backup.run"


P = Perm
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.FRONT_DESK: frozenset(
        {
            P.CENSUS_VIEW,
            P.CLIENT_VIEW,
            P.CLIENT_EDIT,
            P.SCHEDULE_MANAGE,
            P.ATTENDANCE_RECORD,
            P.AFTERCARE_PRINT,
            P.REPORTS_VIEW,
        }
    ),
    Role.THERAPIST: frozenset(
        {
            P.CENSUS_VIEW,
            P.CLIENT_VIEW,
            P.CLIENT_EDIT,
            P.CLINICAL_VIEW,
            P.CLINICAL_WRITE,
            P.ATTENDANCE_RECORD,
            P.DISCHARGE_MANAGE,
            P.AFTERCARE_PRINT,
            P.REPORTS_VIEW,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            P.CENSUS_VIEW,
            P.CLIENT_VIEW,
            P.CLIENT_EDIT,
            P.CLINICAL_VIEW,
            P.CLINICAL_WRITE,
            P.NOTE_COSIGN,
            P.ASSIGNMENT_MANAGE,
            P.STAFF_MANAGE,
            P.SCHEDULE_MANAGE,
            P.ATTENDANCE_RECORD,
            P.DISCHARGE_MANAGE,
            P.AFTERCARE_PRINT,
            P.REPORTS_VIEW,
        }
    ),
    Role.BILLING: frozenset(
        {
            P.CENSUS_VIEW,
            P.CLIENT_VIEW,
            P.BILLING_VIEW,
            P.BILLING_EXPORT,
            P.PAYER_MANAGE,
            P.REPORTS_VIEW,
        }
    ),
    Role.ADMIN: frozenset(
        {
            P.CENSUS_VIEW,
            P.CLIENT_VIEW,
            P.CLIENT_EDIT,
            P.CLINICAL_VIEW,
            P.ASSIGNMENT_MANAGE,
            P.STAFF_MANAGE,
            P.SCHEDULE_MANAGE,
            P.ATTENDANCE_RECORD,
            P.AFTERCARE_PRINT,
            P.BILLING_VIEW,
            P.BILLING_EXPORT,
            P.PAYER_MANAGE,
            P.REPORTS_VIEW,
            P.USERS_MANAGE,
            P.SETTINGS_MANAGE,
            P.AUDIT_VIEW,
            P.IMPORT_RUN,
            P.BACKUP_RUN,
        }
    ),
}

DENIED_MESSAGES: dict[Perm, str] = {
    P.CLINICAL_VIEW: "Your role does not allow reading clinical notes or treatment plans.",
    P.USERS_MANAGE: "Only an administrator can manage user accounts.",
    P.SETTINGS_MANAGE: "Only an administrator can change clinic settings.",
    P.AUDIT_VIEW: "Only an administrator can view the audit log.",
    P.BILLING_EXPORT: "Only billing staff and administrators can export billing.",
}


def permissions_for(roles: frozenset[Role]) -> frozenset[Perm]:
    result: set[Perm] = set()
    for role in roles:
        result |= ROLE_PERMISSIONS[role]
    return frozenset(result)


def has(actor: Actor, perm: Perm) -> bool:
    return perm in permissions_for(actor.roles)


def require(actor: Actor, perm: Perm) -> None:
    if not has(actor, perm):
        raise PermissionDenied(
            DENIED_MESSAGES.get(perm, "Your role does not allow this action. Ask an administrator.")
        )
