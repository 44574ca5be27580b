"""Weekly hours against the requirement (issue 4 item 3), dashboard data and the attendance
report (item 5). Pure rules are tested without a database; the rest on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import errno
import random
import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from iopdesk.errors import DiskFullError, PermissionDenied, UserError, ValidationError
from iopdesk.models import (
    Attendance,
    AuditEvent,
    Client,
    ClinicClosure,
    ClinicSession,
    Staff,
    TherapistAssignment,
    Track,
    TrackBlock,
    TrackEnrollment,
)
from iopdesk.services import clinic, hours
from iopdesk.services.actor import Actor
from iopdesk.services.hours import (
    AT_RISK,
    MET,
    NO_REQUIREMENT,
    NOT_MET,
    ON_TRACK,
    AttendanceReport,
    EnrollmentSpan,
    WeekRow,
)

MON = date(2026, 3, 2)  # a Monday
TUE, WED, THU, FRI, SAT, SUN = (MON + timedelta(days=i) for i in range(1, 7))
MWF = (0, 2, 4)
NINE = Decimal("9")


def span(track: int, start: date, end: date | None = None, hrs: str = "9", order: int = 0):
    return EnrollmentSpan(track, start, end, Decimal(hrs), order)


# ------------------------------------------------------------------------------------------
# Pure rules
# ------------------------------------------------------------------------------------------


class TestPureRules:
    def test_week_start_default_monday_and_other_days(self):
        assert hours.start_of_week(WED) == MON
        assert hours.start_of_week(MON) == MON
        assert hours.start_of_week(SUN) == MON
        assert hours.start_of_week(WED, "Sun") == MON - timedelta(days=1)
        assert hours.start_of_week(SUN, "Sun") == SUN
        assert hours.start_of_week(SAT, "Sat") == SAT
        assert hours.start_of_week(FRI, 5) == MON - timedelta(days=2)
        with pytest.raises(ValueError):
            hours.weekday_index("Funday")

    def test_full_week(self):
        assert hours.required_minutes(MON, [span(1, MON - timedelta(days=30))], {1: MWF}) == 540

    def test_admission_mid_week_prorated(self):
        # admitted Wednesday: Wed and Fri of Mon/Wed/Fri count -> 9h x 2/3
        assert hours.required_minutes(MON, [span(1, WED)], {1: MWF}) == 360
        # admitted Tuesday (not a program day): same two days
        assert hours.required_minutes(MON, [span(1, TUE)], {1: MWF}) == 360

    def test_discharge_mid_week_prorated_end_inclusive(self):
        assert hours.required_minutes(MON, [span(1, MON - timedelta(7), MON)], {1: MWF}) == 180
        assert hours.required_minutes(MON, [span(1, MON - timedelta(7), WED)], {1: MWF}) == 360
        # admitted and discharged inside the week
        assert hours.required_minutes(MON, [span(1, WED, WED)], {1: MWF}) == 180

    def test_closure_and_clinic_cancelled_group_prorate(self):
        blocks = {1: MWF}
        enr = [span(1, MON - timedelta(7))]
        assert hours.required_minutes(MON, enr, blocks, closures={WED}) == 360
        assert hours.required_minutes(MON, enr, blocks, clinic_cancelled={(1, FRI)}) == 360
        # another track's cancelled group does not touch this client
        assert hours.required_minutes(MON, enr, blocks, clinic_cancelled={(2, FRI)}) == 540
        # a closure on a day that is not a program day changes nothing
        assert hours.required_minutes(MON, enr, blocks, closures={TUE}) == 540

    def test_saturday_track(self):
        blocks = {1: (1, 3, 5)}  # Tue, Thu, Sat
        assert hours.required_minutes(MON, [span(1, MON)], blocks) == 540
        assert hours.required_minutes(MON, [span(1, FRI)], blocks) == 180
        assert hours.required_minutes(MON, [span(1, MON, FRI)], blocks) == 360

    def test_override_vs_track_requirement(self):
        assert hours.requirement_hours(None, NINE) == NINE
        assert hours.requirement_hours(Decimal("6"), NINE) == Decimal("6")
        assert hours.required_minutes(MON, [span(1, MON, hrs="6")], {1: MWF}) == 360
        assert hours.requirement_hours(Decimal("0"), NINE) == Decimal("0")

    def test_zero_counted_days_is_no_requirement(self):
        blocks = {1: MWF}
        assert hours.required_minutes(MON, [span(1, SAT)], blocks) is None
        assert hours.required_minutes(MON, [], blocks) is None
        every_day = {MON, WED, FRI}
        assert hours.required_minutes(MON, [span(1, MON)], blocks, closures=every_day) is None
        assert hours.required_minutes(MON, [span(1, MON)], {}) is None  # track without blocks
        assert hours.week_status(None, 600) == NO_REQUIREMENT

    def test_two_tracks_switch_mid_week(self):
        blocks = {1: MWF, 2: (1, 3)}  # A Mon/Wed/Fri 9h, B Tue/Thu 6h
        enr = [span(1, MON - timedelta(7), TUE, "9", 1), span(2, WED, None, "6", 2)]
        # A: Mon of 3 days (180) + B: Thu of 2 days (180)
        assert hours.required_minutes(MON, enr, blocks) == 360
        # the transfer recorded as end == next start: Wed belongs to B only
        overlap = [span(1, MON - timedelta(7), WED, "9", 1), span(2, WED, None, "6", 2)]
        assert hours.required_minutes(MON, overlap, blocks) == 360
        parts = hours.prorate(MON, overlap, blocks).parts
        assert parts == ((1, 1, 3, Decimal("9")), (2, 1, 2, Decimal("6")))

    def test_rounding_half_up_once_at_the_end(self):
        assert hours.round_half_up(Fraction(225, 2)) == 113
        assert hours.round_half_up(Fraction(2249, 20)) == 112
        assert hours.round_half_up(Fraction(0)) == 0
        blocks = {1: (0, 1, 2, 3), 2: (0, 1, 2, 3)}
        # 7.5h over 4 days, 1 day -> 112.5 -> 113
        assert hours.required_minutes(MON, [span(1, MON, MON, "7.5")], blocks) == 113
        # two halves: 112.5 + 337.5 = 450 exactly (rounding each part would give 451)
        enr = [span(1, MON, MON, "7.5", 1), span(2, TUE, None, "7.5", 2)]
        assert hours.required_minutes(MON, enr, blocks) == 450
        # 10h over 3 days, 2 days: 400 exactly; 10h over 7 days, 3 days: 257.14 -> 257
        assert hours.required_minutes(MON, [span(1, WED, None, "10")], {1: MWF}) == 400
        assert hours.required_minutes(MON, [span(1, FRI, None, "10")], {1: range(7)}) == 257

    def test_status_boundary_and_projection(self):
        assert hours.week_status(540, 540) == MET
        assert hours.week_status(540, 539) == NOT_MET
        assert hours.week_status(540, 541) == MET
        assert hours.week_status(0, 0) == MET
        assert hours.projection(540, 360, 180) == ON_TRACK
        assert hours.projection(540, 360, 179) == AT_RISK
        assert hours.projection(None, 0, 0) is None

    def test_unexcused_streak(self):
        assert hours.unexcused_streak([]) == 0
        u, p, e = "absent_unexcused", "present", "absent_excused"
        assert hours.unexcused_streak([u, u, p]) == 0
        assert hours.unexcused_streak([p, u, u]) == 2
        assert hours.unexcused_streak([u, e, u]) == 1
        assert hours.unexcused_streak([u, u, u]) == 3

    def test_week_row_hours_two_places(self):
        row = WeekRow(1, "M1", "Doe, Jo", "A", "", 113, 540, MET, None, 0, 0)
        assert row.required_hours == Decimal("1.88")
        assert row.attended_hours == Decimal("9.00")
        assert str(row.attended_hours) == "9.00"
        none = WeekRow(1, "M1", "Doe, Jo", "A", "", None, 0, NO_REQUIREMENT, None, 0, 0)
        assert none.required_hours is None
        assert WeekRow(1, "M", "c", "", "", 540, 0, NOT_MET, None, 0, 2).streak_flag


# ------------------------------------------------------------------------------------------
# Database fixtures
# ------------------------------------------------------------------------------------------


@dataclass
class Builder:
    """Test data straight through the models (no schedule/sign-in service involved)."""

    env: Any

    @property
    def db(self):
        return self.env.db

    @property
    def admin(self) -> Actor:
        return self.env.world.admin

    def track(self, code="A", weekdays=MWF, hrs="9", name=None, block_minutes=180, days=0) -> int:
        """A track; no day minimum unless `days` (these tests are about the hours)."""
        with self.db.session() as s:
            t = Track(
                track_code=code,
                name=name or f"Track {code}",
                required_weekly_hours=hrs,
                required_weekly_days=days,
            )
            s.add(t)
            s.flush()
            for wd in weekdays:
                s.add(
                    TrackBlock(
                        track_id=t.id,
                        weekday=wd,
                        start_time=time(9),
                        end_time=_end(time(9), block_minutes),
                    )
                )
            return t.id

    def client(self, mrn, last="Doe", first="Jo", override=None, part2=False) -> int:
        with self.db.session() as s:
            c = Client(
                mrn=mrn,
                first_name=first,
                last_name=last,
                dob=date(1990, 1, 1),
                status="active",
                required_weekly_hours=None if override is None else Decimal(override),
                part2=part2,
            )
            s.add(c)
            s.flush()
            return c.id

    def enroll(self, cid, tid, start, end=None) -> int:
        with self.db.session() as s:
            e = TrackEnrollment(client_id=cid, track_id=tid, start_date=start, end_date=end)
            s.add(e)
            s.flush()
            return e.id

    def group(self, tid, day, status="held", minutes=180, by_clinic=False, start=time(9)) -> int:
        with self.db.session() as s:
            cs = ClinicSession(
                kind="group",
                track_id=tid,
                session_date=day,
                start_time=start,
                end_time=_end(start, minutes),
                status=status,
                cancelled_by_clinic=by_clinic,
            )
            s.add(cs)
            s.flush()
            return cs.id

    def booked(self, cid, day, kind="individual", status="scheduled", minutes=60, by_clinic=False):
        with self.db.session() as s:
            cs = ClinicSession(
                kind=kind,
                client_id=cid,
                session_date=day,
                start_time=time(14),
                end_time=_end(time(14), minutes),
                status=status,
                cancelled_by_clinic=by_clinic,
            )
            s.add(cs)
            s.flush()
            return cs.id

    def attend(self, sid, cid, status="present", minutes=180):
        with self.db.session() as s:
            s.add(Attendance(session_id=sid, client_id=cid, status=status, minutes=minutes))

    def closure(self, day):
        with self.db.session() as s:
            s.add(ClinicClosure(closure_date=day, reason="Holiday"))

    def held_group(self, tid, day, attendance: dict[int, tuple[str, int]], **kw) -> int:
        sid = self.group(tid, day, **kw)
        for cid, (status, minutes) in attendance.items():
            self.attend(sid, cid, status, minutes)
        return sid

    def week(self, week_of=MON, **kw) -> dict[str, WeekRow]:
        kw.setdefault("today", date(2026, 12, 31))
        return {r.mrn: r for r in hours.weekly_hours(self.db, self.admin, week_of, **kw)}


def _end(start: time, minutes: int) -> time:
    total = start.hour * 60 + start.minute + minutes
    return time(total // 60, total % 60)


@pytest.fixture
def c(env) -> Builder:
    return Builder(env)


# ------------------------------------------------------------------------------------------
# Attended minutes
# ------------------------------------------------------------------------------------------


def test_attended_minutes_counts_held_sessions_with_attended_statuses(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=14))
    c.held_group(a, MON, {x: ("present", 180)})
    c.held_group(a, WED, {x: ("late", 150)})  # arrived 30 minutes late
    c.held_group(a, FRI, {x: ("left_early", 120)})  # left an hour early
    ind = c.booked(x, TUE, "individual", status="held", minutes=50)
    c.attend(ind, x, "present", 50)
    fam = c.booked(x, THU, "family", status="held", minutes=60)
    c.attend(fam, x, "late", 45)
    row = c.week()["T001"]
    assert row.attended_minutes == 180 + 150 + 120 + 50 + 45
    assert row.required_minutes == 540
    assert row.status == MET
    assert row.attended_hours == Decimal("9.08")
    assert row.required_hours == Decimal("9.00")
    assert row.client == "Doe, Jo" and row.track == "Track A"


def test_absent_cancelled_and_scheduled_sessions_count_zero(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=14))
    c.held_group(a, MON, {x: ("absent_excused", 0)})
    c.held_group(a, WED, {x: ("absent_unexcused", 0)})
    # a cancelled single session with an attendance row still counts 0 (and does not prorate)
    single = c.booked(x, TUE, "individual", status="cancelled", minutes=60)
    c.attend(single, x, "present", 60)
    # a session still "scheduled" with a stray attendance row counts 0
    c.held_group(a, FRI, {x: ("present", 180)}, status="scheduled")
    # an absence row with minutes filled in by mistake still counts 0
    extra = c.booked(x, THU, "individual", status="held", minutes=60)
    c.attend(extra, x, "absent_excused", 60)
    row = c.week()["T001"]
    assert row.attended_minutes == 0
    assert row.required_minutes == 540
    assert row.status == NOT_MET


def test_sessions_outside_the_week_are_not_counted(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=14))
    c.held_group(a, MON - timedelta(days=1), {x: ("present", 180)})  # previous Sunday
    c.held_group(a, SUN + timedelta(days=1), {x: ("present", 180)})  # next Monday
    c.held_group(a, SUN, {x: ("present", 30)}, start=time(18))
    assert c.week()["T001"].attended_minutes == 30


# ------------------------------------------------------------------------------------------
# Proration with the database
# ------------------------------------------------------------------------------------------


def test_admission_and_discharge_mid_week(c):
    a = c.track()
    admitted = c.client("T001", "Admitted")
    discharged = c.client("T002", "Discharged")
    c.enroll(admitted, a, WED)
    c.enroll(discharged, a, MON - timedelta(days=30), MON)
    c.held_group(a, MON, {discharged: ("present", 180)})
    c.held_group(a, WED, {admitted: ("present", 180)})
    c.held_group(a, FRI, {admitted: ("present", 180)})
    rows = c.week()
    assert rows["T001"].required_minutes == 360
    assert rows["T001"].status == MET
    assert rows["T002"].required_minutes == 180
    assert rows["T002"].status == MET
    # a client enrolled only the week before is not on this week's list
    gone = c.client("T003")
    c.enroll(gone, a, MON - timedelta(days=30), MON - timedelta(days=1))
    assert "T003" not in c.week()


def test_holiday_closure_and_clinic_cancelled_group_prorate(c):
    a = c.track()
    b = c.track("B", weekdays=(1, 3))  # Tue/Thu
    x = c.client("T001")
    y = c.client("T002")
    c.enroll(x, a, MON - timedelta(days=30))
    c.enroll(y, b, MON - timedelta(days=30))
    c.closure(MON)  # holiday: both tracks lose nothing else
    c.group(a, MON, status="cancelled", by_clinic=True)
    c.group(b, THU, status="cancelled", by_clinic=True)  # clinic cancelled B's Thursday group
    c.held_group(a, WED, {x: ("present", 180)})
    c.held_group(a, FRI, {x: ("present", 180)})
    c.held_group(b, TUE, {y: ("present", 180)})
    rows = c.week()
    assert rows["T001"].required_minutes == 360  # Wed + Fri of Mon/Wed/Fri
    assert rows["T001"].status == MET
    assert rows["T002"].required_minutes == 270  # 9h x 1/2 (Tue of Tue/Thu)
    assert rows["T002"].status == NOT_MET


def test_client_cancelled_sessions_do_not_prorate(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=30))
    # a group cancelled but not by the clinic, and a client-cancelled individual session
    c.group(a, WED, status="cancelled", by_clinic=False)
    c.booked(x, TUE, "individual", status="cancelled", by_clinic=False)
    # a single individual session cancelled by the clinic does not prorate the group days
    c.booked(x, THU, "individual", status="cancelled", by_clinic=True)
    assert c.week()["T001"].required_minutes == 540


def test_group_day_prorates_only_when_every_group_that_day_was_clinic_cancelled(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=30))
    c.group(a, MON, status="cancelled", by_clinic=True, start=time(9))
    c.held_group(a, MON, {x: ("present", 60)}, minutes=60, start=time(13))
    assert c.week()["T001"].required_minutes == 540


def test_saturday_track(c):
    sat = c.track("S", weekdays=(1, 3, 5), name="Weekend IOP")
    x = c.client("T001")
    c.enroll(x, sat, FRI)
    c.held_group(sat, SAT, {x: ("present", 180)})
    row = c.week()["T001"]
    assert row.required_minutes == 180
    assert row.attended_minutes == 180
    assert row.status == MET
    assert row.track == "Weekend IOP"


def test_week_start_other_than_monday(c):
    a = c.track(weekdays=(6, 1, 3))  # Sun, Tue, Thu
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=30))
    clinic.set_setting(c.db, c.admin, "week_start", "Sun")
    prev_sun = MON - timedelta(days=1)
    assert hours.week_bounds(c.db, WED) == (prev_sun, SAT)
    with c.db.session() as s:
        assert hours.week_bounds(s, prev_sun) == (prev_sun, SAT)
        assert hours.week_bounds(s, SAT) == (prev_sun, SAT)
    c.held_group(a, prev_sun, {x: ("present", 180)})  # in the Sun..Sat week
    c.held_group(a, TUE, {x: ("present", 180)})
    c.held_group(a, SUN, {x: ("present", 180)})  # the next week
    row = c.week(WED)["T001"]
    assert row.week_start == prev_sun
    assert row.attended_minutes == 360
    assert row.required_minutes == 540
    # admitted on the Tuesday: Tue + Thu of Sun/Tue/Thu
    y = c.client("T002")
    c.enroll(y, a, TUE)
    assert c.week(SAT)["T002"].required_minutes == 360
    # the same dates under a Monday week differ
    clinic.set_setting(c.db, c.admin, "week_start", "Mon")
    assert c.week(WED)["T001"].attended_minutes == 360  # Tue + the next Sunday


def test_override_vs_track_requirement(c):
    a = c.track(hrs="12")
    x = c.client("T001")
    y = c.client("T002", override="6")
    c.enroll(x, a, MON - timedelta(days=30))
    c.enroll(y, a, MON - timedelta(days=30))
    c.held_group(a, MON, {x: ("present", 360), y: ("present", 360)})
    rows = c.week()
    assert rows["T001"].required_minutes == 720
    assert rows["T001"].status == NOT_MET
    assert rows["T002"].required_minutes == 360
    assert rows["T002"].status == MET


def test_zero_counted_days_no_requirement(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, SAT)  # admitted on the weekend: no program day left this week
    intake = c.booked(x, SAT, "intake", status="held", minutes=90)
    c.attend(intake, x, "present", 90)
    row = c.week()["T001"]
    assert row.required_minutes is None
    assert row.required_hours is None
    assert row.status == NO_REQUIREMENT
    assert row.attended_minutes == 90
    assert row.projection is None


def test_met_boundary(c):
    a = c.track()
    x = c.client("T001")
    y = c.client("T002")
    for cid in (x, y):
        c.enroll(cid, a, MON - timedelta(days=30))
    c.held_group(a, MON, {x: ("present", 180), y: ("present", 180)})
    c.held_group(a, WED, {x: ("present", 180), y: ("present", 180)})
    c.held_group(a, FRI, {x: ("present", 180), y: ("left_early", 179)})
    rows = c.week()
    assert (rows["T001"].attended_minutes, rows["T001"].status) == (540, MET)
    assert (rows["T002"].attended_minutes, rows["T002"].status) == (539, NOT_MET)


def test_two_tracks_over_time(c):
    a = c.track("A", weekdays=MWF, hrs="9", name="Day IOP")
    b = c.track("B", weekdays=(1, 3), hrs="6", name="Evening IOP")
    x = c.client("T001")
    prev = MON - timedelta(days=7)
    nxt = MON + timedelta(days=7)
    c.enroll(x, a, prev - timedelta(days=7), TUE)  # switches on Wednesday of week 2
    c.enroll(x, b, WED)
    for week in (prev, MON):
        c.held_group(a, week, {x: ("present", 180)})
    c.held_group(b, THU, {x: ("present", 180)})
    c.held_group(b, nxt + timedelta(days=1), {x: ("present", 180)})
    week1, week2, week3 = (c.week(w)["T001"] for w in (prev, MON, nxt))
    assert (week1.track, week1.required_minutes) == ("Day IOP", 540)
    # Mon of A's three days (180) + Thu of B's two days (180)
    assert (week2.track, week2.required_minutes) == ("Day IOP, Evening IOP", 360)
    assert (week2.attended_minutes, week2.status) == (360, MET)
    assert (week3.track, week3.required_minutes) == ("Evening IOP", 360)
    assert week3.status == NOT_MET
    # each part takes the client's override when there is one
    with c.db.session() as s:
        s.get(Client, x).required_weekly_hours = Decimal("3")
    assert c.week(MON)["T001"].required_minutes == 60 + 90


def test_voided_enrollment_ignored(c):
    a = c.track()
    x = c.client("T001")
    eid = c.enroll(x, a, MON - timedelta(days=30))
    with c.db.session() as s:
        from iopdesk.models import utcnow

        s.get(TrackEnrollment, eid).voided_at = utcnow()
    assert "T001" not in c.week()


# ------------------------------------------------------------------------------------------
# Projection, remaining sessions, streak
# ------------------------------------------------------------------------------------------


def test_projection_on_track_and_at_risk(c):
    a = c.track()
    x = c.client("T001")
    y = c.client("T002")
    z = c.client("T003", override="6")
    for cid in (x, y, z):
        c.enroll(cid, a, MON - timedelta(days=30))
    c.held_group(a, MON, {x: ("present", 180), y: ("absent_unexcused", 0)})
    c.group(a, WED, status="scheduled")  # today, not yet held: still to come
    c.group(a, FRI, status="scheduled")
    c.booked(x, THU, "individual", minutes=60)
    c.booked(y, TUE, "individual", minutes=60)  # before today: no longer remaining
    c.booked(x, FRI, "family", status="cancelled", minutes=60)  # cancelled: not remaining
    rows = c.week(today=WED)
    assert rows["T001"].remaining_minutes == 180 + 180 + 60
    assert rows["T001"].projection == ON_TRACK
    assert rows["T002"].remaining_minutes == 360
    assert rows["T002"].projection == AT_RISK
    # exactly reaching the requirement counts as on track: 0 attended + 360 to come = 6h
    assert (rows["T003"].required_minutes, rows["T003"].remaining_minutes) == (360, 360)
    assert rows["T003"].projection == ON_TRACK
    # another week: no projection; a past week has nothing remaining
    later = c.week(today=MON + timedelta(days=8))
    assert later["T001"].projection is None
    assert later["T001"].remaining_minutes == 0
    # on Friday only Friday's group is left (Thursday's individual session has passed)
    assert c.week(today=FRI)["T001"].remaining_minutes == 180
    assert c.week(today=FRI)["T001"].projection == AT_RISK  # 180 + 180 < 540


def test_remaining_only_on_days_enrolled_in_the_track(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=30), WED)  # discharged Wednesday
    c.group(a, WED, status="scheduled")
    c.group(a, FRI, status="scheduled")
    row = c.week(today=TUE)["T001"]
    assert row.remaining_minutes == 180
    assert row.required_minutes == 360
    assert row.projection == AT_RISK


def test_unexcused_streak(c):
    a = c.track(weekdays=range(7))
    x = c.client("T001")
    y = c.client("T002")
    for cid in (x, y):
        c.enroll(cid, a, MON - timedelta(days=30))
    prev = MON - timedelta(days=7)
    c.held_group(a, prev, {x: ("absent_unexcused", 0), y: ("present", 180)})
    c.held_group(a, prev + timedelta(days=2), {x: ("absent_unexcused", 0)})
    c.held_group(a, prev + timedelta(days=4), {x: ("absent_excused", 0)})  # breaks the run
    c.held_group(a, SAT - timedelta(days=7), {x: ("absent_unexcused", 0)})
    c.held_group(a, SUN - timedelta(days=7), {x: ("absent_unexcused", 0)})
    c.held_group(a, MON, {x: ("absent_unexcused", 0), y: ("absent_unexcused", 0)})
    # same day: the later session decides the order
    c.held_group(a, TUE, {y: ("absent_unexcused", 0)}, start=time(9))
    c.held_group(a, TUE, {y: ("present", 60)}, start=time(13), minutes=60)
    # not held: ignored
    c.held_group(a, WED, {x: ("present", 180)}, status="cancelled", by_clinic=True)
    assert c.week(prev)["T001"].unexcused_streak == 2
    rows = c.week(MON)
    assert rows["T001"].unexcused_streak == 3  # Sat, Sun of last week + Mon
    assert rows["T002"].unexcused_streak == 0
    c.held_group(a, THU, {y: ("absent_unexcused", 0)})
    c.held_group(a, FRI, {y: ("absent_unexcused", 0)})
    assert c.week(MON)["T002"].unexcused_streak == 2
    assert c.week(MON)["T002"].streak_flag
    # a later week with no sessions keeps the streak it ended with
    assert c.week(MON + timedelta(days=7))["T001"].unexcused_streak == 3


def test_unexcused_streak_longer_than_the_lookback_window(c):
    a = c.track(weekdays=range(7))
    x = c.client("T001")
    y = c.client("T002")
    for cid in (x, y):
        c.enroll(cid, a, MON - timedelta(days=120))
    c.held_group(a, MON - timedelta(days=60), {x: ("present", 180), y: ("present", 180)})
    missed = [MON - timedelta(days=57) + timedelta(days=3 * k) for k in range(22)]
    assert missed[-1] <= SUN
    for day in missed:
        c.held_group(a, day, {x: ("absent_unexcused", 0)})
    # y missed two groups five weeks ago and has had no session since (on hold)
    c.held_group(a, MON - timedelta(days=40), {y: ("absent_unexcused", 0)})
    c.held_group(a, MON - timedelta(days=35), {y: ("absent_unexcused", 0)})
    rows = c.week()
    assert rows["T001"].unexcused_streak == len(missed)
    assert rows["T002"].unexcused_streak == 2
    history = hours.history_for_clients(
        c.db, c.admin, [x, y], MON - timedelta(days=14), MON, today=date(2026, 12, 31)
    )
    for row in history[x]:
        assert row.week_start is not None
        end = row.week_start + timedelta(days=6)
        assert row.unexcused_streak == sum(1 for d in missed if d <= end)
    assert [r.unexcused_streak for r in history[y]] == [2, 2, 2]


# ------------------------------------------------------------------------------------------
# Filters, history, set-based loading, permissions
# ------------------------------------------------------------------------------------------


def test_filters_by_track_and_therapist(c):
    a = c.track("A")
    b = c.track("B")
    x = c.client("T001")
    y = c.client("T002")
    c.enroll(x, a, MON - timedelta(days=30))
    c.enroll(y, b, MON - timedelta(days=30))
    with c.db.session() as s:
        st = Staff(staff_code="TH9", first_name="Tia", last_name="Helper", credentials="LCSW")
        s.add(st)
        s.flush()
        staff_id = st.id
        s.add(TherapistAssignment(client_id=y, staff_id=staff_id, start_date=MON - timedelta(9)))
    assert set(c.week(track_id=a)) == {"T001"}
    assert set(c.week(track_id=b)) == {"T002"}
    assert set(c.week(therapist_staff_id=staff_id)) == {"T002"}
    assert c.week()["T002"].therapist == "Tia Helper, LCSW"
    assert c.week()["T001"].therapist == ""
    assert list(c.week()) == ["T001", "T002"]  # sorted by MRN


def _count_queries(db):
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", before)


def test_set_based_query_count_does_not_grow_with_clients_or_weeks(c):
    a = c.track()
    b = c.track("B", weekdays=(1, 3))
    first = c.client("T000")
    c.enroll(first, a, MON - timedelta(days=60))
    c.held_group(a, MON, {first: ("present", 180)})

    def count(fn):
        statements, stop = _count_queries(c.db)
        try:
            fn()
        finally:
            stop()
        return len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))])

    week_one = count(lambda: hours.weekly_hours(c.db, c.admin, MON, today=WED))
    hist_one = count(lambda: hours.history_for_clients(c.db, c.admin, [first], MON, MON, today=WED))
    ids = [first]
    for i in range(1, 25):
        cid = c.client(f"T{i:03d}")
        ids.append(cid)
        c.enroll(cid, a if i % 2 else b, MON - timedelta(days=60))
    for k in range(8):
        day = MON - timedelta(days=7 * k)
        c.held_group(a, day, {cid: ("present", 180) for cid in ids[1::2]})
        c.held_group(b, day + timedelta(days=1), {cid: ("late", 100) for cid in ids[2::2]})
    assert count(lambda: hours.weekly_hours(c.db, c.admin, MON, today=WED)) == week_one
    hist_many = count(
        lambda: hours.history_for_clients(
            c.db, c.admin, ids, MON - timedelta(days=7 * 51), MON, today=WED
        )
    )
    assert hist_many == hist_one
    assert week_one <= 11


def test_history_for_clients_and_client_history(c):
    a = c.track()
    x = c.client("T001")
    prev = MON - timedelta(days=7)
    c.enroll(x, a, prev + timedelta(days=2))  # admitted Wednesday of the week before
    c.held_group(a, prev + timedelta(days=2), {x: ("present", 180)})
    c.held_group(a, prev + timedelta(days=4), {x: ("absent_unexcused", 0)})
    c.held_group(a, MON, {x: ("absent_unexcused", 0)})
    c.held_group(a, WED, {x: ("present", 180)})
    result = hours.history_for_clients(
        c.db, c.admin, [x, 999_999], prev - timedelta(days=7), WED, today=THU
    )
    assert set(result) == {x}
    before, week1, week2 = result[x]
    assert [r.week_start for r in result[x]] == [prev - timedelta(days=7), prev, MON]
    assert (before.status, before.required_minutes, before.track) == (NO_REQUIREMENT, None, "")
    assert (week1.required_minutes, week1.attended_minutes, week1.status) == (360, 180, NOT_MET)
    assert week1.unexcused_streak == 1 and week1.projection is None
    assert (week2.required_minutes, week2.attended_minutes) == (540, 180)
    assert week2.unexcused_streak == 0 and week2.projection == AT_RISK
    # same figures as the weekly view
    assert c.week(prev)["T001"] == week1
    history = hours.client_history(c.db, c.admin, x, today=THU)
    assert [d for d, _ in history] == [prev, MON]
    assert history[1][1] == week2
    assert [d for d, _ in hours.client_history(c.db, c.admin, x, weeks=1, today=THU)] == [MON]
    with pytest.raises(ValidationError):
        hours.history_for_clients(c.db, c.admin, [x], MON, prev)


def test_client_history_skips_gap_between_stays(c):
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=28), MON - timedelta(days=22))  # first stay, 1 week
    c.enroll(x, a, MON)  # readmitted
    weeks = [d for d, _ in hours.client_history(c.db, c.admin, x, today=WED)]
    assert weeks == [MON - timedelta(days=28), MON]
    never = c.client("T002")
    assert hours.client_history(c.db, c.admin, never, today=WED) == []


def test_permissions(c):
    nobody = Actor(9999, "nobody", "No Roles", frozenset())
    with pytest.raises(PermissionDenied):
        hours.weekly_hours(c.db, nobody, MON)
    with pytest.raises(PermissionDenied):
        hours.history_for_clients(c.db, nobody, [1], MON, MON)
    with pytest.raises(PermissionDenied):
        hours.build_attendance_report(c.db, nobody, MON)
    for actor in c.env.world.actors().values():
        hours.weekly_hours(c.db, actor, MON)


# ------------------------------------------------------------------------------------------
# Report: xlsx and pdf
# ------------------------------------------------------------------------------------------


@pytest.fixture
def out(tmp_path) -> Path:
    """A folder for report files (apart from the test database's folder)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


def _report_world(c, part2=False):
    a = c.track("A", name="Adult Day IOP")
    b = c.track("B", weekdays=(1, 3), name="Evening & Weekend")
    ids = {
        "M100": c.client("M100", "Nguyễn", "Thị Ánh", part2=part2),
        "M050": c.client("M050", "Abbott", "Zed"),
        "M075": c.client("M075", "Okafor", "Chidi"),
        "M090": c.client("M090", "Smith", "Late"),
    }
    c.enroll(ids["M100"], a, MON - timedelta(days=30))
    c.enroll(ids["M050"], a, MON - timedelta(days=30))
    c.enroll(ids["M075"], b, SAT)  # no requirement this week
    c.enroll(ids["M090"], a, MON - timedelta(days=30), TUE)
    c.enroll(ids["M090"], b, WED)
    c.held_group(
        a,
        MON,
        {ids["M100"]: ("present", 180), ids["M050"]: ("late", 170), ids["M090"]: ("present", 180)},
    )
    c.held_group(a, WED, {ids["M100"]: ("present", 180), ids["M050"]: ("absent_unexcused", 0)})
    c.held_group(a, FRI, {ids["M100"]: ("present", 180), ids["M050"]: ("present", 180)})
    return ids


def test_build_attendance_report(c):
    _report_world(c)
    report = hours.build_attendance_report(c.db, c.admin, THU)
    assert (report.week_start, report.week_end) == (MON, SUN)
    assert report.clinic_name == "Test Clinic"
    assert [r.mrn for r in report.rows] == ["M050", "M075", "M090", "M100"]
    assert [r.status for r in report.rows] == [NOT_MET, NO_REQUIREMENT, NOT_MET, MET]
    assert not report.has_part2
    assert all(r.projection is None for r in report.rows)


def test_xlsx_read_back(c, out):
    from openpyxl import load_workbook

    _report_world(c)
    path = out / "week.xlsx"
    assert hours.export_attendance_report(c.db, c.admin, THU, path) == 4
    wb = load_workbook(path)
    assert wb.sheetnames == ["Weekly Hours"]
    ws = wb["Weekly Hours"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == (
        "MRN",
        "Client",
        "Track",
        "Required Hours",
        "Attended Hours",
        "Status",
        "Required Days",
        "Attended Days",
    )
    assert len(rows) == 5  # no Part 2 client: no notice row
    assert [r[0] for r in rows[1:]] == ["M050", "M075", "M090", "M100"]
    by_mrn = {r[0]: r for r in rows[1:]}
    assert by_mrn["M050"] == ("M050", "Abbott, Zed", "Adult Day IOP", 9.0, 5.83, "not met", None, 2)
    assert by_mrn["M075"] == (
        "M075",
        "Okafor, Chidi",
        "Evening & Weekend",
        None,
        0.0,
        NO_REQUIREMENT,
        None,
        0,
    )
    assert by_mrn["M090"][2] == "Adult Day IOP, Evening & Weekend"
    assert by_mrn["M090"][3] == 7.5  # Mon of A's 3 days (3h) + Thu of B's 2 days (4.5h)
    assert by_mrn["M100"][1] == "Nguyễn, Thị Ánh"
    assert by_mrn["M100"][3:] == (9.0, 9.0, "met", None, 3)
    for row in ws.iter_rows(min_row=2, max_row=5):
        for cell in row[3:5]:
            assert cell.number_format == "0.00"
            assert cell.value is None or isinstance(cell.value, (int, float))
        assert row[5].value in ("met", "not met", "no requirement")
    assert row[3].data_type == "n"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H5"
    assert ws.column_dimensions["B"].width >= 20
    assert "42 CFR" not in (ws.oddFooter.left.text or "")
    assert not list(out.glob(".*tmp*"))  # no temporary file left behind


def test_xlsx_part2_notice(c, out):
    from openpyxl import load_workbook

    _report_world(c, part2=True)
    path = out / "week.xlsx"
    hours.export_attendance_report(c.db, c.admin, MON, path)
    ws = load_workbook(path)["Weekly Hours"]
    values = [v for row in ws.iter_rows(values_only=True) for v in row if v]
    notice = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
    assert notice in values
    assert ws.oddFooter.left.text == notice
    assert ws.auto_filter.ref == "A1:H5"  # the notice is not part of the table


def _pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(str(path)).pages]


def test_pdf_text(c, out):
    _report_world(c)
    path = out / "week.pdf"
    assert hours.export_attendance_report(c.db, c.admin, MON, path) == 4
    pages = _pdf_pages(path)
    assert len(pages) == 1
    text = pages[0]
    for header in ("MRN", "Client", "Track", "Required Hours", "Attended Hours", "Status"):
        assert header in text
    assert "Nguyễn, Thị Ánh" in text
    assert "Test Clinic" in text
    assert "Mon 2 Mar 2026" in text and "Sun 8 Mar 2026" in text
    assert "Page 1 of 1" in text
    assert "9.00" in text and "5.83" in text
    assert "42 CFR" not in text
    from pypdf import PdfReader

    page = PdfReader(str(path)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (792.0, 612.0)
    fonts = page["/Resources"]["/Font"]
    base_fonts = {str(fonts[k].get_object()["/BaseFont"]) for k in fonts}
    assert base_fonts and all("DejaVuSans" in f for f in base_fonts)  # embedded, Unicode-safe


def test_pdf_many_pages_repeat_header_and_part2_on_every_page(c, out):
    a = c.track()
    for i in range(120):
        cid = c.client(f"P{i:04d}", f"Client{i:03d}", "Ánh", part2=(i == 77))
        c.enroll(cid, a, MON - timedelta(days=7))
    path = out / "many.pdf"
    assert hours.export_attendance_report(c.db, c.admin, MON, path) == 120
    pages = _pdf_pages(path)
    assert len(pages) > 1
    notice = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
    for number, text in enumerate(pages, start=1):
        assert "Required Hours" in text and "Attended Hours" in text  # header repeated
        assert notice in text
        assert f"Page {number} of {len(pages)}" in text
        assert "Test Clinic" in text
    everything = "\n".join(pages)
    assert all(f"P{i:04d}" in everything for i in range(120))
    positions = [everything.index(f"P{i:04d}") for i in range(120)]
    assert positions == sorted(positions)  # sorted by MRN across pages


def test_pdf_writer_takes_plain_data(out):
    from openpyxl import load_workbook

    from iopdesk.reports.attendance import write_pdf, write_xlsx

    rows = [
        WeekRow(1, "M1", "Zoë <&> O'Neil", "Track", "", 540, 600, MET, None, 0, 0),
        WeekRow(2, "M2", "Ñúñez, Ana", "Track", "", None, 0, NO_REQUIREMENT, None, 0, 0),
        WeekRow(3, "M3", '=HYPERLINK("http://x","y")', "T", "", 540, 0, NOT_MET, None, 0, 0),
    ]
    report = AttendanceReport("Clínica & Co", "1 Main St", "555-0100", MON, SUN, rows)
    write_pdf(report, out / "r.pdf")
    text = _pdf_pages(out / "r.pdf")[0]
    assert "Zoë <&> O'Neil" in text and "Clínica & Co" in text and "Ñúñez, Ana" in text
    write_xlsx(report, out / "r.xlsx")
    ws = load_workbook(out / "r.xlsx")["Weekly Hours"]
    assert ws["B4"].value == '=HYPERLINK("http://x","y")'
    assert ws["B4"].data_type == "s"  # text, not a formula
    assert ws.oddHeader.left.text == "Clínica && Co"


def test_export_rejects_other_formats_and_missing_folder(c, out):
    for name in ("week.csv", "week", "week.xls"):
        with pytest.raises(ValidationError, match=r"\.xlsx"):
            hours.export_attendance_report(c.db, c.admin, MON, out / name)
    with pytest.raises(ValidationError, match="does not exist"):
        hours.export_attendance_report(c.db, c.admin, MON, out / "nope" / "w.pdf")
    # upper-case suffixes are fine
    assert hours.export_attendance_report(c.db, c.admin, MON, out / "W.PDF") == 0
    assert (out / "W.PDF").read_bytes().startswith(b"%PDF")


def test_export_disk_full_leaves_no_file(c, out, monkeypatch):
    from iopdesk.reports import attendance as writer

    _report_world(c)
    path = out / "week.xlsx"
    path.write_bytes(b"previous report")

    def full(report, path):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, "write_xlsx", full)
    with pytest.raises(DiskFullError) as info:
        hours.export_attendance_report(c.db, c.admin, MON, path)
    assert "disk is full" in info.value.message
    assert path.read_bytes() == b"previous report"  # the earlier file is untouched
    assert sorted(p.name for p in out.iterdir()) == ["week.xlsx"]

    def denied(report, path):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(writer, "write_xlsx", denied)
    with pytest.raises(UserError, match="not allowed"):
        hours.export_attendance_report(c.db, c.admin, MON, path)

    def broken(report, path):
        Path(path).write_bytes(b"half")
        raise RuntimeError("bug in the writer")

    monkeypatch.setattr(writer, "write_xlsx", broken)
    with pytest.raises(RuntimeError):
        hours.export_attendance_report(c.db, c.admin, MON, path)
    monkeypatch.undo()

    # the file is written but cannot be put in place (open in Excel on Windows): no audit
    def locked(src, dst):
        raise PermissionError(errno.EACCES, "The file is in use")

    from iopdesk.services import filesout  # where every export is renamed into place

    monkeypatch.setattr(filesout.os, "replace", locked)
    with pytest.raises(UserError, match="open in another program"):
        hours.export_attendance_report(c.db, c.admin, MON, path)
    monkeypatch.undo()
    assert path.read_bytes() == b"previous report"
    assert sorted(p.name for p in out.iterdir()) == ["week.xlsx"]
    with c.db.session() as s:
        exports = s.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert exports == []  # nothing written, nothing audited


def test_export_is_audited_without_phi(c, out):
    _report_world(c, part2=True)
    hours.export_attendance_report(c.db, c.admin, WED, out / "w.pdf")
    with c.db.session() as s:
        ev = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "export", AuditEvent.entity == "attendance_report"
            )
        ).one()
    assert ev.entity_id == MON.isoformat()
    assert ev.username == "admin"
    assert ev.client_id is None
    assert "4 rows" in ev.detail and "pdf" in ev.detail
    assert not re.search(r"Nguy|Abbott|Okafor|Smith|M0\d\d|M100", ev.detail)


