"""Checking a parsed workbook before anything is written: the database state it refers to,
loaded once (`_State`), and the checks between sheets and against the database; every problem
goes into the one list, so the user sees all of them at once."""

from __future__ import annotations

from datetime import time

from sqlmodel import Session, col, select

from iopdesk.errors import ValidationError
from iopdesk.models import Client, Clinic, ClinicSession, GroupNote, Note, Payer, Staff, Track
from iopdesk.models.enums import (
    ATTENDED_STATUSES,
    AttendanceStatus,
    NoteStatus,
    SessionKind,
    SessionStatus,
)
from iopdesk.services.workbook import privacy as workbook_privacy
from iopdesk.services.workbook.contract import (
    _GENERATED_SESSION_ID,
    _chunks,
    _generated_ids,
    _minutes,
    _pk,
)
from iopdesk.services.workbook.read import _Book, _Row


def _canonical_mrns(book: _Book, st: _State) -> None:
    """Spell every MRN in the workbook as the database does (or as the Clients sheet first
    does), so that 'm000001' in any sheet is the existing client 'M000001', not a new one."""
    spelled: dict[str, str] = {}
    for known in st.client_ids:
        spelled.setdefault(known.strip().casefold(), known)
    for r in book.sheet("Clients"):
        mrn = r.v.get("mrn")
        if isinstance(mrn, str):
            spelled.setdefault(mrn.casefold(), mrn)
    for sheet, column in (
        ("Clients", "mrn"),
        ("Authorizations", "mrn"),
        ("Sessions", "client_mrn"),
        ("Attendance", "mrn"),
    ):
        for r in book.sheet(sheet):
            value = r.v.get(column)
            if isinstance(value, str):
                r.v[column] = spelled.get(value.casefold(), value)


class _State:
    """Everything the checks and the writes look up, loaded with a handful of queries."""

    def __init__(self, session: Session, book: _Book) -> None:
        self.s = session
        clinic = session.exec(select(Clinic)).first()
        if clinic is None:
            raise ValidationError("The clinic has not been set up yet (run the first-start setup).")
        self.clinic = clinic
        self.staff: dict[str, Staff] = {x.staff_code: x for x in session.exec(select(Staff))}
        self.payers: dict[str, Payer] = {x.payer_code: x for x in session.exec(select(Payer))}
        self.tracks: dict[str, Track] = {x.track_code: x for x in session.exec(select(Track))}
        self.client_ids: dict[str, int] = {
            mrn: int(pk) for mrn, pk in session.exec(select(Client.mrn, Client.id)).all() if pk
        }
        self._mrn_by_id: dict[int, str] | None = None
        # sessions named in the Sessions or Attendance sheet that already exist
        wanted = sorted(
            {
                r.v["session_id"]
                for name in ("Sessions", "Attendance")
                for r in book.sheet(name)
                if r.v.get("session_id")
            }
        )
        self.sessions: dict[str, ClinicSession] = {}
        for chunk in _chunks(wanted):
            for obj in session.exec(
                select(ClinicSession).where(col(ClinicSession.external_id).in_(chunk))
            ):
                assert obj.external_id is not None
                self.sessions[obj.external_id] = obj
        missing = [k for k in wanted if k not in self.sessions and _GENERATED_SESSION_ID.match(k)]
        if missing:
            generated = _generated_ids(session)
            ids = {generated[k]: k for k in missing if k in generated}
            for chunk in _chunks(sorted(ids)):
                for obj in session.exec(
                    select(ClinicSession).where(col(ClinicSession.id).in_(chunk))
                ):
                    self.sessions[ids[_pk(obj)]] = obj
        # notes of existing sessions listed in the Sessions sheet
        self.group_notes: dict[int, GroupNote] = {}
        self.member_notes: dict[int, dict[int, Note]] = {}  # group note id -> client -> note
        self.single_notes: dict[tuple[int, int], Note] = {}  # (session, client) -> note
        existing = sorted(
            {
                _pk(self.sessions[r.v["session_id"]])
                for r in book.sheet("Sessions")
                if r.v.get("session_id") in self.sessions
            }
        )
        for chunk in _chunks(existing):
            for gn in session.exec(
                select(GroupNote)
                .where(col(GroupNote.session_id).in_(chunk), col(GroupNote.voided_at).is_(None))
                .order_by(col(GroupNote.id))
            ):
                self.group_notes.setdefault(gn.session_id, gn)
            for note in session.exec(
                select(Note)
                .where(col(Note.session_id).in_(chunk), col(Note.voided_at).is_(None))
                .order_by(col(Note.id))
            ):
                if note.group_note_id is not None:
                    self.member_notes.setdefault(note.group_note_id, {}).setdefault(
                        note.client_id, note
                    )
                elif note.session_id is not None:
                    self.single_notes.setdefault((note.session_id, note.client_id), note)

    def mrn_of(self, client_id: int | None) -> str | None:
        if client_id is None:
            return None
        if self._mrn_by_id is None:
            self._mrn_by_id = {pk: mrn for mrn, pk in self.client_ids.items()}
        return self._mrn_by_id.get(client_id)

    def note_state(self, obj: ClinicSession) -> str:
        """signed | unsigned | missing, as the export derives note_status."""
        sid = _pk(obj)
        if obj.kind == SessionKind.GROUP.value:
            gn = self.group_notes.get(sid)
            status = gn.status if gn else None
        else:
            note = self.single_notes.get((sid, obj.client_id or 0))
            status = note.status if note else None
        if status is None:
            return "missing"
        return "signed" if status == NoteStatus.SIGNED.value else "unsigned"


