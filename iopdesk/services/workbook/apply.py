"""Applying a checked workbook to the database in one transaction (bulk INSERTs, only rows
whose values differ are updated), and `import_workbook`: read -> check -> apply."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from iopdesk import settings as settings_decl
from iopdesk.db import Database
from iopdesk.errors import DatabaseError
from iopdesk.models import (
    Attendance,
    Authorization,
    Client,
    ClinicSession,
    Coverage,
    Diagnosis,
    Episode,
    FeeSchedule,
    GroupNote,
    Note,
    Payer,
    SessionFacilitator,
    Setting,
    Staff,
    StatusChange,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
    utcnow,
)
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    AssignmentRole,
    AttendanceStatus,
    ClientStatus,
    NoteFormat,
    NoteStatus,
    SessionKind,
    SessionStatus,
    Telehealth,
)
from iopdesk.services.actor import Actor, parse_roles
from iopdesk.services.clinic import clinic_today, get_setting_in
from iopdesk.services.clock import forget_zone
from iopdesk.services.declare import Audited, about, service
from iopdesk.services.permissions import Perm
from iopdesk.services.validation import icd10_description
from iopdesk.services.workbook import privacy as workbook_privacy
from iopdesk.services.workbook.check import _canonical_mrns, _check, _State
from iopdesk.services.workbook.contract import (
    _CLINIC_FIELDS,
    _PAYER_RULE_COLUMNS,
    COLUMNS,
    DEFAULT_HOURS,
    IMPORT_ACTION,
    NOTE_CONTENT,
    NOTE_CONTENT_SHA256,
    SHEETS,
    SUD_PER_DIEM_CODE,
    ImportFailed,
    ImportProblem,
    ImportResult,
    _chunks,
    _minutes,
    _pk,
)
from iopdesk.services.workbook.read import _Book, _parse, _read, _roles_text, _Row

log = logging.getLogger(__name__)


class _Writer:
    """Change tracking shared by the apply steps: stamps, version bumps, bulk inserts."""

    def __init__(self, session: Session, actor: Actor, probe: bool = False) -> None:
        self.s = session
        self.actor = actor
        self.uid = actor.user_id
        self.now = utcnow()
        self.today = clinic_today(session)
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        # A probe runs the same update code against plain rows and only answers "would this
        # change anything?", so unchanged records never need ORM objects.
        self.probe = probe

    def prober(self) -> _Writer:
        probe = _Writer(self.s, self.actor, probe=True)
        probe.now, probe.today = self.now, self.today
        return probe

    def base(self) -> dict[str, Any]:
        return {
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": self.uid,
            "updated_by": self.uid,
            "version": 1,
        }

    def row(self, **values: Any) -> dict[str, Any]:
        return {**self.base(), **values}

    def touch(self, obj: Any, values: dict[str, Any]) -> bool:
        """Write only what differs; bump the version once. True when something changed."""
        changes = {k: v for k, v in values.items() if getattr(obj, k) != v}
        if not changes:
            return False
        if self.probe:
            return True
        for key, value in changes.items():
            setattr(obj, key, value)
        obj.version = (obj.version or 0) + 1
        obj.updated_at = self.now
        obj.updated_by = self.uid
        self.s.add(obj)
        return True

    def void(self, obj: Any, reason: str) -> None:
        if self.probe:
            return
        obj.voided_at = self.now
        obj.voided_by = self.uid
        obj.void_reason = reason
        obj.version = (obj.version or 0) + 1
        obj.updated_at = self.now
        obj.updated_by = self.uid
        self.s.add(obj)

    def insert_ids(self, model: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Bulk INSERT returning the new ids in row order.

        SQLite cannot return ids of a multi-row INSERT in a guaranteed order, so SQLAlchemy
        falls back to one statement per row (10,000 clients: 20,000 statements). There the
        transaction already holds the write lock (BEGIN IMMEDIATE), so the ids are assigned
        here, after the current maximum. PostgreSQL returns them in order from its sequence.
        """
        if not rows:
            return []
        if self.probe:
            return [0] * len(rows)
        table = model.__table__
        if self.sqlite:
            top = self.s.execute(sa_select(func.max(table.c.id))).scalar() or 0
            ids = list(range(top + 1, top + 1 + len(rows)))
            self.s.execute(
                insert(table), [{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)]
            )
            return ids
        result = self.s.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return [int(pk) for pk in result.scalars()]

    def insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Bulk INSERT through the Core table (about twice as fast as the ORM bulk path)."""
        if rows and not self.probe:
            self.s.execute(insert(model.__table__), rows)


@dataclass
class _Tally:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def add(self, sheet: str, kind: str) -> None:
        bucket = getattr(self, kind)
        bucket[sheet] = bucket.get(sheet, 0) + 1


def _apply(book: _Book, st: _State, w: _Writer) -> _Tally:
    tally = _Tally()
    _apply_clinic(book.sheet("Clinic"), st, w, tally)
    _apply_staff(book.sheet("Staff"), st, w, tally)
    _apply_payers(book.sheet("Payers"), st, w, tally)
    _apply_fees(book.sheet("Fees"), st, w, tally)
    _apply_tracks(book.sheet("Tracks"), st, w, tally)
    _apply_clients(book.sheet("Clients"), st, w, tally)
    _apply_authorizations(book.sheet("Authorizations"), st, w, tally)
    _Sessions(book, st, w, tally).apply()
    workbook_privacy.apply_recipients(book.sheet("Recipients"), st, w, tally)
    workbook_privacy.apply_consents(book.sheet("Consents"), st, w, tally)
    w.s.flush()
    return tally


def _count(tally: _Tally, sheet: str, created: bool, changed: bool) -> None:
    tally.add(sheet, "created" if created else "updated" if changed else "unchanged")


def _apply_clinic(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    clinic_changes: dict[str, Any] = {}
    for r in rows:
        key, value = r.v["setting"], r.v["value"]
        if key in _CLINIC_FIELDS:
            changed = getattr(st.clinic, key) != value
            if changed:
                clinic_changes[key] = value
            _count(tally, "Clinic", False, changed)
            continue
        stored = w.s.get(Setting, key)
        if stored is None:
            # A value equal to the default needs no row: the setting already has that value.
            created = get_setting_in(w.s, key) != value
            if created:
                w.s.add(Setting(key=key, value=str(value), **w.base()))
            _count(tally, "Clinic", created, False)
        else:
            try:
                same = settings_decl.parse(settings_decl.BY_KEY[key], stored.value) == value
            except ValueError:
                same = False
            _count(tally, "Clinic", False, not same and w.touch(stored, {"value": str(value)}))
    w.touch(st.clinic, clinic_changes)


def _apply_staff(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    created: set[str] = set()
    for r in rows:
        code = r.v["staff_id"]
        if code in st.staff:
            continue
        obj = Staff(
            staff_code=code,
            first_name=r.v["first_name"],
            last_name=r.v["last_name"],
            credentials=r.v.get("credentials") or "",
            npi=r.v.get("npi"),
            taxonomy=r.v.get("taxonomy") or "",
            roles=_roles_text(r.v["roles"]),
            is_supervisee=bool(r.v.get("requires_cosign")),
            **w.base(),
        )
        w.s.add(obj)
        st.staff[code] = obj
        created.add(code)
    w.s.flush()
    for r in rows:
        code = r.v["staff_id"]
        obj = st.staff[code]
        sup = r.v.get("supervisor_id")
        sup_id = st.staff[sup].id if sup is not None else None
        if code in created:
            if sup_id is not None:
                obj.supervisor_id = sup_id
                w.s.add(obj)
            _count(tally, "Staff", True, False)
            continue
        values: dict[str, Any] = {
            k: r.v[k]
            for k in ("first_name", "last_name", "credentials", "npi", "taxonomy")
            if k in r.v
        }
        if "roles" in r.v:
            try:
                same = frozenset(x.value for x in parse_roles(obj.roles)) == r.v["roles"]
            except ValueError:
                same = False
            if not same:
                values["roles"] = _roles_text(r.v["roles"])
        if "supervisor_id" in r.v:
            values["supervisor_id"] = sup_id
        if "requires_cosign" in r.v:
            values["is_supervisee"] = r.v["requires_cosign"]
        _count(tally, "Staff", False, w.touch(obj, values))


def _apply_payers(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    for r in rows:
        code = r.v["payer_id"]
        obj = st.payers.get(code)
        values: dict[str, Any] = {
            k: r.v[k]
            for k in ("name", "billing_mode", "requires_auth", "electronic_payer_id", "claim_type")
            if k in r.v
        }
        values.update(
            {field: r.v[column] for column, field in _PAYER_RULE_COLUMNS.items() if column in r.v}
        )
        if obj is None:
            obj = Payer(payer_code=code, **{"requires_auth": False, **values}, **w.base())
            w.s.add(obj)
            st.payers[code] = obj
            _count(tally, "Payers", True, False)
        else:
            _count(tally, "Payers", False, w.touch(obj, values))
    w.s.flush()


def _current_fees(session: Session) -> dict[tuple[int, str], FeeSchedule]:
    """The fee in force for each (payer, code): open-ended first, then the latest start."""
    out: dict[tuple[int, str], FeeSchedule] = {}

    def rank(f: FeeSchedule) -> tuple[bool, date, int]:
        return (f.effective_to is None, f.effective_from or date.min, _pk(f))

    for fee in session.exec(select(FeeSchedule).where(col(FeeSchedule.voided_at).is_(None))):
        key = (fee.payer_id, fee.code)
        if key not in out or rank(fee) > rank(out[key]):
            out[key] = fee
    return out


def _apply_fees(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    current = _current_fees(w.s)
    for r in rows:
        payer_id = _pk(st.payers[r.v["payer_id"]])
        obj = current.get((payer_id, r.v["code"]))
        if obj is None:
            obj = FeeSchedule(payer_id=payer_id, code=r.v["code"], rate=r.v["rate"], **w.base())
            w.s.add(obj)
            current[(payer_id, r.v["code"])] = obj
            _count(tally, "Fees", True, False)
        else:
            _count(tally, "Fees", False, w.touch(obj, {"rate": r.v["rate"]}))
    w.s.flush()


def _apply_tracks(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    blocks: dict[int, list[TrackBlock]] = {}
    for b in w.s.exec(select(TrackBlock).order_by(col(TrackBlock.id))):
        blocks.setdefault(b.track_id, []).append(b)
    for r in rows:
        code = r.v["track_id"]
        obj = st.tracks.get(code)
        values: dict[str, Any] = {
            k: r.v[k] for k in ("name", "level_of_care", "population") if k in r.v
        }
        population = values.get("population") or (obj.population if obj else "adult")
        if "required_weekly_hours" in r.v or obj is None:
            hours = r.v.get("required_weekly_hours")
            values["required_weekly_hours"] = (
                hours if hours is not None else DEFAULT_HOURS[population]
            )
        if "required_weekly_days" in r.v or obj is None:
            values["required_weekly_days"] = r.v.get("required_weekly_days") or 0
        if "per_diem_code" in r.v or obj is None:
            values["per_diem_code"] = r.v.get("per_diem_code")
            values["is_sud"] = values["per_diem_code"] == SUD_PER_DIEM_CODE
        if r.v.get("substance_use") is not None:  # given: it wins over the per-diem default
            values["is_sud"] = r.v["substance_use"]
        created = obj is None
        if obj is None:
            obj = Track(track_code=code, **{"level_of_care": "IOP", **values}, **w.base())
            w.s.add(obj)
            w.s.flush()
            st.tracks[code] = obj
            changed = False
        else:
            changed = w.touch(obj, values)
        start, end = r.v["start_time"], r.v["end_time"]
        wanted = {(day, s or start): e or end for day, s, e in r.v["days"]}
        have = {(b.weekday, b.start_time): b for b in blocks.get(_pk(obj), [])}
        for (day, s), e in wanted.items():
            block = have.get((day, s))
            if block is None:
                w.s.add(
                    TrackBlock(track_id=_pk(obj), weekday=day, start_time=s, end_time=e, **w.base())
                )
                changed = True
            else:
                changed = w.touch(block, {"end_time": e, "active": True}) or changed
        for key, block in have.items():
            if key not in wanted and block.active:
                changed = w.touch(block, {"active": False}) or changed
        _count(tally, "Tracks", created, changed)
    w.s.flush()


def _by_client(
    session: Session,
    model: Any,
    ids: Sequence[int],
    *where: Any,
    plain: bool = False,
    key: str = "client_id",
) -> dict[int, list[Any]]:
    """Records of these clients: ORM objects, or (plain=True) read-only rows, much cheaper."""
    out: dict[int, list[Any]] = {}
    entity = model.__table__ if plain else model
    column = getattr(model, key)
    for chunk in _chunks(ids):
        query = sa_select(entity).where(col(column).in_(chunk), *where).order_by(col(model.id))
        rows = session.execute(query) if plain else session.scalars(query)
        for obj in rows:
            out.setdefault(getattr(obj, key), []).append(obj)
    return out


@dataclass
class _ClientRows:
    """Rows for bulk INSERT, gathered while the Clients sheet is applied."""

    enrollments: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[dict[str, Any]] = field(default_factory=list)


def _apply_clients(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    out = _ClientRows()
    new = [r for r in rows if r.v["mrn"] not in st.client_ids]
    old_rows = [r for r in rows if r.v["mrn"] in st.client_ids]  # before the new are added
    ids = w.insert_ids(Client, [_new_client(r, st, w) for r in new])
    for r, pk in zip(new, ids, strict=True):
        st.client_ids[r.v["mrn"]] = pk
    episode_ids = w.insert_ids(
        Episode,
        [
            w.row(
                client_id=pk,
                episode_no=1,
                admission_date=r.v["admission_date"],
                discharge_date=r.v.get("discharge_date"),
                status=_new_status(r),
            )
            for r, pk in zip(new, ids, strict=True)
        ],
    )
    for r, pk, episode_id in zip(new, ids, episode_ids, strict=True):
        _new_episode_rows(r, pk, episode_id, st, w, out, None)
        _apply_coverage(r, pk, [], st, w, out)
        _apply_diagnoses(r, pk, [], w, out)
        _count(tally, "Clients", True, False)
    if old_rows:
        _update_clients(old_rows, st, w, out, tally)
    w.insert(TrackEnrollment, out.enrollments)
    w.insert(TherapistAssignment, out.assignments)
    w.insert(Coverage, out.coverage)
    w.insert(Diagnosis, out.diagnoses)
    w.insert(StatusChange, out.status_changes)


def _new_status(r: _Row) -> str:
    if r.v.get("discharge_date") is not None:
        return ClientStatus.DISCHARGED.value
    return ClientStatus.ACTIVE.value


def _new_client(r: _Row, st: _State, w: _Writer) -> dict[str, Any]:
    v = r.v
    return w.row(
        mrn=v["mrn"],
        first_name=v["first_name"],
        last_name=v["last_name"],
        preferred_name=v.get("preferred_name") or "",
        dob=v["dob"],
        sex=v.get("sex") or "",
        phone=v.get("phone") or "",
        email=v.get("email") or "",
        primary_language=v.get("primary_language") or "",
        status=_new_status(r),
        part2=v["part2"] if v.get("part2") is not None else st.tracks[v["track_id"]].is_sud,
        required_weekly_hours=v.get("required_weekly_hours"),
        required_hours_until=(
            v.get("required_hours_until") if v.get("required_weekly_hours") is not None else None
        ),
        admission_date=v["admission_date"],
        discharge_date=v.get("discharge_date"),
    )


def _new_episode_rows(
    r: _Row,
    client_id: int,
    episode_id: int,
    st: _State,
    w: _Writer,
    out: _ClientRows,
    from_status: str | None,
) -> None:
    """Enrollment, primary therapist and status history of a newly recorded admission."""
    admission, discharge = r.v["admission_date"], r.v.get("discharge_date")
    out.enrollments.append(
        w.row(
            client_id=client_id,
            episode_id=episode_id,
            track_id=_pk(st.tracks[r.v["track_id"]]),
            start_date=admission,
            end_date=discharge,
        )
    )
    if r.v.get("primary_therapist") is not None:
        out.assignments.append(_assignment_row(w, client_id, st, r, admission, discharge))
    status = [(from_status, ClientStatus.ACTIVE.value, admission)]
    if discharge is not None:
        status.append((ClientStatus.ACTIVE.value, ClientStatus.DISCHARGED.value, discharge))
    for old, to, day in status:
        out.status_changes.append(_status_row(w, client_id, episode_id, old, to, day))


def _assignment_row(
    w: _Writer, client_id: int, st: _State, r: _Row, start: date, end: date | None
) -> dict[str, Any]:
    return w.row(
        client_id=client_id,
        staff_id=_pk(st.staff[r.v["primary_therapist"]]),
        role=AssignmentRole.PRIMARY_THERAPIST.value,
        start_date=start,
        end_date=end,
    )


def _status_row(
    w: _Writer, client_id: int, episode_id: int | None, old: str | None, to: str, day: date
) -> dict[str, Any]:
    return w.row(
        client_id=client_id,
        episode_id=episode_id,
        from_status=old,
        to_status=to,
        effective_date=day,
        reason="Spreadsheet import",
    )


def _apply_coverage(
    r: _Row, client_id: int, current: list[Coverage], st: _State, w: _Writer, out: _ClientRows
) -> bool:
    """A blank payer_id leaves coverage alone; a payer sets the client's first coverage."""
    code = r.v.get("payer_id")
    if code is None:
        return False
    payer_id = _pk(st.payers[code])
    cur = min(current, key=lambda c: (c.priority, _pk(c))) if current else None
    if cur is None:
        out.coverage.append(
            w.row(
                client_id=client_id,
                payer_id=payer_id,
                member_id=r.v.get("member_id") or "",
                priority=1,
                start_date=r.v["admission_date"],
            )
        )
        return True
    values: dict[str, Any] = {"payer_id": payer_id}
    if "member_id" in r.v:
        values["member_id"] = r.v["member_id"] or ""
    return w.touch(cur, values)