def test_export_not_left_behind_when_the_audit_fails(c, out, monkeypatch):
    _report_world(c)
    path = out / "week.pdf"

    def audit_down(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(hours.audit, "record", audit_down)
    with pytest.raises(RuntimeError):
        hours.export_attendance_report(c.db, c.admin, MON, path)
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------------------
# Speed-ups that must not change a single result (issue 11)
# ------------------------------------------------------------------------------------------


def _plain_proration(week_start, enrollments, blocks, closures=(), cancelled=()):
    """The proration rule written out plainly: every day through the newest covering
    enrollment, then a sum of Fractions rounded half up once."""
    days = [week_start + timedelta(days=i) for i in range(7)]
    counted: dict[EnrollmentSpan, int] = {}
    for day in days:
        owner = None
        for e in enrollments:
            if e.covers(day) and (owner is None or (e.start, e.order) > (owner.start, owner.order)):
                owner = e
        if owner is None or day.weekday() not in blocks.get(owner.track_id, ()):
            continue
        if day in closures or (owner.track_id, day) in cancelled:
            continue
        counted[owner] = counted.get(owner, 0) + 1
    parts = []
    total = Fraction(0)
    for e in sorted(counted, key=lambda x: (x.start, x.order)):
        scheduled = sum(1 for d in days if d.weekday() in blocks.get(e.track_id, ()))
        parts.append((e.track_id, counted[e], scheduled, e.hours))
        total += Fraction(e.hours) * 60 * counted[e] / scheduled
    return tuple(parts), (int(total + Fraction(1, 2)) if parts else None)


def test_prorate_equals_the_plain_rule_exactly():
    """prorate() sums in integers and has a one-enrollment shortcut: same parts, same minutes
    as the plain Fraction arithmetic, for odd hours (9.33, 12.5), transfers, closures."""
    rng = random.Random(11)
    for _ in range(3000):
        week = MON + timedelta(days=7 * rng.randint(-3, 3))
        blocks = {t: frozenset(rng.sample(range(7), rng.randint(0, 5))) for t in (1, 2, 3)}
        spans = []
        for order in range(rng.choice((1, 1, 1, 2, 3))):
            start = week + timedelta(days=rng.randint(-10, 6))
            end = None if rng.random() < 0.4 else start + timedelta(days=rng.randint(0, 12))
            hrs = Decimal(rng.randint(0, 4000)) / 100
            spans.append(EnrollmentSpan(rng.choice((1, 2, 3)), start, end, hrs, order))
        closures = {week + timedelta(days=d) for d in range(7) if rng.random() < 0.1}
        cancelled = {
            (t, week + timedelta(days=d)) for t in (1, 2, 3) for d in range(7) if rng.random() < 0.1
        }
        got = hours.prorate(week, spans, blocks, closures, cancelled)
        assert (got.parts, got.required_minutes) == _plain_proration(
            week, spans, blocks, closures, cancelled
        )


def test_rows_are_ordinary_week_rows(c):
    """Rows are built without WeekRow.__init__ (speed); they must be indistinguishable."""
    a = c.track()
    x = c.client("T001", part2=True)
    c.enroll(x, a, MON - timedelta(days=14))
    c.held_group(a, MON, {x: ("present", 180)})
    row = c.week()["T001"]
    plain = WeekRow(**dataclasses.asdict(row))
    assert row == plain and hash(row) == hash(plain) and repr(row) == repr(plain)
    assert vars(row) == vars(plain) and type(row) is WeekRow
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = NOT_MET  # type: ignore[misc]
    assert dataclasses.replace(row, projection=AT_RISK) == dataclasses.replace(
        plain, projection=AT_RISK
    )


def test_remaining_minutes_are_whole_scheduled_minutes(c):
    """Remaining minutes are worked out in SQL now: the same as session_minutes()."""
    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=14))
    c.group(a, FRI, status="scheduled", minutes=95, start=time(9, 10))
    c.booked(x, THU, minutes=85)  # 14:00-15:25
    with c.db.session() as s:  # times entered the wrong way round count 0
        s.add(
            ClinicSession(
                kind="individual",
                client_id=x,
                session_date=THU,
                start_time=time(16, 45),
                end_time=time(15, 30),
                status="scheduled",
            )
        )
    row = c.week(today=WED)["T001"]
    expected = (
        hours.session_minutes(time(9, 10), time(10, 45))
        + hours.session_minutes(time(14), time(15, 25))
        + hours.session_minutes(time(16, 45), time(15, 30))
    )
    assert row.remaining_minutes == expected == 95 + 85


