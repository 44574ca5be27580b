"""The audit report (Admin > Audit): filter, sort, export (itself audited), verify the chain.

Viewing, exporting and verifying are each audited. Rows show the client's MRN beside the
event, never a name; exports carry the Part 2 notice because MRNs identify clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlmodel import Session, col, select

from iopdesk.db import Database
from iopdesk.errors import ValidationError
from iopdesk.models import AuditEvent, Client, Clinic, User
from iopdesk.reports.data.audit import ReportRow as ReportRow
from iopdesk.services import audit, filesout
from iopdesk.services.actor import Actor
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm, require

# sort key -> column; every column of the report is sortable
SORT_COLUMNS = {
    "id": AuditEvent.id,
    "occurred_at": AuditEvent.occurred_at,
    "username": AuditEvent.username,
    "action": AuditEvent.action,
    "entity": AuditEvent.entity,
    "entity_id": AuditEvent.entity_id,
    "client": AuditEvent.client_id,
    "detail": AuditEvent.detail,
    "workstation": AuditEvent.workstation,
    "flagged": AuditEvent.flagged,
}
HEADERS = (
    "#",
    "When (UTC)",
    "User",
    "Action",
    "Record",
    "Record ID",
    "Client (MRN)",
    "Detail",
    "Workstation",
    "Flagged",
)
MAX_ROWS = 100_000


@dataclass(frozen=True)
class AuditQuery:
    date_from: date | None = None
    date_to: date | None = None
    user_id: int | None = None
    client_id: int | None = None
    action: str | None = None
    flagged_only: bool = False
    sort: str = "id"
    descending: bool = True

    def describe(self) -> str:
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"dates {self.date_from or '...'}..{self.date_to or '...'}")
        if self.user_id is not None:
            parts.append(f"user {self.user_id}")
        if self.client_id is not None:
            parts.append(f"client {self.client_id}")
        if self.action:
            parts.append(f"action {self.action}")
        if self.flagged_only:
            parts.append("flagged only")
        parts.append(f"sort {self.sort} {'desc' if self.descending else 'asc'}")
        return "; ".join(parts)


@dataclass(frozen=True)
class FilterOptions:
    users: list[tuple[int, str]]
    actions: list[str]


def _query(session: Session, q: AuditQuery, limit: int) -> list[ReportRow]:
    if q.sort not in SORT_COLUMNS:
        raise ValidationError(f"Cannot sort by '{q.sort}'.")
    if q.date_from and q.date_to and q.date_from > q.date_to:
        raise ValidationError("The 'from' date is after the 'to' date.")
    stmt = select(AuditEvent, Client.mrn).outerjoin(
        Client,
        Client.id == AuditEvent.client_id,  # type: ignore[arg-type]
    )
    if q.date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(q.date_from, time.min, UTC))
    if q.date_to:
        stmt = stmt.where(AuditEvent.occurred_at <= datetime.combine(q.date_to, time.max, UTC))
    if q.user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == q.user_id)
    if q.client_id is not None:
        stmt = stmt.where(AuditEvent.client_id == q.client_id)
    if q.action:
        stmt = stmt.where(AuditEvent.action == q.action)
    if q.flagged_only:
        stmt = stmt.where(col(AuditEvent.flagged))
    column = col(SORT_COLUMNS[q.sort])
    tiebreak = col(AuditEvent.id)
    if q.descending:
        stmt = stmt.order_by(column.desc(), tiebreak.desc())
    else:
        stmt = stmt.order_by(column.asc(), tiebreak.asc())
    return [
        ReportRow(
            e.id or 0,
            e.occurred_at,
            e.username,
            e.action,
            e.entity,
            e.entity_id,
            e.client_id,
            mrn or "",
            e.detail,
            e.workstation,
            e.flagged,
        )
        for e, mrn in session.exec(stmt.limit(limit)).all()
    ]


def run(db: Database, actor: Actor, query: AuditQuery, limit: int = 5000) -> list[ReportRow]:
    """The report's rows; viewing is audited (after the query, so it is not in the result)."""
    require(actor, Perm.AUDIT_VIEW)
    with db.session() as session:
        rows = _query(session, query, limit)
        audit.record(
            session,
            actor,
            audit.Action.AUDIT_VIEW,
            entity="audit_event",
            detail=f"{len(rows)} rows; {query.describe()}",
        )
        return rows


def filter_options(db: Database, actor: Actor) -> FilterOptions:
    require(actor, Perm.AUDIT_VIEW)
    with db.read() as session:
        users = [
            (u.id or 0, u.username) for u in session.exec(select(User).order_by(User.username))
        ]
        actions = sorted(
            a for a in session.exec(select(col(AuditEvent.action)).distinct()).all() if a
        )
        return FilterOptions(users, actions)


def verify(db: Database, actor: Actor) -> audit.VerifyResult:
    """Check the HMAC chain (as `iopdesk audit verify`) and record that it was checked."""
    require(actor, Perm.AUDIT_VIEW)
    result = audit.verify(db)
    audit.record_now(
        db,
        actor,
        audit.Action.AUDIT_VERIFY,
        entity="audit_event",
        detail="ok" if result.ok else f"broken at {result.first_bad_id}",
        flagged=not result.ok,
    )
    return result


@service(Perm.AUDIT_VIEW, audit=Audited(audit.Action.EXPORT, "audit_report"))
def export(session: Session, actor: Actor, query: AuditQuery, path: Path | str) -> int:
    """Write the filtered, sorted report to .xlsx or .pdf (atomically); the export is audited.
    Returns the number of rows written."""
    from iopdesk.reports import audit_report as writer

    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".pdf"):
        raise ValidationError(
            f"Cannot save the audit report as '{target.name}': use .xlsx or .pdf.",
            {"path": "Use .xlsx or .pdf."},
        )
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist.")
    rows = _query(session, query, MAX_ROWS)
    clinic = session.exec(select(Clinic.name).limit(1)).first() or ""
    data = writer.AuditReportData(
        clinic_name=clinic,
        filters=query.describe(),
        printed_by=actor.display_name,
        rows=rows,
    )
    write = writer.write_xlsx if suffix == ".xlsx" else writer.write_pdf
    with filesout.audited_write(target, lambda p: write(data, p)) as place:
        # the row, the rename and the commit together: no file without its audit row
        about(
            session, detail=f"format {suffix[1:]}; {len(rows)} rows; {query.describe()}", now=True
        )
        place()
        session.commit()
    return len(rows)


def client_id_for_mrn(db: Database, actor: Actor, mrn: str) -> int:
    """The client filter takes an MRN (names never go into the audit screens)."""
    require(actor, Perm.AUDIT_VIEW)
    from iopdesk.errors import NotFoundError

    with db.read() as session:
        cid = session.exec(select(Client.id).where(Client.mrn == mrn.strip().upper())).first()
        if cid is None:
            cid = session.exec(select(Client.id).where(Client.mrn == mrn.strip())).first()
        if cid is None:
            raise NotFoundError(f"No client has the MRN '{mrn.strip()}'.")
        return cid
