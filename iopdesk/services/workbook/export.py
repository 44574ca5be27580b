"""Exporting the clinic as a workbook in the import format (export -> import -> export is
stable), with the Part 2 notice when SUD records are in it."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk.errors import UserError
from iopdesk.models import (
    Attendance,
    Authorization,
    Client,
    Clinic,
    ClinicSession,
    Coverage,
    Diagnosis,
    GroupNote,
    Note,
    Payer,
    SessionFacilitator,
    Staff,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.models.enums import AssignmentRole, NoteStatus, SessionKind
from iopdesk.reports import PART2_NOTICE
from iopdesk.services import filesout
from iopdesk.services.actor import Actor, parse_roles, roles_text
from iopdesk.services.clinic import get_setting_in
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.disclosures import INTERNAL, Release, authorize_many, plan_release
from iopdesk.services.permissions import Perm
from iopdesk.services.workbook import privacy as workbook_privacy
from iopdesk.services.workbook.apply import _current_fees
from iopdesk.services.workbook.contract import (
    _CLINIC_FIELDS,
    _SETTING_KEYS,
    CLINIC_SETTINGS,
    COLUMNS,
    EXPORT_ACTION,
    RELEASE_CATEGORIES,
    SHEETS,
    ExportCounts,
    _generated_ids,
    _hhmm,
    _pk,
)
from iopdesk.services.workbook.read import WEEKDAYS


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _or_none(value: Any) -> Any:
    return None if value in (None, "") else value


def _note_status(status: str | None) -> str:
    if status is None:
        return "missing"
    return "signed" if status == NoteStatus.SIGNED.value else "unsigned"


def _track_days(blocks: list[TrackBlock]) -> tuple[str, time, time]:
    """days, start, end: the most common block times; other days carry their own times."""
    blocks = sorted(blocks, key=lambda b: (b.weekday, b.start_time))
    tally: dict[tuple[time, time], int] = {}
    for b in blocks:
        tally[(b.start_time, b.end_time)] = tally.get((b.start_time, b.end_time), 0) + 1
    best = max(tally.values())
    start, end = next(t for t in tally if tally[t] == best)
    days = [
        WEEKDAYS[b.weekday]
        if (b.start_time, b.end_time) == (start, end)
        else f"{WEEKDAYS[b.weekday]} {_hhmm(b.start_time)}-{_hhmm(b.end_time)}"
        for b in blocks
    ]
    return ",".join(days), start, end


class _Export:
    """Reads the database into the workbook's rows (sorted by natural key)."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.data: dict[str, list[list[Any]]] = {}
        self.skipped: dict[str, int] = {}

    def skip(self, sheet: str) -> None:
        self.skipped[sheet] = self.skipped.get(sheet, 0) + 1

    def run(self) -> dict[str, list[list[Any]]]:
        self.clinic()
        self.staff()
        self.payers()
        self.fees()
        self.tracks()
        self.clients()
        self.authorizations()
        self.sessions()
        self.attendance()
        self.data["Recipients"] = workbook_privacy.export_recipients(self.s)
        self.data["Consents"] = workbook_privacy.export_consents(self.s, self.mrn)
        return self.data

    def clinic(self) -> None:
        clinic = self.s.exec(select(Clinic)).first()
        values: dict[str, Any] = {k: getattr(clinic, k) for k in _CLINIC_FIELDS} if clinic else {}
        values.update({k: get_setting_in(self.s, k) for k in _SETTING_KEYS})
        self.data["Clinic"] = [
            [k, values[k]] for k in sorted(CLINIC_SETTINGS) if values.get(k) not in (None, "")
        ]

    def staff(self) -> None:
        staff = self.s.exec(select(Staff).order_by(col(Staff.staff_code))).all()
        self.staff_code = {_pk(x): x.staff_code for x in staff}
        rows = []
        for x in staff:
            try:
                roles = parse_roles(x.roles)
            except ValueError:
                roles = frozenset()
            if not roles:
                self.skip("Staff")  # a staff record without roles cannot be expressed
                continue
            rows.append(
                [
                    x.staff_code,
                    x.first_name,
                    x.last_name,
                    _or_none(x.credentials),
                    _or_none(x.npi),
                    roles_text(roles),
                    self.staff_code.get(x.supervisor_id) if x.supervisor_id else None,
                    "yes" if x.is_supervisee else "no",
                    _or_none(x.taxonomy),
                ]
            )
        self.data["Staff"] = rows

    def payers(self) -> None:
        payers = self.s.exec(select(Payer).order_by(col(Payer.payer_code))).all()
        self.payer_code = {_pk(p): p.payer_code for p in payers}
        self.data["Payers"] = [
            [
                p.payer_code,
                p.name,
                p.billing_mode,
                "yes" if p.requires_auth else "no",
                p.audio_only_modifier,
                "yes" if p.group_hq else "no",
                "yes" if p.sud_hf else "no",
                "yes" if p.requires_treatment_plan else "no",
                _or_none(p.electronic_payer_id),
                _or_none(p.claim_type),
            ]
            for p in payers
        ]

    def fees(self) -> None:
        rows = [
            [self.payer_code[payer_id], code, float(fee.rate)]
            for (payer_id, code), fee in _current_fees(self.s).items()
        ]
        self.data["Fees"] = sorted(rows, key=lambda r: (r[0], r[1]))

    def tracks(self) -> None:
        blocks: dict[int, list[TrackBlock]] = {}
        for b in self.s.exec(select(TrackBlock).where(col(TrackBlock.active).is_(True))):
            blocks.setdefault(b.track_id, []).append(b)
        self.track_code: dict[int, str] = {}
        rows = []
        for t in self.s.exec(select(Track).order_by(col(Track.track_code))).all():
            if not blocks.get(_pk(t)):
                self.skip("Tracks")  # no weekly schedule: days, start and end are required
                continue
            self.track_code[_pk(t)] = t.track_code
            days, start, end = _track_days(blocks[_pk(t)])
            rows.append(
                [
                    t.track_code,
                    t.name,
                    t.level_of_care,
                    t.population,
                    _number(t.required_weekly_hours),
                    days,
                    _hhmm(start),
                    _hhmm(end),
                    t.per_diem_code,
                    "yes" if t.is_sud else "no",
                    t.required_weekly_days,
                ]
            )
        self.data["Tracks"] = rows

    def clients(self) -> None:
        s = self.s
        # Column queries, not ORM objects: a 10,000-client export builds no ORM instances.
        enrollment: dict[int, int] = {}
        for client_id, track_id in s.execute(
            sa_select(col(TrackEnrollment.client_id), col(TrackEnrollment.track_id))
            .where(col(TrackEnrollment.voided_at).is_(None))
            .order_by(col(TrackEnrollment.start_date), col(TrackEnrollment.id))
        ):
            enrollment[client_id] = track_id  # the latest wins
        therapist: dict[int, int] = {}
        for client_id, staff_id in s.execute(
            sa_select(col(TherapistAssignment.client_id), col(TherapistAssignment.staff_id))
            .where(
                col(TherapistAssignment.voided_at).is_(None),
                col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
            )
            .order_by(col(TherapistAssignment.start_date), col(TherapistAssignment.id))
        ):
            therapist[client_id] = staff_id
        coverage: dict[int, tuple[int, str]] = {}
        for client_id, payer_id, member_id in s.execute(
            sa_select(col(Coverage.client_id), col(Coverage.payer_id), col(Coverage.member_id))
            .where(col(Coverage.voided_at).is_(None))
            .order_by(col(Coverage.priority), col(Coverage.id))
        ):
            coverage.setdefault(client_id, (payer_id, member_id))
        diagnoses: dict[int, list[str]] = {}
        for client_id, code in s.execute(
            sa_select(col(Diagnosis.client_id), col(Diagnosis.icd10_code))
            .where(col(Diagnosis.voided_at).is_(None))
            .order_by(
                col(Diagnosis.is_primary).desc(), col(Diagnosis.sort_order), col(Diagnosis.id)
            )
        ):
            diagnoses.setdefault(client_id, []).append(code)
        self.mrn: dict[int, str] = {}
        rows = []
        for c in s.execute(
            sa_select(
                col(Client.id),
                col(Client.mrn),
                col(Client.first_name),
                col(Client.last_name),
                col(Client.preferred_name),
                col(Client.dob),
                col(Client.sex),
                col(Client.phone),
                col(Client.email),
                col(Client.primary_language),
                col(Client.admission_date),
                col(Client.discharge_date),
                col(Client.required_weekly_hours),
                col(Client.part2),
                col(Client.required_hours_until),
            ).order_by(col(Client.mrn))
        ):
            pk = int(c.id)
            track_id = enrollment.get(pk)
            if c.admission_date is None or track_id not in self.track_code:
                self.skip("Clients")  # not admitted to a track yet (referral or intake)
                continue
            self.mrn[pk] = c.mrn
            payer_id, member_id = coverage.get(pk, (None, ""))
            rows.append(
                [
                    c.mrn,
                    c.first_name,
                    c.last_name,
                    _or_none(c.preferred_name),
                    c.dob,
                    _or_none(c.sex),
                    _or_none(c.phone),
                    _or_none(c.email),
                    _or_none(c.primary_language),
                    self.track_code[track_id],
                    c.admission_date,
                    c.discharge_date,
                    self.staff_code.get(therapist[pk]) if pk in therapist else None,
                    self.payer_code.get(payer_id) if payer_id is not None else None,
                    _or_none(member_id) if payer_id is not None else None,
                    ",".join(diagnoses.get(pk, [])) or None,
                    _number(c.required_weekly_hours),
                    "yes" if c.part2 else "no",
                    c.required_hours_until if c.required_weekly_hours is not None else None,
                ]
            )
        self.data["Clients"] = rows

    def authorizations(self) -> None:
        rows = []
        for a in self.s.execute(
            sa_select(
                col(Authorization.client_id),
                col(Authorization.payer_id),
                col(Authorization.auth_number),
                col(Authorization.code),
                col(Authorization.start_date),
                col(Authorization.end_date),
                col(Authorization.units),
            ).where(col(Authorization.voided_at).is_(None))
        ):
            if a.client_id not in self.mrn:
                self.skip("Authorizations")
                continue
            rows.append(
                [
                    self.mrn[a.client_id],
                    self.payer_code[a.payer_id],
                    a.auth_number,
                    a.code,
                    a.start_date,
                    a.end_date,
                    a.units,
                ]
            )
        self.data["Authorizations"] = sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3]))

    def sessions(self) -> None:
        s = self.s
        generated = {pk: key for key, pk in _generated_ids(s).items()}
        facilitators: dict[int, list[str]] = {}
        for session_id, staff_id in s.execute(
            sa_select(
                col(SessionFacilitator.session_id), col(SessionFacilitator.staff_id)
            ).order_by(col(SessionFacilitator.is_primary).desc(), col(SessionFacilitator.id))
        ):
            facilitators.setdefault(session_id, []).append(self.staff_code[staff_id])
        group_status: dict[int, str] = {}
        for session_id, status in s.execute(
            sa_select(col(GroupNote.session_id), col(GroupNote.status))
            .where(col(GroupNote.voided_at).is_(None))
            .order_by(col(GroupNote.id).desc())
        ):
            group_status[session_id] = status  # the first (lowest id) wins
        note_status: dict[tuple[int, int], str] = {}
        for session_id, client_id, status in s.execute(
            sa_select(col(Note.session_id), col(Note.client_id), col(Note.status))
            .where(
                col(Note.voided_at).is_(None),
                col(Note.group_note_id).is_(None),
                col(Note.session_id).is_not(None),
            )
            .order_by(col(Note.id).desc())
        ):
            note_status[(session_id, client_id)] = status
        self.session_key: dict[int, str] = {}
        rows = []
        for x in s.execute(
            sa_select(
                col(ClinicSession.id),
                col(ClinicSession.external_id),
                col(ClinicSession.kind),
                col(ClinicSession.track_id),
                col(ClinicSession.client_id),
                col(ClinicSession.session_date),
                col(ClinicSession.start_time),
                col(ClinicSession.end_time),
                col(ClinicSession.topic),
                col(ClinicSession.status),
                col(ClinicSession.telehealth),
            )
        ):
            pk = int(x.id)
            if (
                (x.client_id is not None and x.client_id not in self.mrn)
                or (x.track_id is not None and x.track_id not in self.track_code)
                or not facilitators.get(pk)
            ):
                self.skip("Sessions")
                continue
            key = x.external_id or generated[pk]
            self.session_key[pk] = key
            if x.kind == SessionKind.GROUP.value:
                status = group_status.get(pk)
            else:
                status = note_status.get((pk, x.client_id or 0))
            rows.append(
                [
                    key,
                    x.kind,
                    self.track_code.get(x.track_id) if x.track_id else None,
                    self.mrn.get(x.client_id) if x.client_id else None,
                    x.session_date,
                    _hhmm(x.start_time),
                    _hhmm(x.end_time),
                    ",".join(facilitators[pk]),
                    _or_none(x.topic),
                    x.status,
                    x.telehealth,
                    _note_status(status),
                ]
            )
        self.data["Sessions"] = sorted(rows, key=lambda r: str(r[0]))

    def attendance(self) -> None:
        rows = []
        for session_id, client_id, status, minutes in self.s.execute(
            sa_select(
                col(Attendance.session_id),
                col(Attendance.client_id),
                col(Attendance.status),
                col(Attendance.minutes),
            )
        ):
            if session_id not in self.session_key or client_id not in self.mrn:
                self.skip("Attendance")
                continue
            rows.append([self.session_key[session_id], self.mrn[client_id], status, minutes])
        self.data["Attendance"] = sorted(rows, key=lambda r: (r[0], r[1]))