def test_history_is_the_same_with_and_without_the_client_filter(c, monkeypatch):
    """Above a number of client IDs the loaders read everyone and pick in Python: the result
    must not depend on which way was taken (streak reaching back before the range included)."""
    a = c.track()
    x, y, z = c.client("T001"), c.client("T002"), c.client("T003")
    for cid in (x, y, z):
        c.enroll(cid, a, MON - timedelta(days=42))
    first = MON - timedelta(days=14)
    for day in (first - timedelta(days=12), first - timedelta(days=10), first - timedelta(days=3)):
        c.held_group(a, day, {x: ("absent_unexcused", 0), y: ("present", 180)})
    c.held_group(a, first, {x: ("absent_unexcused", 0), y: ("absent_unexcused", 0)})
    c.held_group(a, first + timedelta(days=2), {y: ("late", 120), z: ("present", 180)})
    c.held_group(a, MON, {x: ("present", 180), y: ("absent_unexcused", 0)})

    def history():
        return hours.history_for_clients(c.db, c.admin, [x, y, z], first, MON, today=SUN)

    filtered = history()
    monkeypatch.setattr(hours, "_MAX_IN_LIST", 1)
    assert history() == filtered
    assert [r.unexcused_streak for r in filtered[x]] == [4, 4, 0]
    assert [r.unexcused_streak for r in filtered[y]] == [0, 0, 1]
    assert [r.attended_minutes for r in filtered[y]] == [120, 0, 0]


