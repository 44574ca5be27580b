"""The schedule: generation from track blocks, booking, conflicts, closures, cancellation,
facilitators and rosters."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlmodel import col, select

from iopdesk.errors import NotFoundError, PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import ClinicClosure, ClinicSession, Staff, Track, TrackBlock, TrackEnrollment
from iopdesk.services import audit, clients, clinic, schedule
from iopdesk.services.attendance import AttendanceEntry, record_attendance
from iopdesk.services.clients import ClientInput
from iopdesk.services.schedule import CLIENT_DOUBLE_BOOKED, THERAPIST_DOUBLE_BOOKED

TODAY = date.today()
# A Monday three weeks back: every generated session in the first two weeks is in the past, so
# it can be signed in whatever day the suite runs.
MON = TODAY - timedelta(days=TODAY.weekday() + 21)
WED, THU, SAT = MON + timedelta(days=2), MON + timedelta(days=3), MON + timedelta(days=5)
EVENING = [(0, time(18), time(21)), (2, time(18), time(21)), (3, time(18), time(21))]


def make_track(env, code: str, blocks=EVENING, *, room: str = "Room A", active=True) -> int:
    with env.db.session() as s:
        track = Track(track_code=code, name=f"Track {code}", room=room, active=active)
        s.add(track)
        s.flush()
        for weekday, start, end in blocks:
            s.add(TrackBlock(track_id=track.id, weekday=weekday, start_time=start, end_time=end))
        return track.id


def staff_id(env, code: str) -> int:
    with env.db.session() as s:
        return s.exec(select(Staff.id).where(Staff.staff_code == code)).one()


def new_client(env, first: str, last: str, track_id: int | None, admitted: date | None) -> int:
    data = ClientInput(first, last, date(1990, 1, 1))
    if track_id is not None:
        data.status, data.track_id, data.admission_date = "active", track_id, admitted
    c = clients.create_client(env.db, env.world.admin, data)
    assert c.id is not None
    return c.id


def discharged_client(env, on: date) -> int:
    tid = make_track(env, f"D{on.toordinal()}", [])
    cid = new_client(env, "Dee", "Departed", tid, on - timedelta(days=60))
    version = clients.open_chart(env.db, env.world.admin, cid).client.version
    clients.discharge_basic(env.db, env.world.admin, cid, version, on)
    return cid


def sessions_of(env, track_id: int, start: date = MON, days: int = 28):
    return schedule.list_sessions(
        env.db, env.world.front_desk, start, start + timedelta(days=days - 1), track_id=track_id
    )


def session_on(env, track_id: int, day: date) -> schedule.SessionInfo:
    (found,) = [s for s in sessions_of(env, track_id, day, 1)]
    return found


# -- generation ------------------------------------------------------------------------------
def test_generate_mon_wed_thu_over_two_weeks_is_idempotent(env):
    fd = env.world.front_desk
    tid = make_track(env, "EVE")
    assert schedule.generate_sessions(env.db, fd, MON, weeks=2) == 6
    got = sessions_of(env, tid)
    assert [s.date for s in got] == [
        MON,
        WED,
        THU,
        MON + timedelta(days=7),
        WED + timedelta(days=7),
        THU + timedelta(days=7),
    ]
    first = got[0]
    assert (first.kind, first.title, first.start, first.end) == (
        "group",
        "Track EVE",
        time(18),
        time(21),
    )
    assert (first.location, first.status, first.telehealth) == ("Room A", "scheduled", "no")
    assert first.block_id is not None and first.facilitators == () and first.minutes == 180
    # Re-running creates nothing; extending the horizon adds only the third week.
    assert schedule.generate_sessions(env.db, fd, MON, weeks=2) == 0
    assert schedule.generate_sessions(env.db, fd, MON, weeks=3) == 3
    assert len(sessions_of(env, tid)) == 9


def test_generation_from_midweek_saturday_track_and_inactive_blocks(env):
    fd = env.world.front_desk
    eve = make_track(env, "EVE")
    sat = make_track(env, "SAT", [(5, time(9), time(12))], room="Hall")
    off = make_track(env, "OFF", [(1, time(9), time(12))], active=False)
    with env.db.session() as s:
        s.add(
            TrackBlock(track_id=sat, weekday=6, start_time=time(9), end_time=time(12), active=False)
        )
    # From a Wednesday for one week: Wed, Thu, Sat, then the next Monday.
    assert schedule.generate_sessions(env.db, fd, WED, weeks=1) == 4
    assert [s.date for s in sessions_of(env, eve)] == [WED, THU, MON + timedelta(days=7)]
    sat_sessions = sessions_of(env, sat)
    assert [(s.date, s.location, s.start) for s in sat_sessions] == [(SAT, "Hall", time(9))]
    assert sessions_of(env, off) == []
    # One track only.
    assert schedule.generate_sessions(env.db, fd, MON + timedelta(days=14), 1, track_id=sat) == 1


def test_default_weeks_come_from_the_setting_and_facilitator_is_optional(env):
    clinic.set_setting(env.db, env.world.admin, "schedule_weeks_ahead", 2)
    tid = make_track(env, "EVE")
    t1 = staff_id(env, "T1")
    n = schedule.generate_sessions(env.db, env.world.front_desk, MON, facilitator_staff_id=t1)
    assert n == 6
    assert {s.facilitator_ids for s in sessions_of(env, tid)} == {(t1,)}
    assert sessions_of(env, tid)[0].facilitators == ("Theo Rapist, LPC",)
    with pytest.raises(ValidationError) as bad:
        schedule.generate_sessions(env.db, env.world.front_desk, MON, weeks=0)
    assert "weeks" in bad.value.fields


def test_closure_day_is_generated_cancelled_and_never_recreated(env):
    fd = env.world.front_desk
    tid = make_track(env, "EVE")
    with env.db.session() as s:
        s.add(ClinicClosure(closure_date=WED, reason="Staff training"))
    assert schedule.generate_sessions(env.db, fd, MON, weeks=1) == 3
    wed = session_on(env, tid, WED)
    assert (wed.status, wed.cancelled_by_clinic, wed.cancel_reason) == (
        "cancelled",
        True,
        "Staff training",
    )
    # A single cancelled occurrence is not brought back by a re-run either.
    thu = session_on(env, tid, THU)
    schedule.cancel_session(env.db, fd, thu.id, thu.version, "Therapist out sick")
    assert schedule.generate_sessions(env.db, fd, MON, weeks=1) == 0
    assert session_on(env, tid, THU).status == "cancelled"


# -- booking ---------------------------------------------------------------------------------
def test_book_individual_session(env):
    w = env.world
    t1 = staff_id(env, "T1")
    before = audit.count_events(env.db)
    info = schedule.book_session(
        env.db,
        w.front_desk,
        "individual",
        w.client_own,
        t1,
        WED,
        time(10),
        time(10, 50),
        location="Office 2",
        telehealth="no",
        topic="Relapse prevention",
    )
    assert (info.kind, info.title, info.client_id, info.date) == (
        "individual",
        "Individual: Ownclient, Canary",
        w.client_own,
        WED,
    )
    assert (info.facilitator_ids, info.roster_count, info.minutes, info.status) == (
        (t1,),
        1,
        50,
        "scheduled",
    )
    assert audit.count_events(env.db) == before + 1
    tele = schedule.book_session(
        env.db, w.front_desk, "family", w.client_own, t1, THU, time(9), time(10), telehealth="home"
    )
    assert (tele.title, tele.telehealth) == ("Family: Ownclient, Canary", "home")
    assert [s.id for s in schedule.list_sessions(env.db, w.billing, MON, SAT, staff_id=t1)] == [
        info.id,
        tele.id,
    ]


def test_booking_validation_messages(env):
    w = env.world
    t1 = staff_id(env, "T1")

    def book(**kw):
        args = dict(
            kind="individual",
            client_id=w.client_own,
            staff_id=t1,
            session_date=WED,
            start_time=time(10),
            end_time=time(11),
        )
        args.update(kw)
        with pytest.raises(ValidationError) as caught:
            schedule.book_session(env.db, w.front_desk, **args)
        return caught.value

    err = book(end_time=time(9), telehealth="zoom")
    assert err.fields["end_time"] == "The end time must be after the start time."
    assert "telehealth" in err.fields
    assert "Please correct the highlighted fields" in err.message
    assert "weekly schedule" in book(kind="group").fields["kind"]
    assert book(kind="consult").fields["kind"] == "Choose individual, family or intake."
    assert book(client_id=999_999).fields["client_id"] == "That client does not exist."
    assert book(staff_id=999_999).fields["staff_id"] == "That staff member does not exist."
    with env.db.session() as s:
        t2 = s.exec(select(Staff).where(Staff.staff_code == "T2")).one()
        t2.active = False
        s.add(t2)
    assert "no longer active" in book(staff_id=staff_id(env, "T2")).fields["staff_id"]
    gone = discharged_client(env, MON)
    assert "discharged" in book(client_id=gone).fields["client_id"]
    # A session on or before the discharge date can still be entered.
    ok = schedule.book_session(env.db, w.front_desk, "intake", gone, t1, MON, time(9), time(10))
    assert ok.kind == "intake"
    schedule.close_clinic_day(env.db, w.front_desk, WED, "Snow")
    assert "closed" in book().fields["session_date"]


# -- conflicts -------------------------------------------------------------------------------
def test_therapist_double_booked_and_cancelled_never_conflicts(env):
    w = env.world
    t1 = staff_id(env, "T1")
    a = schedule.book_session(
        env.db, w.front_desk, "individual", w.client_own, t1, WED, time(10), time(11)
    )
    b = schedule.book_session(
        env.db, w.front_desk, "individual", w.client_other, t1, WED, time(10, 30), time(11, 30)
    )
    # Back to back is not a conflict; another day is not either.
    schedule.book_session(
        env.db, w.front_desk, "individual", w.client_other, t1, WED, time(11, 30), time(12)
    )
    schedule.book_session(
        env.db, w.front_desk, "individual", w.client_other, t1, THU, time(10), time(11)
    )
    found = schedule.conflicts(env.db, w.billing, MON, SAT)
    assert [(c.kind, c.session_ids, c.person_id, c.person) for c in found] == [
        (THERAPIST_DOUBLE_BOOKED, (a.id, b.id), t1, "Theo Rapist, LPC")
    ]
    assert (found[0].start, found[0].end, found[0].date) == (time(10, 30), time(11), WED)
    assert "double-booked" in found[0].message
    assert schedule.conflicts(env.db, w.billing, MON, SAT, session_id=b.id) == found
    schedule.cancel_session(env.db, w.front_desk, b.id, b.version, "Client asked", by_clinic=False)
    assert schedule.conflicts(env.db, w.billing, MON, SAT) == []


def test_client_in_group_and_overlapping_individual_session(env):
    w = env.world
    tid = make_track(env, "EVE")
    cid = new_client(env, "Gus", "Groupie", tid, WED)
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)
    t2 = staff_id(env, "T2")
    # Monday: not yet enrolled, so no conflict. Wednesday: in the 18-21 group.
    mon = schedule.book_session(
        env.db, w.front_desk, "individual", cid, t2, MON, time(18), time(19)
    )
    wed = schedule.book_session(
        env.db, w.front_desk, "individual", cid, t2, WED, time(20, 30), time(21, 30)
    )
    found = schedule.conflicts(env.db, w.front_desk, MON, SAT)
    group_wed = session_on(env, tid, WED)
    assert [(c.kind, c.person_id, c.person, c.session_ids) for c in found] == [
        (CLIENT_DOUBLE_BOOKED, cid, "Groupie, Gus", tuple(sorted((group_wed.id, wed.id))))
    ]
    assert schedule.conflicts(env.db, w.front_desk, MON, SAT, session_id=mon.id) == []
    # Removed from that occurrence of the group: no longer double-booked.
    schedule.remove_from_roster(env.db, w.front_desk, group_wed.id, cid, "Individual instead")
    assert schedule.conflicts(env.db, w.front_desk, MON, SAT) == []


# -- closures and cancellation --------------------------------------------------------------
def test_close_clinic_day_cancels_that_days_sessions_in_one_action(env):
    w = env.world
    tid = make_track(env, "EVE", [(2, time(9), time(12)), (2, time(18), time(21))])
    cid = new_client(env, "Gus", "Groupie", tid, MON)
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)
    morning, evening = sessions_of(env, tid, WED, 1)
    ind = schedule.book_session(
        env.db,
        w.front_desk,
        "individual",
        w.client_own,
        staff_id(env, "T1"),
        WED,
        time(13),
        time(14),
    )
    thu = schedule.book_session(
        env.db, w.front_desk, "family", w.client_own, staff_id(env, "T1"), THU, time(13), time(14)
    )
    # The morning group was held before the closure was called.
    record_attendance(
        env.db, w.front_desk, morning.id, morning.version, [AttendanceEntry(cid, "present")]
    )
    events = audit.count_events(env.db)
    with pytest.raises(ValidationError) as no_reason:
        schedule.close_clinic_day(env.db, w.front_desk, WED, "  ")
    assert no_reason.value.fields == {"reason": "Required."}
    assert schedule.close_clinic_day(env.db, w.front_desk, WED, "Snow day") == 2
    assert audit.count_events(env.db) == events + 1
    by_id = {s.id: s for s in schedule.list_sessions(env.db, w.front_desk, WED, WED)}
    assert by_id[morning.id].status == "held"
    for sid in (evening.id, ind.id):
        s = by_id[sid]
        assert (s.status, s.cancelled_by_clinic, s.cancel_reason) == ("cancelled", True, "Snow day")
        assert s.version == 2
    assert schedule.list_closures(env.db, w.billing, MON, SAT) == [
        schedule.ClosureInfo(WED, "Snow day")
    ]
    assert schedule.get_session(env.db, w.billing, thu.id).status == "scheduled"  # other day
    with pytest.raises(ValidationError, match="already recorded as closed"):
        schedule.close_clinic_day(env.db, w.front_desk, WED, "Again")
    view = schedule.week_view(env.db, w.front_desk, THU)
    assert view.start == MON and [d.date for d in view.days][2] == WED
    assert view.days[2].closure == "Snow day" and len(view.days[2].sessions) == 3
    # Reopening restores exactly what the closure cancelled.
    assert schedule.reopen_clinic_day(env.db, w.front_desk, WED) == 2
    by_id = {s.id: s for s in schedule.list_sessions(env.db, w.front_desk, WED, WED)}
    assert [by_id[i].status for i in (morning.id, evening.id, ind.id)] == [
        "held",
        "scheduled",
        "scheduled",
    ]
    with pytest.raises(NotFoundError):
        schedule.reopen_clinic_day(env.db, w.front_desk, WED)


def test_week_view_follows_the_week_start_setting(env):
    clinic.set_setting(env.db, env.world.admin, "week_start", "Sun")
    make_track(env, "EVE")
    schedule.generate_sessions(env.db, env.world.front_desk, MON, weeks=1)
    view = schedule.week_view(env.db, env.world.front_desk, THU)
    assert view.start == MON - timedelta(days=1)
    assert [len(d.sessions) for d in view.days] == [0, 1, 0, 1, 1, 0, 0]


def test_cancel_session_requires_a_reason_and_is_versioned(env):
    w = env.world
    tid = make_track(env, "EVE")
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)
    s = session_on(env, tid, THU)
    with pytest.raises(ValidationError) as no_reason:
        schedule.cancel_session(env.db, w.front_desk, s.id, s.version, "")
    assert no_reason.value.fields == {"reason": "Required."}
    with pytest.raises(StaleRecordError):
        schedule.cancel_session(env.db, w.front_desk, s.id, s.version - 1, "Flood")
    done = schedule.cancel_session(env.db, w.front_desk, s.id, s.version, "Flood")
    assert (done.status, done.cancelled_by_clinic, done.cancel_reason, done.version) == (
        "cancelled",
        True,
        "Flood",
        s.version + 1,
    )
    with pytest.raises(StaleRecordError):  # a second workstation still holding the old version
        schedule.cancel_session(env.db, w.supervisor, s.id, s.version, "Also flood")
    with pytest.raises(ValidationError, match="already cancelled"):
        schedule.cancel_session(env.db, w.front_desk, s.id, done.version, "Flood")
    back = schedule.reinstate_session(env.db, w.front_desk, s.id, done.version)
    assert (back.status, back.cancel_reason, back.cancelled_by_clinic) == ("scheduled", "", False)
    with pytest.raises(NotFoundError):
        schedule.cancel_session(env.db, w.front_desk, 999_999, 1, "x")


def test_set_facilitators_replaces_and_orders_primary_first(env):
    w = env.world
    tid = make_track(env, "EVE")
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)
    s = session_on(env, tid, MON)
    t1, t2 = staff_id(env, "T1"), staff_id(env, "T2")
    one = schedule.set_facilitators(env.db, w.front_desk, s.id, s.version, [t2, t1, t2])
    assert one.facilitator_ids == (t2, t1) and one.version == s.version + 1
    assert one.facilitators == ("Other Therapist, LCSW", "Theo Rapist, LPC")
    two = schedule.set_facilitators(env.db, w.front_desk, s.id, one.version, [t1])
    assert two.facilitator_ids == (t1,)
    with pytest.raises(StaleRecordError):
        schedule.set_facilitators(env.db, w.front_desk, s.id, one.version, [t2])
    with pytest.raises(ValidationError):
        schedule.set_facilitators(env.db, w.front_desk, s.id, two.version, [999_999])
    assert schedule.set_facilitators(env.db, w.front_desk, s.id, two.version, []).facilitators == ()
    ind = schedule.book_session(
        env.db, w.front_desk, "individual", w.client_own, t1, MON, time(9), time(10)
    )
    with pytest.raises(ValidationError, match="needs a therapist"):
        schedule.set_facilitators(env.db, w.front_desk, ind.id, ind.version, [])


# -- rosters ---------------------------------------------------------------------------------
def test_roster_follows_enrollment_dates_with_edges(env):
    w = env.world
    tid = make_track(env, "EVE")
    other_track = make_track(env, "DAY", [(2, time(9), time(12))])
    always = new_client(env, "Al", "Always", tid, MON - timedelta(days=30))
    joins_wed = new_client(env, "Jo", "Joiner", tid, WED)
    leaves = new_client(env, "Lee", "Leaver", tid, MON - timedelta(days=30))
    voided = new_client(env, "Vic", "Voided", tid, MON - timedelta(days=30))
    mover = new_client(env, "Mo", "Mover", tid, MON - timedelta(days=30))
    v = clients.open_chart(env.db, w.admin, leaves).client.version
    clients.discharge_basic(env.db, w.admin, leaves, v, WED)  # the discharge day is included
    with env.db.session() as s:
        enr = s.exec(select(TrackEnrollment).where(TrackEnrollment.client_id == voided)).one()
        enr.voided_at, enr.void_reason = enr.created_at, "entered in error"
        s.add(enr)
        # Transfer on Wednesday: old track ends that day, the new one starts that day.
        old = s.exec(select(TrackEnrollment).where(TrackEnrollment.client_id == mover)).one()
        old.end_date = WED
        s.add(old)
        s.add(TrackEnrollment(client_id=mover, track_id=other_track, start_date=WED))
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)

    def names(day, track=tid):
        return [e.last for e in schedule.roster(env.db, w.billing, session_on(env, track, day).id)]

    assert names(MON) == ["Always", "Leaver", "Mover"]
    assert names(WED) == ["Always", "Joiner", "Leaver"]  # transfer day belongs to the new track
    assert names(THU) == ["Always", "Joiner"]
    assert names(WED, other_track) == ["Mover"]
    assert session_on(env, tid, WED).roster_count == 3
    entry = schedule.roster(env.db, w.billing, session_on(env, tid, MON).id)[0]
    assert (entry.source, entry.display_name, entry.privacy_name, entry.initials) == (
        "enrolled" if entry.client_id == always else "wrong client",
        "Always, Al",
        "Al A.",
        "AA",
    )
    # Client filter on the list: the client's groups only while enrolled.
    mine = schedule.list_sessions(env.db, w.billing, MON, SAT, client_id=joins_wed)
    assert [s.date for s in mine] == [WED, THU]


def test_add_and_remove_for_one_occurrence(env):
    w = env.world
    tid = make_track(env, "EVE")
    member = new_client(env, "Al", "Always", tid, MON - timedelta(days=30))
    schedule.generate_sessions(env.db, w.front_desk, MON, weeks=1)
    mon, wed = session_on(env, tid, MON), session_on(env, tid, WED)
    before = audit.count_events(env.db)
    after_add = schedule.add_to_roster(env.db, w.front_desk, mon.id, w.client_own, "Make-up group")
    assert [(e.client_id, e.source) for e in after_add] == [
        (member, "enrolled"),
        (w.client_own, "added"),
    ]
    after_remove = schedule.remove_from_roster(env.db, w.front_desk, mon.id, member, "Court date")
    assert [e.client_id for e in after_remove] == [w.client_own]
    assert audit.count_events(env.db) == before + 2
    # Only that occurrence changed.
    assert [e.client_id for e in schedule.roster(env.db, w.front_desk, wed.id)] == [member]
    # Adding back after a removal restores the enrolled entry.
    again = schedule.add_to_roster(env.db, w.front_desk, mon.id, member)
    assert {(e.client_id, e.source) for e in again} == {
        (member, "enrolled"),
        (w.client_own, "added"),
    }
    # The session's version did not move: an open sign-in sheet stays valid.
    assert session_on(env, tid, MON).version == mon.version
    with pytest.raises(ValidationError, match="already on the roster"):
        schedule.add_to_roster(env.db, w.front_desk, mon.id, member)
    with pytest.raises(ValidationError, match="not on the roster"):
        schedule.remove_from_roster(env.db, w.front_desk, wed.id, w.client_own)
    # Someone signed in cannot be removed from that session.
    sheet = record_attendance(
        env.db, w.front_desk, wed.id, wed.version, [AttendanceEntry(member, "present")]
    )
    assert sheet.session.status == "held"
    with pytest.raises(ValidationError, match="sign-in sheet instead"):
        schedule.remove_from_roster(env.db, w.front_desk, wed.id, member)
    ind = schedule.book_session(
        env.db,
        w.front_desk,
        "individual",
        w.client_own,
        staff_id(env, "T1"),
        MON,
        time(9),
        time(10),
    )
    assert [(e.client_id, e.source) for e in schedule.roster(env.db, w.billing, ind.id)] == [
        (w.client_own, "booked")
    ]
    with pytest.raises(ValidationError, match="Only a group"):
        schedule.add_to_roster(env.db, w.front_desk, ind.id, member)
    # A client discharged before the session cannot be added to it.
    gone = discharged_client(env, MON)
    with pytest.raises(ValidationError, match="discharged"):
        schedule.add_to_roster(env.db, w.front_desk, session_on(env, tid, THU).id, gone)


# -- permissions -----------------------------------------------------------------------------
def test_schedule_changes_need_schedule_permission(env):
    w = env.world
    tid = make_track(env, "EVE")
    t1 = staff_id(env, "T1")
    for actor in (w.billing, w.therapist):
        with pytest.raises(PermissionDenied):
            schedule.generate_sessions(env.db, actor, MON, weeks=1)
        with pytest.raises(PermissionDenied):
            schedule.book_session(
                env.db, actor, "individual", w.client_own, t1, MON, time(9), time(10)
            )
        with pytest.raises(PermissionDenied):
            schedule.close_clinic_day(env.db, actor, MON, "Holiday")
    assert schedule.generate_sessions(env.db, w.supervisor, MON, weeks=1) == 3
    s = session_on(env, tid, MON)
    for call in (
        lambda: schedule.cancel_session(env.db, w.billing, s.id, s.version, "x"),
        lambda: schedule.set_facilitators(env.db, w.billing, s.id, s.version, [t1]),
        lambda: schedule.add_to_roster(env.db, w.billing, s.id, w.client_own),
    ):
        with pytest.raises(PermissionDenied):
            call()
    # Everyone may read the schedule.
    assert len(schedule.list_sessions(env.db, w.billing, MON, SAT)) == 3
    with env.db.session() as session:
        assert (
            session.exec(
                select(ClinicSession).where(col(ClinicSession.status) != "scheduled")
            ).all()
            == []
        )