def _apply_diagnoses(
    r: _Row, client_id: int, current: list[Diagnosis], w: _Writer, out: _ClientRows
) -> bool:
    """A non-empty list replaces the diagnoses (first = primary); removed ones are voided."""
    wanted: list[str] = r.v.get("diagnoses") or []
    if not wanted:
        return False
    current = sorted(current, key=lambda d: (not d.is_primary, d.sort_order, _pk(d)))
    changed = False
    kept: dict[str, Diagnosis] = {}
    for d in current:
        if d.icd10_code in wanted and d.icd10_code not in kept:
            kept[d.icd10_code] = d
        else:
            w.void(d, "Removed by spreadsheet import")
            changed = True
    for i, code in enumerate(wanted):
        same = kept.get(code)
        if same is None:
            out.diagnoses.append(
                w.row(
                    client_id=client_id,
                    icd10_code=code,
                    description=icd10_description(code),
                    is_primary=i == 0,
                    sort_order=i,
                )
            )
            changed = True
        else:
            changed = w.touch(same, {"is_primary": i == 0, "sort_order": i}) or changed
    return changed


def _update_clients(
    rows: list[_Row], st: _State, w: _Writer, out: _ClientRows, tally: _Tally
) -> None:
    """Existing clients: probe plain rows first, then load and change only what differs."""
    ids = sorted(st.client_ids[r.v["mrn"]] for r in rows)
    plain = _client_records(w.s, ids, plain=True)
    probe = w.prober()
    changed = [r for r in rows if _update_one(r, plain, st, probe, _ClientRows())]
    for _ in range(len(rows) - len(changed)):
        _count(tally, "Clients", False, False)
    if not changed:
        return
    records = _client_records(w.s, sorted(st.client_ids[r.v["mrn"]] for r in changed))
    for r in changed:
        _update_one(r, records, st, w, out)
        _count(tally, "Clients", False, True)