def test_attendance_covering_indexes_migrate_both_ways(c):
    """Migration 0003 on a database that already holds attendance: down to 0002 and up again
    keeps every row and every result; the indexes are the ones the models declare."""
    from alembic import command
    from sqlalchemy import inspect

    from iopdesk import migrations
    from iopdesk.migrations import runner

    a = c.track()
    x = c.client("T001")
    c.enroll(x, a, MON - timedelta(days=14))
    c.held_group(a, MON, {x: ("present", 180)})
    c.held_group(a, WED, {x: ("absent_unexcused", 0)})
    before = c.week()

    def indexes() -> dict[str, list[str]]:
        with c.db.engine.connect() as conn:
            found = {}
            for table in ("attendance", "trackenrollment"):
                for ix in inspect(conn).get_indexes(table):
                    found[ix["name"]] = list(ix["column_names"])
            return found

    covering = {
        "ix_attendance_session_covering": ["session_id", "client_id", "status", "minutes"],
        "ix_attendance_client_covering": ["client_id", "session_id", "status", "minutes"],
        "ix_trackenrollment_end_date": ["end_date"],
    }
    assert covering.items() <= indexes().items()
    assert "ix_attendance_session_id" not in indexes()
    cfg = runner.config()
    with c.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        conn.commit()
    found = indexes()
    assert not set(covering) & set(found)
    assert found["ix_attendance_session_id"] == ["session_id"]
    assert found["ix_attendance_client_id"] == ["client_id"]
    # (this code reads columns of later migrations, e.g. track.required_weekly_days, so the
    # week is computed again only once the database is back at the head)
    with c.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM attendance").scalar() == 2
    runner.upgrade(c.db.engine)
    assert covering.items() <= indexes().items()
    assert c.db.schema_revision() == migrations.HEAD
    assert c.week() == before