def _keys(book: _Book, sheet: str, column: str) -> set[str]:
    return {r.v[column] for r in book.sheet(sheet) if r.v.get(column) is not None}


def _check(book: _Book, st: _State) -> None:
    staff = _keys(book, "Staff", "staff_id") | set(st.staff)
    payers = _keys(book, "Payers", "payer_id") | set(st.payers)
    tracks = _keys(book, "Tracks", "track_id") | set(st.tracks)
    clients = _keys(book, "Clients", "mrn") | set(st.client_ids)

    def ref(r: _Row, column: str, known: set[str], sheet: str) -> None:
        value = r.v.get(column)
        if value is not None and value not in known:
            r.error(column, f"'{value}' is not in the {sheet} sheet or the database")

    # Staff: supervisors exist and do not loop
    code_by_id = {x.id: code for code, x in st.staff.items()}
    supervisor: dict[str, str | None] = {
        code: code_by_id.get(x.supervisor_id) for code, x in st.staff.items()
    }
    for r in book.sheet("Staff"):
        if r.v.get("staff_id") is not None and "supervisor_id" in r.v:
            supervisor[r.v["staff_id"]] = r.v["supervisor_id"]
    for r in book.sheet("Staff"):
        code, sup = r.v.get("staff_id"), r.v.get("supervisor_id")
        if sup is None:
            continue
        if sup == code:
            r.error("supervisor_id", "a staff member cannot be their own supervisor")
            continue
        if sup not in staff:
            ref(r, "supervisor_id", staff, "Staff")
            continue
        chain: list[str] = [str(code)]
        cur: str | None = sup
        while cur is not None and cur not in chain and len(chain) < 1000:
            chain.append(cur)
            cur = supervisor.get(cur)
        if cur == code:
            r.error(
                "supervisor_id", f"supervisors go round in a loop ({' -> '.join(chain)} -> {code})"
            )
    for r in book.sheet("Fees"):
        ref(r, "payer_id", payers, "Payers")
    for r in book.sheet("Clients"):
        ref(r, "track_id", tracks, "Tracks")
        ref(r, "primary_therapist", staff, "Staff")
        ref(r, "payer_id", payers, "Payers")
    for r in book.sheet("Authorizations"):
        ref(r, "mrn", clients, "Clients")
        ref(r, "payer_id", payers, "Payers")
    sheet_sessions: dict[str, _Row] = {}
    for r in book.sheet("Sessions"):
        sid = r.v.get("session_id")
        if sid is not None:
            sheet_sessions.setdefault(sid, r)
        ref(r, "track_id", tracks, "Tracks")
        if r.v.get("kind") != SessionKind.GROUP.value:
            ref(r, "client_mrn", clients, "Clients")
        unknown = [code for code in r.v.get("facilitator") or [] if code not in staff]
        if unknown:
            shown = ", ".join(f"'{c}'" for c in unknown)
            r.error("facilitator", f"{shown} not in the Staff sheet or the database")
        existing = st.sessions.get(sid) if sid is not None else None
        if existing is not None:
            _check_existing_session(r, existing, st)
    for r in book.sheet("Attendance"):
        _check_attendance(r, sheet_sessions, st, clients)
    workbook_privacy.check(book, st, clients)