_ClientRecords = tuple[dict[int, list[Any]], ...]


def _client_records(session: Session, ids: Sequence[int], plain: bool = False) -> _ClientRecords:
    return (
        _by_client(session, Client, ids, plain=plain, key="id"),
        _by_client(session, Episode, ids, plain=plain),
        _by_client(
            session,
            TrackEnrollment,
            ids,
            col(TrackEnrollment.voided_at).is_(None),
            plain=plain,
        ),
        _by_client(
            session,
            TherapistAssignment,
            ids,
            col(TherapistAssignment.voided_at).is_(None),
            col(TherapistAssignment.role) == AssignmentRole.PRIMARY_THERAPIST.value,
            plain=plain,
        ),
        _by_client(session, Coverage, ids, col(Coverage.voided_at).is_(None), plain=plain),
        _by_client(session, Diagnosis, ids, col(Diagnosis.voided_at).is_(None), plain=plain),
    )


def _update_one(r: _Row, records: _ClientRecords, st: _State, w: _Writer, out: _ClientRows) -> bool:
    clients, episodes, enrollments, assignments, coverage, diagnoses = records
    pk = st.client_ids[r.v["mrn"]]
    changed = _update_client(
        r,
        clients[pk][0],
        max(episodes.get(pk, []), key=lambda e: (e.episode_no, _pk(e)), default=None),
        enrollments.get(pk, []),
        assignments.get(pk, []),
        st,
        w,
        out,
    )
    changed = _apply_coverage(r, pk, coverage.get(pk, []), st, w, out) or changed
    return _apply_diagnoses(r, pk, diagnoses.get(pk, []), w, out) or changed