# ------------------------------------------------------------------------------------------
# Minimum days per week (issue 20 item 8)
# ------------------------------------------------------------------------------------------


def _days(c: Builder, tid: int, days: int) -> None:
    with c.db.session() as s:
        t = s.get(Track, tid)
        t.required_weekly_days = days
        s.add(t)


class TestRequiredDaysRule:
    def test_prorated_exactly_like_the_hours(self):
        full = ((1, 3, 3, NINE),)
        assert hours.required_days(full, {1: 3}) == 3
        assert hours.required_days(((1, 2, 3, NINE),), {1: 3}) == 2  # 3 x 2/3
        assert hours.required_days(((1, 3, 4, NINE),), {1: 3}) == 2  # 2.25 -> 2
        assert hours.required_days(((1, 1, 2, NINE),), {1: 3}) == 2  # 1.5 -> 2, half up
        assert hours.required_days(((1, 1, 4, NINE),), {1: 5}) == 1  # 1.25 -> 1
        # two tracks in one week: parts summed exactly, rounded once
        assert hours.required_days(((1, 1, 2, NINE), (2, 1, 2, NINE)), {1: 3, 2: 3}) == 3
        assert hours.required_days(((1, 1, 2, NINE), (2, 1, 2, NINE)), {1: 3}) == 2  # 1.5
        # no track with a day minimum: no day requirement at all
        assert hours.required_days(full, {}) is None
        assert hours.required_days(full, {2: 3}) is None
        assert hours.required_days((), {1: 3}) is None

    def test_status_needs_both_with_a_day_minimum(self):
        assert hours.week_status(540, 540, 3, 3) == MET
        assert hours.week_status(540, 600, 3, 2) == NOT_MET  # the hours alone do not do it
        assert hours.week_status(540, 500, 3, 3) == NOT_MET
        assert hours.week_status(540, 540, None, 0) == MET  # no day minimum: hours decide
        assert hours.week_status(540, 540, 0, 0) == MET
        assert hours.week_status(None, 0, None, 0) == NO_REQUIREMENT