def _check_existing_session(r: _Row, obj: ClinicSession, st: _State) -> None:
    sid = r.v["session_id"]
    kind = r.v.get("kind")
    if kind is not None and kind != obj.kind:
        r.error(
            "kind",
            f"session '{sid}' already exists as a {obj.kind} session; its kind cannot change",
        )
        return
    mrn = r.v.get("client_mrn")
    if kind != SessionKind.GROUP.value and mrn is not None and mrn != st.mrn_of(obj.client_id):
        r.error("client_mrn", f"session '{sid}' already belongs to another client; it cannot move")
    wanted = r.v.get("note_status")
    if "note_status" in r.v and wanted is not None:
        current = st.note_state(obj)
        if current == "signed" and wanted != "signed":
            r.error(
                "note_status",
                f"session '{sid}' already has a signed note; a signed note cannot be changed "
                "(add an addendum in the chart instead)",
            )


def _check_attendance(
    r: _Row, sheet_sessions: dict[str, _Row], st: _State, clients: set[str]
) -> None:
    sid, mrn, status = r.v.get("session_id"), r.v.get("mrn"), r.v.get("status")
    if mrn is not None and mrn not in clients:
        r.error("mrn", f"'{mrn}' is not in the Clients sheet or the database")
    info: tuple[str | None, str | None, time | None, time | None, str | None] | None = None
    srow = sheet_sessions.get(sid) if sid is not None else None
    if srow is not None:
        existing = st.sessions.get(sid or "")
        info = (
            srow.v.get("kind") or (existing.kind if existing else None),
            srow.v.get("status")
            if "status" in srow.v
            else (existing.status if existing else SessionStatus.HELD.value),
            srow.v.get("start_time"),
            srow.v.get("end_time"),
            srow.v.get("client_mrn") or (st.mrn_of(existing.client_id) if existing else None),
        )
    elif sid is not None and sid in st.sessions:
        obj = st.sessions[sid]
        info = (obj.kind, obj.status, obj.start_time, obj.end_time, st.mrn_of(obj.client_id))
    elif sid is not None:
        r.error("session_id", f"'{sid}' is not in the Sessions sheet or the database")
        return
    if info is None:
        return
    kind, session_status, start, end, client_mrn = info
    if session_status is not None and session_status != SessionStatus.HELD.value:
        r.error(
            "session_id",
            f"session '{sid}' is {session_status}; attendance is recorded only for held sessions",
        )
        return
    other = kind not in (None, SessionKind.GROUP.value) and client_mrn not in (None, mrn)
    if other and mrn is not None:
        r.error("mrn", f"'{mrn}' is not the client of {kind} session '{sid}'")
    if status is None:
        return
    length = _minutes(start, end) if start is not None and end is not None else None
    minutes = r.v.get("minutes")
    if status in (AttendanceStatus.LATE.value, AttendanceStatus.LEFT_EARLY.value):
        if minutes is None and r.raw("minutes") is None:
            r.error("minutes", f"required when status is {status}")
    elif status not in ATTENDED_STATUSES and minutes:
        r.error("minutes", f"must be 0 or empty when status is {status}")
    if minutes is not None and length is not None and minutes > length:
        r.error("minutes", f"{minutes} minutes is longer than the session ({length} minutes)")