_WIDTHS = {
    "setting": 26,
    "value": 40,
    "name": 30,
    "first_name": 16,
    "last_name": 18,
    "roles": 24,
    "days": 24,
    "diagnoses": 22,
    "session_id": 32,
    "topic": 30,
    "email": 28,
    "phone": 16,
    "facilitator": 16,
}


def _write(path: Path, data: dict[str, list[list[Any]]], notice: tuple[str, ...] = ()) -> None:
    """Write the workbook to `path` (reports.xlsx: XlsxWriter, every text a text cell);
    export_workbook gives the partial file of filesout.audited_write."""
    from iopdesk.reports.xlsx import Book

    with Book(
        path,
        title="IOPDesk clinic workbook",
        subject="Protected health information",
        comments=(
            "Contains protected health information. "
            + PART2_NOTICE
            + " Keep this file encrypted and delete it when it is no longer needed."
        ),
    ) as book:
        bold = book.style(bold=True)
        rate_style = book.style(number_format="0.00")
        for sheet in SHEETS:
            columns = COLUMNS[sheet]
            ws = book.sheet(
                sheet, widths=[_WIDTHS.get(name, 14) for name in columns], freeze_rows=1
            )
            ws.append(columns, (bold,) * len(columns))
            styles = [rate_style if name == "rate" else None for name in columns]
            for row in data.get(sheet, []):
                ws.append(row, styles)
        if notice:  # a disclosure: who received it, the consent's scope, the 2.32 notice
            from iopdesk.reports import RELEASE_NOTICE_SHEET

            about = book.sheet(RELEASE_NOTICE_SHEET, widths=(120,))
            for line in notice:
                about.append((line,))