def test_day_minimum_on_the_dashboard_rows(c):
    a = c.track("A")  # Mon, Wed, Fri; 9 hours
    b = c.track("B", name="No day minimum")
    _days(c, a, 3)
    x, y, z, w = (c.client(m) for m in ("X1", "Y1", "Z1", "W1"))
    for cid in (x, y, w):
        c.enroll(cid, a, MON - timedelta(days=7))
    c.enroll(z, b, MON - timedelta(days=7))
    c.held_group(a, MON, {x: ("present", 180), y: ("present", 180), w: ("late", 120)})
    c.held_group(a, WED, {x: ("present", 180), y: ("present", 180)})
    c.held_group(a, FRI, {y: ("left_early", 180), w: ("absent_unexcused", 0)})
    c.held_group(b, MON, {z: ("present", 180)})
    c.held_group(b, WED, {z: ("present", 180)})
    # a second session on a day already attended adds hours, not a day
    extra = c.booked(x, WED, status="held", minutes=180)
    c.attend(extra, x, "present", 180)
    extra_z = c.booked(z, WED, status="held", minutes=180)
    c.attend(extra_z, z, "present", 180)
    # a held session the client missed, and a cancelled one, add no day
    missed = c.booked(w, TUE, status="held", minutes=60)
    c.attend(missed, w, "absent_excused", 0)
    cancelled = c.booked(w, THU, status="cancelled", minutes=60)
    c.attend(cancelled, w, "present", 60)
    rows = c.week()
    got = {
        m: (r.required_minutes, r.attended_minutes, r.required_days, r.attended_days, r.status)
        for m, r in rows.items()
    }
    assert got == {
        "X1": (540, 540, 3, 2, NOT_MET),  # 9 hours on 2 days: the hours alone are not enough
        "Y1": (540, 540, 3, 3, MET),
        "Z1": (540, 540, None, 2, MET),  # a track without a day minimum
        "W1": (540, 120, 3, 1, NOT_MET),
    }


