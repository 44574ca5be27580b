"""The aftercare plan editor, clinic lists and the printed packet (issue 6 items 2-4) on SQLite
and PostgreSQL. Packet text is read back from the PDF with pypdf."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from iopdesk.errors import PermissionDenied, StaleRecordError, ValidationError
from iopdesk.models import AftercareMedication, AuditEvent, Client, Disclosure
from iopdesk.reports import PART2_NOTICE
from iopdesk.reports import aftercare as writer
from iopdesk.services import aftercare, audit, discharge
from iopdesk.services.aftercare import (
    AftercareData,
    AppointmentItem,
    ContactItem,
    GroupItem,
    MedicationItem,
)
from tests.test_discharge import admitted_client, good_input, version_of

UNICODE_NAMES = [
    ("Nguyễn Thị", "Ánh"),
    ("Łukasz", "Żółkowski"),
    ("Zoë", "O'Brien-Ólafsdóttir"),
    ("Дмитрий", "Иванов"),
    ("Ελένη", "Παπαδοπούλου"),
]


def discharged_with_plan(env, first="Dana", last="Discharge", *, part2=True, language="English"):
    st = admitted_client(env, first, last)
    with env.db.session() as s:
        c = s.get(Client, st.client_id)
        c.part2 = part2
        c.primary_language = language
        c.preferred_name = "Dee"
        c.version += 1
        s.add(c)
    r = discharge.discharge_client(
        env.db,
        env.world.therapist,
        st.client_id,
        version_of(env, st.client_id),
        good_input(st),
    )
    return st, r.plan_id


def full_data(view) -> AftercareData:
    data = view.data
    data.triggers = "Payday Fridays; old drinking friends"
    data.warning_signs = "Skipping meals\nIsolating from family"
    data.coping_strategies = "Call my sponsor; walk the dog"
    data.client_goals = "Keep my job; run a 5k"
    data.strengths = "Humor, persistence"
    data.appointments = [
        AppointmentItem(
            "Dr. Amara Okafor",
            "Psychiatry follow-up",
            date(2026, 12, 3),
            time(14, 30),
            "44 Elm Street, Riverbend",
            "(555) 201-3344",
        )
    ]
    data.medications = [MedicationItem("Naltrexone", "50 mg", "Once daily", "Dr. Okafor")]
    data.groups = [GroupItem("SMART Recovery", "Tuesday", "7:00 PM", "St. Mark's Hall, Room 2")]
    data.contacts = [ContactItem("Marisol Vega", "Sister", "(555) 777-1212")]
    return data


def pdf_pages(path: Path) -> list[str]:
    return [
        unicodedata.normalize("NFC", page.extract_text() or "")
        for page in PdfReader(str(path)).pages
    ]


def finalize(env, plan_id: int):
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    return aftercare.finalize_plan(env.db, env.world.therapist, plan_id, view.version)


# -- the editor ---------------------------------------------------------------------------------
def test_new_plan_has_default_crisis_resources(env):
    _, plan_id = discharged_with_plan(env)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    contacts = " ".join(c.contact for c in view.data.crisis)
    assert "988" in contacts and "911" in contacts and "1-800-662-4357" in contacts
    assert view.status == "draft"


def test_save_reload_remove_and_concurrency(env):
    w = env.world
    _, plan_id = discharged_with_plan(env)
    view = aftercare.get_plan(env.db, w.therapist, plan_id)
    saved = aftercare.save_plan(env.db, w.therapist, plan_id, view.version, full_data(view))
    again = aftercare.get_plan(env.db, w.supervisor, plan_id)
    assert again.data.appointments[0].appointment_time == time(14, 30)
    assert again.data.medications[0].name == "Naltrexone"
    assert again.data.warning_signs == "Skipping meals\nIsolating from family"
    # a second workstation saving the old version is refused
    with pytest.raises(StaleRecordError):
        aftercare.save_plan(env.db, w.supervisor, plan_id, view.version, full_data(view))
    # removing a medication voids it (never deletes)
    data = again.data
    data.medications = []
    aftercare.save_plan(env.db, w.therapist, plan_id, saved.version, data)
    assert aftercare.get_plan(env.db, w.therapist, plan_id).data.medications == []
    with env.db.session() as s:
        (med,) = s.exec(select(AftercareMedication)).all()
        assert med.voided_at is not None and med.name == "Naltrexone"


def test_validation_names_the_row(env):
    _, plan_id = discharged_with_plan(env)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    data = view.data
    data.medications = [MedicationItem("Naltrexone"), MedicationItem("  ", "10 mg")]
    with pytest.raises(ValidationError, match="Row 2 of the medications has no name"):
        aftercare.save_plan(env.db, env.world.therapist, plan_id, view.version, data)


def test_finalize_reopen_and_permissions(env):
    w = env.world
    _, plan_id = discharged_with_plan(env)
    view = aftercare.get_plan(env.db, w.therapist, plan_id)
    with pytest.raises(ValidationError, match="follow-up appointment or a support group"):
        aftercare.finalize_plan(env.db, w.therapist, plan_id, view.version)
    for actor in (w.front_desk, w.admin, w.billing):
        with pytest.raises(PermissionDenied):
            aftercare.save_plan(env.db, actor, plan_id, view.version, full_data(view))
    view = aftercare.save_plan(env.db, w.therapist, plan_id, view.version, full_data(view))
    final = aftercare.finalize_plan(env.db, w.therapist, plan_id, view.version)
    assert final.status == "finalized" and final.finalized_by == "Theo Rapist, LPC"
    assert final.finalized_at is not None
    with pytest.raises(ValidationError, match="finalized"):
        aftercare.save_plan(env.db, w.therapist, plan_id, final.version, final.data)
    with pytest.raises(ValidationError, match="reason"):
        aftercare.reopen_plan(env.db, w.therapist, plan_id, final.version, " ")
    reopened = aftercare.reopen_plan(env.db, w.therapist, plan_id, final.version, "wrong phone")
    assert reopened.status == "draft" and reopened.finalized_at is None
    with env.db.session() as s:
        details = [
            e.detail
            for e in s.exec(select(AuditEvent).where(AuditEvent.entity == "aftercare_plan"))
        ]
    assert "finalized (clinician signature)" in details and "reopened to draft" in details
    assert audit.verify(env.db).ok


def test_clinic_lists_and_clinic_crisis_defaults(env):
    w = env.world
    with pytest.raises(PermissionDenied):
        aftercare.save_clinic_item(env.db, w.front_desk, "local_meetings", "AA")
    aa = aftercare.save_clinic_item(
        env.db,
        w.therapist,
        "local_meetings",
        "AA Sunrise Group",
        {"day": "Monday", "time": "7:00 AM", "place": "Grace Church"},
    )
    meetings = aftercare.list_clinic_items(env.db, w.front_desk, "local_meetings")
    assert [e.label for e in meetings] == ["AA Sunrise Group"]
    aftercare.save_clinic_item(
        env.db,
        w.admin,
        "local_meetings",
        "AA Sunrise Group",
        aa.data,
        item_id=aa.id,
        expected_version=aa.version,
        active=False,
    )
    assert aftercare.list_clinic_items(env.db, w.front_desk, "local_meetings") == []
    with pytest.raises(StaleRecordError):
        aftercare.save_clinic_item(
            env.db, w.admin, "local_meetings", "x", item_id=aa.id, expected_version=aa.version
        )
    with pytest.raises(ValidationError):
        aftercare.list_clinic_items(env.db, w.front_desk, "no_such_list")
    aftercare.save_clinic_item(
        env.db,
        w.admin,
        "crisis_resources",
        "Riverbend County Crisis Line",
        {"contact": "(555) 999-0000", "description": "Mobile crisis team"},
    )
    _, plan_id = discharged_with_plan(env)
    crisis = aftercare.get_plan(env.db, w.therapist, plan_id).data.crisis
    assert [c.name for c in crisis] == ["Riverbend County Crisis Line"]


# -- the packet ---------------------------------------------------------------------------------
def test_packet_has_every_field_and_section_and_is_audited_as_a_disclosure(env, tmp_path):
    w = env.world
    st, plan_id = discharged_with_plan(env, "Nguyễn Thị", "Ánh")
    view = aftercare.get_plan(env.db, w.therapist, plan_id)
    aftercare.save_plan(env.db, w.therapist, plan_id, view.version, full_data(view))
    # the front desk cannot print a draft
    with pytest.raises(ValidationError, match="still a draft"):
        aftercare.print_packet(env.db, w.front_desk, plan_id, tmp_path / "x.pdf")
    finalize(env, plan_id)
    out = tmp_path / "packet.pdf"
    result = aftercare.print_packet(env.db, w.front_desk, plan_id, out)
    assert result.part2 and result.release_kind == "client_copy" and result.language == "en"
    pages = pdf_pages(out)
    assert len(pages) == result.pages
    text = "\n".join(pages)
    flat = " ".join(text.split())
    for expected in (
        "Riverbend",  # receiving provider
        "Test Clinic",
        "Nguyễn Thị Ánh",
        "Dee",
        "April 5, 1991",
        "Crisis resources",
        "Call or text 988",
        "1-800-662-4357",
        "Call 911",
        "Your progress",
        "Stay sober",
        "60 days sober.",
        "Back at work.",
        "Completed 6 weeks of IOP.",
        "Follow-up appointments",
        "Dr. Amara Okafor",
        "Psychiatry follow-up",
        "Thursday, December 3, 2026 2:30 PM",
        "44 Elm Street, Riverbend",
        "(555) 201-3344",
        "Medications",
        "Naltrexone",
        "50 mg",
        "Once daily",
        "Support groups",
        "SMART Recovery",
        "St. Mark's Hall, Room 2",
        "Relapse prevention plan",
        "Payday Fridays; old drinking friends",
        "Skipping meals",
        "Isolating from family",
        "Call my sponsor; walk the dog",
        "People I can call",
        "Marisol Vega",
        "(555) 777-1212",
        "My goals",
        "Keep my job; run a 5k",
        "My strengths",
        "Humor, persistence",
        "Client signature",
        "Clinician signature",
        "Electronically signed by Theo Rapist, LPC",
        "Completed program",
        "OP",
    ):
        assert expected in flat, expected
    assert "DRAFT" not in flat
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in page
        assert "Nguyễn Thị Ánh" in page
        assert PART2_NOTICE in " ".join(page.split())
    with env.db.session() as s:
        (disc,) = s.exec(select(Disclosure).where(Disclosure.client_id == st.client_id)).all()
        assert disc.kind == "client_copy" and disc.user_id == w.front_desk.user_id
        assert "aftercare packet" in disc.what_sent
        (ev,) = s.exec(select(AuditEvent).where(AuditEvent.action == audit.Action.PRINT)).all()
        assert ev.client_id == st.client_id and "Part 2" in ev.detail
        assert "Nguy" not in ev.detail


def test_non_part2_packet_has_no_notice_and_no_disclosure(env, tmp_path):
    st, plan_id = discharged_with_plan(env, part2=False)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    aftercare.save_plan(env.db, env.world.therapist, plan_id, view.version, full_data(view))
    finalize(env, plan_id)
    out = tmp_path / "p.pdf"
    aftercare.print_packet(env.db, env.world.admin, plan_id, out)
    assert all("42 CFR" not in p for p in pdf_pages(out))
    with env.db.session() as s:
        (disc,) = s.exec(select(Disclosure).where(Disclosure.client_id == st.client_id)).all()
        assert disc.kind == "client_copy"  # the accounting still lists the copy
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "print")).all()


def test_part2_packet_to_a_provider_needs_consent(env, tmp_path):
    from iopdesk.services.disclosures import ConsentRequired, Release

    st, plan_id = discharged_with_plan(env)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    aftercare.save_plan(env.db, env.world.therapist, plan_id, view.version, full_data(view))
    finalize(env, plan_id)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "to-provider.pdf"
    from iopdesk.services import recipients

    recipients.add_recipient(env.db, env.world.admin, "Riverbend Outpatient", type="provider")
    release = Release("disclosure", "Riverbend Outpatient", "treatment")
    with pytest.raises(ConsentRequired):
        aftercare.print_packet(env.db, env.world.front_desk, plan_id, out, release=release)
    assert list(folder.iterdir()) == []  # no file, no temporary left behind
    with env.db.session() as s:
        assert s.exec(select(Disclosure).where(Disclosure.client_id == st.client_id)).all() == []
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "print")).all() == []


@pytest.mark.parametrize(("first", "last"), UNICODE_NAMES)
def test_unicode_names_print_as_typed(env, tmp_path, first, last):
    _, plan_id = discharged_with_plan(env, first, last)
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    data = full_data(view)
    data.contacts = [ContactItem(f"{first} {last}", "Σύζυγος / супруг", "(555) 000-0000")]
    aftercare.save_plan(env.db, env.world.therapist, plan_id, view.version, data)
    out = tmp_path / "u.pdf"
    # a clinician may print a draft (it is marked DRAFT)
    aftercare.print_packet(env.db, env.world.therapist, plan_id, out)
    pages = pdf_pages(out)
    name = unicodedata.normalize("NFC", f"{first} {last}")
    for page in pages:
        assert name in page
    assert "Σύζυγος / супруг" in "\n".join(pages)
    assert "DRAFT - not yet signed by the clinician" in pages[0]


def test_empty_sections_say_none_recorded(tmp_path):
    packet = writer.Packet(
        clinic_name="Clinic", client_name="Empty Plan", dob=date(1980, 1, 1), mrn="M1"
    )
    out = tmp_path / "e.pdf"
    writer.write_pdf(packet, out)
    flat = " ".join(" ".join(pdf_pages(out)).split())
    # crisis, progress, appointments, medications, groups, 3 relapse parts, people, goals, strengths
    assert flat.count("None recorded") == 11


def test_forty_medications_and_3000_word_sections_paginate_without_loss(tmp_path):
    words = [f"w{i:04d}x" for i in range(3000)]
    long = " ".join(words)
    meds = tuple(
        writer.Medication(f"Medication-{i:02d}", f"{i} mg", "twice daily", "Dr. Long")
        for i in range(40)
    )
    packet = writer.Packet(
        clinic_name="Clinic",
        client_name="Zoë O'Brien-Ólafsdóttir",
        dob=date(1980, 1, 1),
        mrn="M2",
        medications=meds,
        triggers=long,
        coping_strategies=long.replace("x", "y"),
        progress=(("Goal one", long.replace("x", "z")),),
        groups=(writer.SupportGroup("Group with a very long place", "Mon", "7 PM", long[:5000]),),
        part2=True,
        status="finalized",
        clinician="Dr. C",
    )
    out = tmp_path / "long.pdf"
    n = writer.write_pdf(packet, out)
    pages = pdf_pages(out)
    assert n == len(pages) >= 10
    tokens = set(" ".join(pages).split())
    for suffix in ("x", "y", "z"):
        missing = [w for w in words if w.replace("x", suffix) not in tokens]
        assert missing == [], missing[:5]
    for i in range(40):
        assert f"Medication-{i:02d}" in tokens
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in page
        assert "Zoë O'Brien-Ólafsdóttir" in page
        assert PART2_NOTICE in " ".join(page.split())


def test_spanish_packet(env, tmp_path):
    _, plan_id = discharged_with_plan(env, "Rosa", "Martínez", language="Spanish")
    view = aftercare.get_plan(env.db, env.world.therapist, plan_id)
    data = full_data(view)
    data.coping_strategies = "Llamar a mi madrina"
    aftercare.save_plan(env.db, env.world.therapist, plan_id, view.version, data)
    finalize(env, plan_id)
    out = tmp_path / "es.pdf"
    result = aftercare.print_packet(env.db, env.world.front_desk, plan_id, out)
    assert result.language == "es"
    pages = pdf_pages(out)
    flat = " ".join(" ".join(pages).split())
    for label in (
        "Plan de cuidado posterior",
        "Recursos en caso de crisis",
        "Citas de seguimiento",
        "Medicamentos",
        "Grupos de apoyo",
        "Plan de prevención de recaídas",
        "Señales de alerta",
        "Personas a quienes puedo llamar",
        "Mis metas",
        "Mis fortalezas",
        "Firma del cliente",
        "Fecha de nacimiento",
        "5 de abril de 1991",
        "jueves, 3 de diciembre de 2026 14:30",
        "Llamar a mi madrina",  # clinician text as entered
        "Naltrexone",
    ):
        assert label in flat, label
    assert "Follow-up appointments" not in flat
    spanish_notice = writer.translator("es")(PART2_NOTICE)
    for i, page in enumerate(pages, start=1):
        assert f"Página {i} de {len(pages)}" in page
        assert spanish_notice in " ".join(page.split())  # the notice in the packet's language
        assert PART2_NOTICE not in " ".join(page.split())
    # the clinic can still print an English copy (for the receiving provider)
    en = aftercare.print_packet(
        env.db, env.world.front_desk, plan_id, tmp_path / "en.pdf", language="en"
    )
    assert "Follow-up appointments" in " ".join(pdf_pages(en.path))


def test_print_refuses_bad_paths_plainly(env, tmp_path):
    _, plan_id = discharged_with_plan(env)
    with pytest.raises(ValidationError, match=r"\.pdf"):
        aftercare.print_packet(env.db, env.world.therapist, plan_id, tmp_path / "p.docx")
    with pytest.raises(ValidationError, match="does not exist"):
        aftercare.print_packet(env.db, env.world.therapist, plan_id, tmp_path / "no" / "p.pdf")
    with pytest.raises(PermissionDenied):
        aftercare.print_packet(env.db, env.world.billing, plan_id, tmp_path / "p.pdf")


def test_plan_for_mrn_prefers_the_finalized_plan(env):
    st, plan_id = discharged_with_plan(env)
    with env.db.session() as s:
        mrn = s.get(Client, st.client_id).mrn
    assert aftercare.plan_for_mrn(env.db, env.world.admin, mrn) == plan_id
    from iopdesk.errors import NotFoundError

    with pytest.raises(NotFoundError, match="No client has the MRN"):
        aftercare.plan_for_mrn(env.db, env.world.admin, "NOPE-1")


def test_logo_from_clinic_settings_prints(tmp_path):
    from PySide6.QtGui import QColor, QImage

    img = QImage(120, 60, QImage.Format.Format_RGB32)
    img.fill(QColor("#2D5B8A"))
    logo = tmp_path / "logo.png"
    img.save(str(logo))
    packet = writer.Packet(
        clinic_name="Logo Clinic",
        client_name="A B",
        dob=date(1980, 1, 1),
        mrn="M3",
        logo_png=logo.read_bytes(),
    )
    out = tmp_path / "logo.pdf"
    writer.write_pdf(packet, out)
    assert PdfReader(str(out)).pages[0].images  # the logo is on the letterhead


# -- the command line, on the demo clinic (the release smoke test prints from it) ----------------
def test_cli_prints_a_demo_packet(tmp_path):
    from iopdesk.db import Database, DbTarget
    from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
    from iopdesk.models import AftercarePlan
    from tests.test_cli import PASSPHRASE, assert_one_clear_line, iopdesk

    path = tmp_path / "demo" / "iopdesk.db"
    path.parent.mkdir()
    db = Database.open(
        DbTarget(path=path), create=True, passphrase_provider=lambda creating: PASSPHRASE
    )
    try:
        create_demo_clinic(db)
        with db.session() as s:
            plans = s.exec(select(AftercarePlan)).all()
            assert {p.status for p in plans} == {"draft", "finalized"}
            final = next(p for p in plans if p.status == "finalized")
            mrn = s.get(Client, final.client_id).mrn
            draft = next(p for p in plans if p.status == "draft")
            draft_mrn = s.get(Client, draft.client_id).mrn
    finally:
        db.close()
    out = tmp_path / "packet.pdf"
    base = ("--db", str(path), "--user", "admin", "print", "aftercare")
    proc = iopdesk(tmp_path, *base, "--client", mrn, "-o", str(out), IOPDESK_PASSWORD=DEMO_PASSWORD)
    assert proc.returncode == 0, proc.stderr
    assert f"Wrote the aftercare packet for {mrn}" in proc.stdout
    pages = pdf_pages(out)
    first = " ".join(pages[0].split())
    assert mrn in first
    assert "Crisis resources" in first or "Recursos en caso de crisis" in first
    # the positional form of the issue works too
    out2 = tmp_path / "again.pdf"
    proc = iopdesk(tmp_path, *base, mrn, "-o", str(out2), IOPDESK_PASSWORD=DEMO_PASSWORD)
    assert proc.returncode == 0 and out2.exists()
    bad = iopdesk(
        tmp_path, *base, "--client", "NOPE", "-o", str(out), IOPDESK_PASSWORD=DEMO_PASSWORD
    )
    assert_one_clear_line(bad, "No client has the MRN 'NOPE'")
    # the administrator cannot print a plan the clinician has not signed
    drafted = iopdesk(
        tmp_path, *base, draft_mrn, "-o", str(tmp_path / "d.pdf"), IOPDESK_PASSWORD=DEMO_PASSWORD
    )
    if drafted.returncode != 0:  # the client may also have an older finalized plan
        assert_one_clear_line(drafted, "still a draft")
    missing = iopdesk(tmp_path, *base, "-o", str(out), IOPDESK_PASSWORD=DEMO_PASSWORD)
    assert_one_clear_line(missing, "MRN")


# -- the Spanish packet is all Spanish (issue 20 item 14) --------------------------------------
def _english_catalogue() -> set[str]:
    """Every fixed English string the packet can print: labels and fixed text, pick-list terms,
    the shipped crisis resources, discharge types, weekday and month names, AM/PM. Strings
    that also occur in the Spanish text as they are (e.g. "IOP" in "(IOP)") are left out."""
    import json

    from babel.dates import get_day_names, get_month_names

    from iopdesk.paths import resource_path

    es = json.loads(resource_path("aftercare_es.json").read_text(encoding="utf-8"))
    labels = {k: v for k, v in es.items() if not k.startswith("_")}
    pairs = dict(labels)
    for group in es["_terms"].values():
        pairs.update(group)
    crisis = json.loads(resource_path("crisis_resources.json").read_text(encoding="utf-8"))
    for r in crisis["resources"]:
        for key in ("name", "contact", "description"):
            pairs[r[key]] = r["es"][key]
    for label in writer.DISCHARGE_TYPES.values():
        pairs.setdefault(label, labels[label])
    english = set(pairs) | {"AM", "PM"}
    english |= set(get_day_names("wide", locale="en").values())
    english |= set(get_month_names("wide", locale="en").values())
    spanish_text = " ".join(pairs.values())
    return {
        e
        for e in english
        if len(e) > 1 and not re.search(rf"(?<!\w){re.escape(e)}(?!\w)", spanish_text)
    }


def _pdftotext(path: Path) -> str:
    import shutil
    import subprocess

    exe = shutil.which("pdftotext")
    assert exe is not None, "pdftotext (poppler-utils) is needed"
    out = subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return " ".join(unicodedata.normalize("NFC", out.stdout.decode("utf-8")).split())


def test_spanish_packet_has_no_english_fixed_text(env, tmp_path):
    """The issue's examples (crisis lines, "Medication management", "At bedtime", "Sister",
    "Wednesday 6:00 PM") all print in Spanish; what the clinician typed prints as typed."""
    st = admitted_client(env, "Rosa", "Martínez")
    with env.db.session() as s:
        c = s.get(Client, st.client_id)
        c.part2, c.primary_language, c.version = True, "Spanish", c.version + 1
        s.add(c)
    r = discharge.discharge_client(
        env.db,
        env.world.therapist,
        st.client_id,
        version_of(env, st.client_id),
        good_input(
            st,
            summary="Completó 6 semanas del programa.",
            step_down_level="Peer support only",
            goals=[],
        ),
    )
    view = aftercare.get_plan(env.db, env.world.therapist, r.plan_id)
    data = view.data
    data.triggers = "Los viernes de pago"
    data.warning_signs = "Aislarme de mi familia"
    data.coping_strategies = "Llamar a mi madrina"
    data.client_goals = "Conservar mi trabajo"
    data.strengths = "Perseverancia"
    data.appointments = [
        AppointmentItem("Dr. Priya Raman", "Medication management", date(2026, 12, 2), time(18, 0)),
        AppointmentItem("Clínica Esperanza", "psychiatry follow-up", date(2026, 12, 9)),
    ]
    data.medications = [
        MedicationItem("Trazodone", "50 mg", "At bedtime", "Dr. Raman"),
        MedicationItem("Naltrexone", "50 mg", "Once a day", "Dr. Raman"),
    ]
    data.groups = [
        GroupItem("Grupo Esperanza", "Wednesday", "6:00 PM", "Biblioteca, sala B"),
        GroupItem("AA Amanecer", "Monday to Friday", "7:00 AM", "Iglesia Gracia"),
    ]
    data.contacts = [
        ContactItem("Marisol Vega", "Sister", "(555) 777-1212"),
        ContactItem("Beto Ruiz", "Sponsor", "(555) 777-3434"),
    ]
    aftercare.save_plan(env.db, env.world.therapist, r.plan_id, view.version, data)
    finalize(env, r.plan_id)
    out = tmp_path / "es.pdf"
    assert aftercare.print_packet(env.db, env.world.front_desk, r.plan_id, out).language == "es"
    text = _pdftotext(out)
    catalogue = _english_catalogue()
    for must in ("Medication management", "At bedtime", "Sister", "Wednesday", "PM"):
        assert must in catalogue
    found = sorted(e for e in catalogue if re.search(rf"(?<!\w){re.escape(e)}(?!\w)", text))
    assert found == [], f"English in the Spanish packet: {found}"
    for spanish in (
        "Llame o envíe un mensaje de texto al 988",
        "Apoyo gratuito y confidencial las 24 horas del día",
        "Control de medicamentos",
        "Seguimiento de psiquiatría",  # any letter case of a pick-list value
        "Al acostarse",
        "Una vez al día",
        "Hermana",
        "Padrino o madrina",
        "miércoles",
        "18:00",
        "lunes a viernes",
        "7:00",
        "miércoles, 2 de diciembre de 2026 18:00",
        "Solo apoyo entre pares",
        "Completó el programa",
        "42 CFR parte 2 prohíbe",
    ):
        assert spanish in text, spanish
    # typed free text prints as typed
    for typed in ("Dr. Priya Raman", "Trazodone", "Grupo Esperanza", "Llamar a mi madrina"):
        assert typed in text
    # the English packet of the same plan keeps the English terms (Babel's English calendar)
    en = aftercare.print_packet(
        env.db, env.world.front_desk, r.plan_id, tmp_path / "en.pdf", language="en"
    )
    english = _pdftotext(en.path)
    for phrase in ("Medication management", "At bedtime", "Sister", "Wednesday", "6:00 PM"):
        assert phrase in english
    assert "Wednesday, December 2, 2026 6:00 PM" in english


def test_pick_list_values_translate_only_when_exact() -> None:
    assert writer.term("Sister", "es", "relationships") == "Hermana"
    assert writer.term("  sister ", "es", "relationships") == "Hermana"
    assert writer.term("Sister-in-law", "es", "relationships") == "Sister-in-law"  # typed
    assert writer.term("Sister", "en", "relationships") == "Sister"
    assert writer.day_text("Tue & Thu", "es") == "martes y jueves"
    assert writer.day_text("Wednesdays", "es") == "miércoles"
    assert writer.day_text("Second Tuesday of the month", "es") == "Second Tuesday of the month"
    assert writer.time_text("6:30 p.m.", "es") == "18:30"
    assert writer.time_text("12:00 AM", "es") == "0:00"
    assert writer.time_text("after dinner", "es") == "after dinner"
    assert writer.long_date(date(1991, 4, 5), "es") == "5 de abril de 1991"
    assert writer.long_date(date(1991, 4, 5), "en") == "April 5, 1991"