def _update_client(
    r: _Row,
    client: Client,
    episode: Episode | None,
    enrollments: list[TrackEnrollment],
    assignments: list[TherapistAssignment],
    st: _State,
    w: _Writer,
    out: _ClientRows,
) -> bool:
    v = r.v
    pk = _pk(client)
    admission: date = v["admission_date"]
    discharge: date | None = v.get("discharge_date")
    old_admission, old_discharge, old_status = (
        client.admission_date,
        client.discharge_date,
        client.status,
    )
    if discharge is not None:
        status = ClientStatus.DISCHARGED.value
    elif old_status in (ClientStatus.REFERRAL, ClientStatus.INTAKE, ClientStatus.DISCHARGED):
        status = ClientStatus.ACTIVE.value
    else:
        status = old_status  # active or on hold: the workbook has no column for holds
    track = st.tracks[v["track_id"]]
    values: dict[str, Any] = {
        k: v[k]
        for k in (
            "first_name",
            "last_name",
            "preferred_name",
            "dob",
            "sex",
            "phone",
            "email",
            "primary_language",
            "required_weekly_hours",
            "required_hours_until",
        )
        if k in v
    }
    if values.get("required_weekly_hours", "absent") is None:
        values["required_hours_until"] = None  # no override: no end date
    for k in ("preferred_name", "sex", "phone", "email", "primary_language"):
        if k in values and values[k] is None:
            values[k] = ""
    values.update(
        admission_date=admission,
        discharge_date=discharge,
        status=status,
        # Part 2 protection stays once it applied (a step-down to a mental-health track
        # does not release earlier substance-use records).
        part2=v["part2"] if v.get("part2") is not None else client.part2 or track.is_sud,
    )
    changed = w.touch(client, values)
    readmission = (
        episode is not None
        and episode.discharge_date is not None
        and admission > episode.discharge_date
        and episode.admission_date != admission
    )
    if episode is None or readmission:
        number = episode.episode_no + 1 if episode is not None else 1
        (episode_id,) = w.insert_ids(
            Episode,
            [
                w.row(
                    client_id=pk,
                    episode_no=number,
                    admission_date=admission,
                    discharge_date=discharge,
                    status=status,
                )
            ],
        )
        _new_episode_rows(r, pk, episode_id, st, w, out, old_status)
        return True
    changed = (
        w.touch(
            episode, {"admission_date": admission, "discharge_date": discharge, "status": status}
        )
        or changed
    )
    episode_id = _pk(episode)
    span = _Span(w, admission, discharge, old_admission, old_discharge)
    mine = [e for e in enrollments if e.episode_id in (episode_id, None)]
    cur_enrollment = max(mine, key=lambda e: (e.start_date, _pk(e)), default=None)
    changed = (
        span.reconcile(
            cur_enrollment,
            "track_id",
            _pk(track),
            lambda start, end: out.enrollments.append(
                w.row(
                    client_id=pk,
                    episode_id=episode_id,
                    track_id=_pk(track),
                    start_date=start,
                    end_date=end,
                )
            ),
        )
        or changed
    )
    if v.get("primary_therapist") is not None:
        staff_id = _pk(st.staff[v["primary_therapist"]])
        cur = max(assignments, key=lambda a: (a.start_date, _pk(a)), default=None)
        if (
            cur is not None
            and cur.end_date is not None
            and cur.end_date < min(admission, old_admission or admission)
        ):
            cur = None  # that assignment belonged to an earlier stay
        changed = (
            span.reconcile(
                cur,
                "staff_id",
                staff_id,
                lambda start, end: out.assignments.append(
                    _assignment_row(w, pk, st, r, start, end)
                ),
            )
            or changed
        )
    if status != old_status:
        day = (
            discharge
            if status == ClientStatus.DISCHARGED.value and discharge is not None
            else admission
        )
        out.status_changes.append(_status_row(w, pk, episode_id, old_status, status, day))
    return changed


