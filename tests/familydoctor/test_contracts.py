"""Contracts (issue 7, FD-03): signing with a team for a year at any member institution, one
contract in force at a time, consent on paper or on the tablet, renewal, termination, expiry."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from countycare.core.errors import Conflict, IllegalTransition, ValidationError
from countycare.core.models import AuditEntry
from countycare.familydoctor import selectors, services
from countycare.familydoctor.models import Contract, ContractTransition, TeamMember
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db


def aware(day, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_sign_for_a_year_with_consent_and_history(
    village_doctor, residents, team_a, sign, packages
):
    resident = residents["a1"]
    contract = sign(village_doctor, resident, team_a)
    today = timezone.localdate()
    assert contract.status == "active"
    assert contract.start_on == today
    # 12 months (policy familydoctor_contract_months): to the day before the anniversary.
    anniversary = (
        today.replace(year=today.year + 1)
        if not (today.month == 2 and today.day == 29)
        else dt.date(today.year + 1, 3, 1)
    )
    assert contract.end_on == anniversary - dt.timedelta(days=1)
    assert contract.fee_total == Decimal("120.00")
    # FD-03: signed at the village clinic, with the township's team.
    assert contract.signing_institution == village_doctor.roles.get().institution
    assert contract.doctor == team_a.members.get(is_leader=True).staff
    assert contract.consent_method == "tablet"
    assert contract.consent_file.read().startswith(b"\x89PNG")
    assert len(contract.consent_sha256) == 64
    assert list(contract.transitions.values_list("from_status", "to_status")) == [("", "active")]
    assert AuditEntry.objects.filter(action="create", object_type="familydoctor.contract",
                                     resident_id=resident.pk).exists()  # fmt: skip
    assert selectors.is_contracted(resident.pk)


def test_paid_packages_add_to_the_fee_and_must_fit_the_resident(
    village_doctor, township_doctor, residents, team_a, sign, hypertensive
):
    contract = sign(village_doctor, hypertensive, team_a, extra=("hypertension",))
    assert contract.fee_total == Decimal("180.00")
    assert set(contract.lines.values_list("package__code", "fee")) == {
        ("BASIC", Decimal("120.00")), ("HTN", Decimal("60.00"))
    }  # fmt: skip
    other = residents["a2"]  # 53 years old, no key population
    with pytest.raises(ValidationError) as err:
        sign(township_doctor, other, team_a, extra=("elderly",))
    assert err.value.code == "package_not_for_resident"
    assert not Contract.objects.filter(resident=other).exists()


def test_exactly_one_basic_package(village_doctor, residents, team_a, packages, signature):
    for chosen in ([], [packages["hypertension"].pk]):
        with pytest.raises(ValidationError) as err:
            services.sign_contract(
                village_doctor, resident=residents["a1"].pk, team=team_a.pk, packages=chosen,
                consent_method="tablet", consent=signature,
            )  # fmt: skip
        assert err.value.field == "packages"
    assert not Contract.objects.exists()


def test_a_second_contract_in_force_is_refused_and_nothing_is_written(
    village_doctor, township_doctor, residents, team_a, sign, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    first = sign(village_doctor, residents["a1"], team_a)
    files = {p for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(Conflict) as err:
        sign(township_doctor, residents["a1"], team_a)
    assert err.value.code == "contract_exists"
    assert first.number in str(err.value.message)
    assert Contract.objects.count() == 1
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == files  # no orphan consent file


def test_resident_outside_the_teams_villages(village_doctor_b1, residents, team_a, sign):
    with pytest.raises(ValidationError) as err:
        sign(village_doctor_b1, residents["b1"], team_a)
    assert err.value.code == "outside_team_villages"
    assert "乙一村卫生室" in str(err.value.message)
    assert not Contract.objects.exists()


def test_resident_outside_the_signers_area_is_unknown(village_doctor, residents, team_b, sign):
    with pytest.raises(ValidationError) as err:
        sign(village_doctor, residents["b1"], team_b)
    assert err.value.code == "unknown_resident"


def test_the_doctor_must_be_a_member(village_doctor, village_doctor_b1, residents, team_a, sign):
    with pytest.raises(ValidationError) as err:
        sign(village_doctor, residents["a1"], team_a, doctor=village_doctor_b1.pk)
    assert err.value.code == "not_a_member"
    member = team_a.members.get(staff=village_doctor)
    assert (
        sign(village_doctor, residents["a1"], team_a, doctor=village_doctor.pk).doctor_id
        == member.staff_id
    )


def test_no_start_in_the_future_nor_long_ago(village_doctor, residents, team_a, sign):
    today = timezone.localdate()
    for day, code in (
        (today + dt.timedelta(days=1), "future"),
        (today - dt.timedelta(days=40), "too_old"),
    ):
        with pytest.raises(ValidationError) as err:
            sign(village_doctor, residents["a1"], team_a, start_on=day)
        assert err.value.code == code


def test_consent_is_checked_by_content(village_doctor, residents, team_a, packages, paper_scan):
    def attempt(method, consent):
        return services.sign_contract(
            village_doctor, resident=residents["a1"].pk, team=team_a.pk,
            packages=[packages["basic"].pk], consent_method=method, consent=consent,
        )  # fmt: skip

    for method, consent, code in (
        ("tablet", None, "required"),
        ("tablet", "data:image/jpeg;base64,AAAA", "bad_file"),
        ("tablet", "data:image/png;base64,not-base64!", "bad_file"),
        ("paper", SimpleUploadedFile("x.png", b""), "empty"),
        ("paper", SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 100), "unsupported_type"),
        ("paper", SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "bad_file"),
    ):
        with pytest.raises(ValidationError) as err:
            attempt(method, consent)
        assert (err.value.code, err.value.field) == (code, "consent"), consent
    pdf = SimpleUploadedFile("scan.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    contract = attempt("paper", pdf)
    assert contract.consent_file.name.endswith(".pdf")
    assert Contract.objects.count() == 1


def test_renewal_from_the_window_on(village_doctor, residents, team_a, sign, signature):
    today = timezone.localdate()
    start = today - dt.timedelta(days=330)
    old = sign(village_doctor, residents["a1"], team_a, now=aware(start))
    # 60 days before the end is too early... (policy familydoctor_renewal_window_days)
    with pytest.raises(ValidationError) as err:
        services.renew_contract(village_doctor, old.pk, consent_method="tablet", consent=signature,
                                now=aware(old.end_on - dt.timedelta(days=61)))  # fmt: skip
    assert err.value.code == "too_early"
    new = services.renew_contract(
        village_doctor, old.pk, consent_method="tablet", consent=signature
    )
    old.refresh_from_db()
    assert old.status == "renewed"
    assert new.renewed_from == old and new.status == "active"
    assert new.start_on == old.end_on + dt.timedelta(days=1)
    assert list(new.lines.values_list("package__code", flat=True)) == ["BASIC"]
    with pytest.raises(IllegalTransition):
        services.renew_contract(village_doctor, old.pk, consent_method="tablet", consent=signature)
    # The renewal does not count as a second contract: today the old one is in force.
    assert selectors.contract_in_force(village_doctor, residents["a1"]) == old


def test_lapsed_contract_renews_from_today(village_doctor, residents, team_a, sign, signature):
    today = timezone.localdate()
    old = sign(village_doctor, residents["a1"], team_a, now=aware(today - dt.timedelta(days=400)))
    new = services.renew_contract(
        village_doctor, old.pk, consent_method="tablet", consent=signature
    )
    old.refresh_from_db()
    assert old.status == "expired"
    assert new.start_on == today


def test_termination_ends_the_contract_and_its_renewal(
    village_doctor, residents, team_a, sign, signature
):
    today = timezone.localdate()
    old = sign(village_doctor, residents["a1"], team_a, now=aware(today - dt.timedelta(days=340)))
    renewal = services.renew_contract(
        village_doctor, old.pk, consent_method="tablet", consent=signature
    )
    with pytest.raises(ValidationError) as err:
        services.terminate_contract(village_doctor, old.pk, reason="other", note="")
    assert err.value.field == "note"
    with pytest.raises(ValidationError):
        services.terminate_contract(
            village_doctor, old.pk, reason="moved", on=today + dt.timedelta(days=1)
        )
    services.terminate_contract(village_doctor, old.pk, reason="moved", note="迁往东胜区")
    old.refresh_from_db()
    renewal.refresh_from_db()
    assert (old.status, old.end_on, old.planned_end_on > today) == ("terminated", today, True)
    assert renewal.status == "terminated" and renewal.end_on < renewal.start_on  # never in force
    assert old.termination_reason == "moved"
    assert ContractTransition.objects.filter(contract=old, to_status="terminated").count() == 1
    with pytest.raises(IllegalTransition):
        services.terminate_contract(village_doctor, old.pk, reason="moved")
    # Terminated: a new contract may be signed from tomorrow (today the old one still holds).
    assert selectors.contract_in_force(village_doctor, residents["a1"], today) == old
    assert (
        selectors.contract_in_force(village_doctor, residents["a1"], today + dt.timedelta(days=1))
        is None
    )


def test_expiry_task_moves_lapsed_contracts(
    village_doctor, township_doctor, residents, team_a, sign
):
    today = timezone.localdate()
    old = sign(village_doctor, residents["a1"], team_a, now=aware(today - dt.timedelta(days=400)))
    current = sign(township_doctor, residents["a2"], team_a)
    assert services.expire_contracts() == 1
    old.refresh_from_db()
    current.refresh_from_db()
    assert (old.status, current.status) == ("expired", "active")
    transition = old.transitions.get(to_status="expired")
    assert transition.actor is None


def test_signing_again_after_lapse_expires_the_old_one(village_doctor, residents, team_a, sign):
    today = timezone.localdate()
    old = sign(village_doctor, residents["a1"], team_a, now=aware(today - dt.timedelta(days=400)))
    new = sign(village_doctor, residents["a1"], team_a)
    old.refresh_from_db()
    assert old.status == "expired" and new.status == "active"


def test_deceased_resident_cannot_sign(village_doctor, tree, team_a, sign):
    person = ResidentFactory(
        home_village=tree.village_a1, deceased_on=timezone.localdate() - dt.timedelta(days=3)
    )
    with pytest.raises(ValidationError) as err:
        sign(village_doctor, person, team_a)
    assert err.value.code == "deceased"


def test_team_members_count_as_family_doctors_for_reserved_slots(
    village_doctor, specialist, team_a
):
    from countycare.referrals.services import is_family_doctor

    assert is_family_doctor(village_doctor)
    TeamMember.objects.create(team=team_a, staff=specialist, function="specialist")
    assert not is_family_doctor(specialist)  # technical support is hospital staff


def test_expiry_task(village_doctor, residents, team_a, sign):
    from countycare.familydoctor.tasks import expire_contracts

    today = timezone.localdate()
    sign(village_doctor, residents["a1"], team_a, now=aware(today - dt.timedelta(days=400)))
    assert expire_contracts.delay().get() == 1
    assert Contract.objects.get().status == "expired"