def test_day_minimum_prorated_by_counted_days(c):
    a = c.track("A", weekdays=(0, 1, 2, 3))  # Mon-Thu
    _days(c, a, 3)
    p, q, r_ = c.client("P1"), c.client("Q1"), c.client("R1")
    c.enroll(p, a, TUE)  # 3 of 4 program days: round(3 x 3/4) = 2
    c.enroll(q, a, WED)  # 2 of 4: round(3 x 2/4) = round(1.5) = 2
    c.enroll(r_, a, MON - timedelta(days=7))
    c.closure(MON)  # a closure day is not counted (like the hours): 3 of 4 -> 2
    c.held_group(a, TUE, {p: ("present", 135), r_: ("present", 135)})
    c.held_group(a, WED, {p: ("present", 135), q: ("present", 135), r_: ("present", 135)})
    c.held_group(a, THU, {q: ("present", 135)})
    rows = c.week()
    assert {m: (r.required_days, r.attended_days) for m, r in rows.items()} == {
        "P1": (2, 2),
        "Q1": (2, 2),
        "R1": (2, 2),
    }
    assert rows["P1"].required_minutes == 405  # 9h x 3/4
    assert rows["Q1"].status == MET  # 4.5 hours on 2 of 2 days
    assert rows["P1"].status == NOT_MET  # the days, but 4.5 of 6.75 hours
    # the history (several weeks in one query) agrees with the single week
    history = hours.history_for_clients(c.db, c.admin, [p], MON - timedelta(days=7), MON, today=SUN)
    assert [(h.required_days, h.attended_days) for h in history[p]][-1] == (2, 2)