@dataclass
class _Span:
    """Keeps a dated record (track enrollment, therapist assignment) in line with the row."""

    w: _Writer
    admission: date
    discharge: date | None
    old_admission: date | None
    old_discharge: date | None

    def reconcile(
        self, cur: Any, attr: str, target: int, new: Callable[[date, date | None], None]
    ) -> bool:
        w = self.w
        if cur is None:
            new(self.admission, self.discharge)
            return True
        values: dict[str, Any] = {}
        if cur.start_date == self.old_admission:
            values["start_date"] = self.admission
        if cur.end_date is None or cur.end_date == self.old_discharge:
            values["end_date"] = self.discharge
        if getattr(cur, attr) == target:
            return w.touch(cur, values)
        # A change of track or therapist takes effect on the import date and the old record
        # ends the day before, so history shows who had the client when (as staff.assign
        # does). A change that cannot be dated that way (the stay is over, or the old record
        # starts today or later) is a correction: the old record is voided and replaced.
        effective = max(self.admission, w.today)
        start = values.get("start_date", cur.start_date)
        if (self.discharge is not None and self.discharge < effective) or start >= effective:
            w.void(cur, "Corrected by spreadsheet import")
            new(start, self.discharge)
            return True
        values["end_date"] = effective - timedelta(days=1)
        w.touch(cur, values)
        new(effective, self.discharge)
        return True