@service(Perm.IMPORT_RUN, audit=Audited(EXPORT_ACTION, "workbook"))
def export_workbook(
    session: Session, actor: Actor, path: Path, release: Release | None = None
) -> ExportCounts:
    """Write the clinic's data in the import format; returns rows written per sheet.

    `release` says who receives the file (default internal use, e.g. a backup copy or a move
    to another IOPDesk); a disclosure needs a covering consent for every Part 2 client in it,
    checked before the file is written, with one disclosure row per client exported.

    Records the format cannot express (clients not yet admitted to a track, staff without
    roles, and what hangs off them) are left out and counted in the result's `skipped`.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name such as clinic.xlsx.")
    if not path.parent.is_dir():
        raise UserError(f"The folder {path.parent} does not exist; choose another place to save.")
    export = _Export(session)
    data = export.run()
    release = release or INTERNAL
    ids = list(export.mrn)
    notice = plan_release(session, ids, release, RELEASE_CATEGORIES).notice()
    counts = {sheet: len(data[sheet]) for sheet in SHEETS}
    detail = "rows: " + ", ".join(f"{s} {n}" for s, n in counts.items())
    if export.skipped:
        detail += "; left out: " + ", ".join(f"{s} {n}" for s, n in export.skipped.items())
    with filesout.audited_write(path, lambda p: _write(p, data, notice)) as place:
        authorize_many(session, actor, ids, release, "clinic workbook export", RELEASE_CATEGORIES)
        # the row, the rename and the commit together: no file without its audit row
        about(session, detail=detail, now=True)
        place()
        session.commit()
    return ExportCounts(counts, dict(export.skipped))