def test_day_columns_in_the_report_files(c, out):
    from openpyxl import load_workbook

    a = c.track("A", name="Day IOP")
    _days(c, a, 3)
    x = c.client("X1", "Xu", "Li")
    c.enroll(x, a, MON - timedelta(days=7))
    c.held_group(a, MON, {x: ("present", 270)})
    c.held_group(a, WED, {x: ("present", 270)})
    xlsx, pdf = out / "days.xlsx", out / "days.pdf"
    hours.export_attendance_report(c.db, c.admin, MON, xlsx)
    hours.export_attendance_report(c.db, c.admin, MON, pdf)
    rows = list(load_workbook(xlsx)["Weekly Hours"].iter_rows(values_only=True))
    assert rows[0][5:] == ("Status", "Required Days", "Attended Days")
    assert rows[1] == ("X1", "Xu, Li", "Day IOP", 9.0, 9.0, "not met", 3, 2)
    text = _pdf_pages(pdf)[0]
    assert "Required Days" in text and "Attended Days" in text
    assert text.index("Status") < text.index("Required Days") < text.index("Attended Days")
    assert "9.00 9.00 not met 3 2" in " ".join(text.split())


def test_new_tracks_default_day_minimum_by_level_of_care(c):
    with c.db.session() as s:
        for code, level in (("I", "IOP"), ("P", "PHP"), ("O", "OP")):
            s.add(Track(track_code=code, name=code, level_of_care=level))
        s.add(Track(track_code="X", name="X", level_of_care="IOP", required_weekly_days=0))
    with c.db.session() as s:
        got = {t.track_code: t.required_weekly_days for t in s.exec(select(Track))}
    assert got == {"I": 3, "P": 5, "O": 0, "X": 0}


def test_family_session_without_the_client_adds_no_hours_or_day(c):
    a = c.track("A", days=3)
    x = c.client("X1")
    c.enroll(x, a, MON - timedelta(days=7))
    c.held_group(a, MON, {x: ("present", 180)})
    family = c.booked(x, TUE, kind="family_without_client", status="held", minutes=60)
    c.attend(family, x, "present", 60)  # the family attended; the client was not there
    with_client = c.booked(x, WED, kind="family", status="held", minutes=60)
    c.attend(with_client, x, "present", 60)
    row = c.week()["X1"]
    assert (row.attended_minutes, row.attended_days) == (240, 2)