def _apply_authorizations(rows: list[_Row], st: _State, w: _Writer, tally: _Tally) -> None:
    if not rows:
        return
    ids = sorted({st.client_ids[r.v["mrn"]] for r in rows})
    current: dict[tuple[int, int, str, str], Authorization] = {}
    for objs in _by_client(
        w.s, Authorization, ids, col(Authorization.voided_at).is_(None)
    ).values():
        for a in objs:
            current.setdefault((a.client_id, a.payer_id, a.auth_number, a.code), a)
    new: list[dict[str, Any]] = []
    for r in rows:
        v = r.v
        key = (st.client_ids[v["mrn"]], _pk(st.payers[v["payer_id"]]), v["auth_number"], v["code"])
        values = {"start_date": v["start_date"], "end_date": v["end_date"], "units": v["units"]}
        obj = current.get(key)
        if obj is None:
            client_id, payer_id, number, code = key
            new.append(
                w.row(
                    client_id=client_id, payer_id=payer_id, auth_number=number, code=code, **values
                )
            )
            _count(tally, "Authorizations", True, False)
        else:
            _count(tally, "Authorizations", False, w.touch(obj, values))
    w.insert(Authorization, new)


class _Sessions:
    """Sessions, their facilitators, attendance (explicit and implied) and note status."""

    def __init__(self, book: _Book, st: _State, w: _Writer, tally: _Tally) -> None:
        self.rows = book.sheet("Sessions")
        self.attendance = book.sheet("Attendance")
        self.st, self.w, self.tally = st, w, tally
        self.ids: dict[str, int] = {k: _pk(obj) for k, obj in st.sessions.items()}
        self.created: set[str] = set()
        self.touched: set[str] = set()
        # session db id -> (kind, held?, start, end, client id, date)
        self.info: dict[int, tuple[str, bool, time, time, int | None, date]] = {}
        self.author: dict[int, int] = {}
        self.present: dict[int, dict[int, tuple[str, int]]] = {}

    def apply(self) -> None:
        if not self.rows and not self.attendance:
            return
        self._sessions()
        self._attendance()
        self._notes()
        for r in self.rows:
            sid = r.v["session_id"]
            _count(self.tally, "Sessions", sid in self.created, sid in self.touched)

    def _sessions(self) -> None:
        st, w = self.st, self.w
        blocks = {
            (t, d, s): pk
            for pk, t, d, s in w.s.execute(
                sa_select(
                    col(TrackBlock.id),
                    col(TrackBlock.track_id),
                    col(TrackBlock.weekday),
                    col(TrackBlock.start_time),
                )
            ).all()
        }
        for known in st.sessions.values():
            self.info[_pk(known)] = (
                known.kind,
                known.status == SessionStatus.HELD.value,
                known.start_time,
                known.end_time,
                known.client_id,
                known.session_date,
            )
        new_rows: list[_Row] = []
        values_of: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            v = r.v
            values: dict[str, Any] = {
                "session_date": v["date"],
                "start_time": v["start_time"],
                "end_time": v["end_time"],
            }
            if "track_id" in v:
                values["track_id"] = _pk(st.tracks[v["track_id"]]) if v["track_id"] else None
            for key in ("topic", "status", "telehealth"):
                if key in v:
                    values[key] = v[key]
            if v["kind"] == SessionKind.GROUP.value:
                # A client cannot cancel a group: a cancelled track group is a clinic
                # cancellation, so its day leaves the week's proration like a closure.
                values["cancelled_by_clinic"] = (
                    v.get("status") or SessionStatus.HELD.value
                ) == SessionStatus.CANCELLED.value
            values_of[v["session_id"]] = values
            obj = st.sessions.get(v["session_id"])
            if obj is None:
                new_rows.append(r)
            elif w.touch(obj, values):
                self.touched.add(v["session_id"])
        inserts = []
        for r in new_rows:
            v = r.v
            values = values_of[v["session_id"]]
            track_id = values.get("track_id")
            client_id = st.client_ids[v["client_mrn"]] if v.get("client_mrn") else None
            inserts.append(
                w.row(
                    external_id=v["session_id"],
                    kind=v["kind"],
                    track_id=track_id,
                    client_id=client_id,
                    block_id=blocks.get((track_id, v["date"].weekday(), v["start_time"]))
                    if v["kind"] == SessionKind.GROUP.value
                    else None,
                    session_date=v["date"],
                    start_time=v["start_time"],
                    end_time=v["end_time"],
                    topic=values.get("topic") or "",
                    status=values.get("status") or SessionStatus.HELD.value,
                    cancelled_by_clinic=bool(values.get("cancelled_by_clinic")),
                    telehealth=values.get("telehealth") or Telehealth.NO.value,
                )
            )
        for r, pk, row in zip(new_rows, w.insert_ids(ClinicSession, inserts), inserts, strict=True):
            sid = r.v["session_id"]
            self.ids[sid] = pk
            self.created.add(sid)
            self.info[pk] = (
                row["kind"],
                row["status"] == SessionStatus.HELD.value,
                row["start_time"],
                row["end_time"],
                row["client_id"],
                row["session_date"],
            )
        for r in self.rows:
            obj = st.sessions.get(r.v["session_id"])
            if obj is not None:
                self.info[_pk(obj)] = (
                    obj.kind,
                    obj.status == SessionStatus.HELD.value,
                    obj.start_time,
                    obj.end_time,
                    obj.client_id,
                    obj.session_date,
                )
        self._facilitators()

    def _facilitators(self) -> None:
        st, w = self.st, self.w
        existing_ids = sorted(
            self.ids[r.v["session_id"]] for r in self.rows if r.v["session_id"] not in self.created
        )
        have: dict[int, list[SessionFacilitator]] = {}
        for chunk in _chunks(existing_ids):
            for row in w.s.exec(
                select(SessionFacilitator)
                .where(col(SessionFacilitator.session_id).in_(chunk))
                .order_by(col(SessionFacilitator.id))
            ):
                have.setdefault(row.session_id, []).append(row)
        new: list[dict[str, Any]] = []
        for r in self.rows:
            sid = r.v["session_id"]
            pk = self.ids[sid]
            wanted = [_pk(st.staff[code]) for code in r.v["facilitator"]]
            self.author[pk] = wanted[0]
            current = {f.staff_id: f for f in have.get(pk, [])}
            changed = False
            for old in current.values():
                if old.staff_id not in wanted:
                    w.s.delete(old)
                    changed = True
            for i, staff_id in enumerate(wanted):
                f = current.get(staff_id)
                if f is None:
                    new.append(w.row(session_id=pk, staff_id=staff_id, is_primary=i == 0))
                    changed = True
                else:
                    changed = w.touch(f, {"is_primary": i == 0}) or changed
            if changed and sid not in self.created:
                self.touched.add(sid)
        w.s.flush()
        w.insert(SessionFacilitator, new)

    def _attendance(self) -> None:
        st, w = self.st, self.w
        scope = sorted(
            {self.ids[r.v["session_id"]] for r in [*self.rows, *self.attendance]}
            - {self.ids[k] for k in self.created}
        )
        have: dict[tuple[int, int], Attendance] = {}
        for chunk in _chunks(scope):
            for a in w.s.exec(
                select(Attendance)
                .where(col(Attendance.session_id).in_(chunk))
                .order_by(col(Attendance.id))
            ):
                have.setdefault((a.session_id, a.client_id), a)
                self.present.setdefault(a.session_id, {})[a.client_id] = (a.status, a.minutes)
        new: list[dict[str, Any]] = []
        listed: set[int] = set()
        by_sid = {pk: sid for sid, pk in self.ids.items()}
        for r in self.attendance:
            pk = self.ids[r.v["session_id"]]
            listed.add(pk)
            client_id = st.client_ids[r.v["mrn"]]
            _, _, start, end, _, _ = self.info[pk]
            status = r.v["status"]
            minutes = r.v.get("minutes")
            if status == AttendanceStatus.PRESENT.value and minutes is None:
                minutes = _minutes(start, end)
            elif status not in ATTENDED_STATUSES:
                minutes = 0
            values = {"status": status, "minutes": minutes}
            obj = have.get((pk, client_id))
            if obj is None:
                new.append(w.row(session_id=pk, client_id=client_id, **values))
                _count(self.tally, "Attendance", True, False)
            else:
                _count(self.tally, "Attendance", False, w.touch(obj, values))
            self.present.setdefault(pk, {})[client_id] = (status, minutes or 0)
        # An individual, family or intake session with no Attendance row: its client came
        # for the whole session (unless attendance was already recorded for them).
        for r in self.rows:
            pk = self.ids[r.v["session_id"]]
            kind, held, start, end, owner, _ = self.info[pk]
            if kind == SessionKind.GROUP.value or not held or pk in listed or owner is None:
                continue
            if (pk, owner) in have:
                continue
            full = _minutes(start, end)
            new.append(
                w.row(
                    session_id=pk,
                    client_id=owner,
                    status=AttendanceStatus.PRESENT.value,
                    minutes=full,
                )
            )
            self.present.setdefault(pk, {})[owner] = (AttendanceStatus.PRESENT.value, full)
            if by_sid[pk] not in self.created:
                self.touched.add(by_sid[pk])
        w.insert(Attendance, new)

    def _notes(self) -> None:
        st, w = self.st, self.w
        group_rows: list[tuple[str, int, str]] = []
        notes: list[dict[str, Any]] = []
        for r in self.rows:
            if "note_status" not in r.v:
                continue
            sid = r.v["session_id"]
            pk = self.ids[sid]
            kind, held, _, _, client_id, day = self.info[pk]
            wanted = r.v["note_status"] or ("signed" if held else "missing")
            attended = {
                cid: minutes
                for cid, (status, minutes) in self.present.get(pk, {}).items()
                if status in ATTENDED_STATUSES
            }
            if kind == SessionKind.GROUP.value:
                gn = st.group_notes.get(pk)
                if gn is None:
                    if wanted != "missing":
                        group_rows.append((sid, pk, wanted))
                    continue
                members = st.member_notes.get(_pk(gn), {})
                if wanted == "missing":
                    for voided in [gn, *members.values()]:
                        w.void(voided, "Marked missing by spreadsheet import")
                    self.touched.add(sid)
                    continue
                changed = False
                if wanted == "signed" and gn.status != NoteStatus.SIGNED.value:
                    changed = w.touch(gn, {"status": NoteStatus.SIGNED.value})
                    for member in members.values():
                        changed = self._sign(member) or changed
                for cid, minutes in attended.items():
                    if cid not in members:
                        notes.append(
                            self._note_row(cid, pk, _pk(gn), day, minutes, wanted, group=True)
                        )
                        changed = True
                if changed:
                    self.touched.add(sid)
                continue
            if client_id is None:
                continue
            note = st.single_notes.get((pk, client_id))
            if note is None:
                if wanted != "missing":
                    spent = attended.get(client_id)
                    notes.append(self._note_row(client_id, pk, None, day, spent, wanted))
                    if sid not in self.created:
                        self.touched.add(sid)
            elif wanted == "missing":
                w.void(note, "Marked missing by spreadsheet import")
                self.touched.add(sid)
            elif wanted == "signed" and self._sign(note):
                self.touched.add(sid)
        gn_rows = (
            [
                w.row(
                    session_id=pk,
                    author_staff_id=self.author[pk],
                    topic=next(
                        r.v.get("topic") or "" for r in self.rows if r.v["session_id"] == sid
                    ),
                    status=NoteStatus.SIGNED.value
                    if wanted == "signed"
                    else NoteStatus.DRAFT.value,
                )
                for sid, pk, wanted in group_rows
            ]
            if group_rows
            else []
        )
        for (sid, pk, wanted), gn_id in zip(
            group_rows, w.insert_ids(GroupNote, gn_rows), strict=True
        ):
            _, _, _, _, _, day = self.info[pk]
            for cid, (status, minutes) in self.present.get(pk, {}).items():
                if status in ATTENDED_STATUSES:
                    notes.append(self._note_row(cid, pk, gn_id, day, minutes, wanted, group=True))
            if sid not in self.created:
                self.touched.add(sid)
        w.insert(Note, notes)

    def _sign(self, note: Note) -> bool:
        if note.status == NoteStatus.SIGNED.value:
            return False
        return self.w.touch(
            note,
            {
                "status": NoteStatus.SIGNED.value,
                "signed_by": self.w.uid,
                "signed_at": self.w.now,
                "content_sha256": hashlib.sha256(note.content_json.encode("utf-8")).hexdigest(),
            },
        )

    def _note_row(
        self,
        client_id: int,
        session_id: int,
        group_note_id: int | None,
        day: date,
        minutes: int | None,
        wanted: str,
        group: bool = False,
    ) -> dict[str, Any]:
        signed = wanted == "signed"
        return self.w.row(
            client_id=client_id,
            session_id=session_id,
            group_note_id=group_note_id,
            author_staff_id=self.author[session_id],
            format=NoteFormat.GROUP.value if group else NoteFormat.CUSTOM.value,
            service_date=day,
            content_json=NOTE_CONTENT,
            service_minutes=minutes,
            status=NoteStatus.SIGNED.value if signed else NoteStatus.DRAFT.value,
            signed_by=self.w.uid if signed else None,
            signed_at=self.w.now if signed else None,
            content_sha256=NOTE_CONTENT_SHA256 if signed else None,
        )


def _sort_key(p: ImportProblem) -> tuple[int, int, int, str]:
    sheet = SHEETS.index(p.sheet) if p.sheet in SHEETS else len(SHEETS)
    columns = COLUMNS.get(p.sheet, ())
    column = columns.index(p.column) if p.column in columns else -1
    return (sheet, p.row, column, p.message)


def _detail(counts: dict[str, int], tally: _Tally) -> str:
    parts = [
        f"{sheet} {n} (new {tally.created.get(sheet, 0)}, changed {tally.updated.get(sheet, 0)})"
        for sheet, n in counts.items()
    ]
    return "rows: " + "; ".join(parts)


def import_workbook(db: Database, actor: Actor, path: Path, dry_run: bool = False) -> ImportResult:
    """Validate the whole workbook, then import it in one transaction (or, dry run, nothing).

    Raises ImportFailed listing every problem, and imports nothing, when any row is wrong.
    """
    result = _import(db, actor, path, dry_run)
    forget_zone(db)  # after the commit: the Clinic sheet may have changed the time zone
    return result


# stamps=False: the import stamps its rows itself, all with one `now` (_Writer)
@service(Perm.IMPORT_RUN, audit=Audited(IMPORT_ACTION, "workbook"), stamps=False)
def _import(session: Session, actor: Actor, path: Path, dry_run: bool) -> ImportResult:
    # the file is read and parsed before the session's first statement (no lock held)
    sheets, problems = _read(Path(path))
    book = _parse(sheets, problems)
    counts = {name: len(book.rows[name]) for name in book.order}
    st = _State(session, book)
    _canonical_mrns(book, st)
    _check(book, st)
    if problems:
        raise ImportFailed(sorted(problems, key=_sort_key))
    try:
        tally = _apply(book, st, _Writer(session, actor))
    except sa_exc.IntegrityError as exc:
        # Every key was checked above, so this is another workstation saving the same
        # records at the same moment (PostgreSQL; SQLite imports hold the write lock).
        log.warning("import stopped by a database constraint (%s)", type(exc.orig).__name__)
        raise DatabaseError(
            "Another workstation saved some of the same records while the workbook was "
            "being imported. Nothing was imported; import the workbook again."
        ) from None
    if dry_run:
        session.rollback()
        about(session, skip=True)
    else:
        about(session, detail=_detail(counts, tally))
    return ImportResult(
        counts=counts,
        dry_run=dry_run,
        created={s: tally.created.get(s, 0) for s in counts},
        updated={s: tally.updated.get(s, 0) for s in counts},
        unchanged={s: tally.unchanged.get(s, 0) for s in counts},
    )
