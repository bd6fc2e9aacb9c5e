"""The resident registry's services: registration rules, key-population tags, updates. Each
error names the field and the check that failed, and leaves nothing written."""

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core import crypto
from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.core.models import AuditEntry
from countycare.residents import services
from countycare.residents.models import KeyPopulationTag, Resident
from tests.factories import (
    InstitutionFactory,
    KeyPopulationTagFactory,
    StaffFactory,
    national_id,
    with_role,
)

pytestmark = pytest.mark.django_db

BIRTH = dt.date(1985, 7, 9)


@pytest.fixture
def number():
    return national_id(BIRTH, "F")


def register(actor, village, **kwargs):
    kwargs.setdefault("national_id", national_id(BIRTH, "F"))
    kwargs.setdefault("name", "李秀英")
    return services.register_resident(actor=actor, home_village=village, **kwargs)


def assert_nothing_written():
    assert not Resident.objects.exists()
    assert not KeyPopulationTag.objects.exists()
    assert not AuditEntry.objects.exists()


# --- Registration ---------------------------------------------------------------------------


def test_registration_derives_sex_and_birth_date_and_protects_the_id(village_doctor, tree, number):
    resident = register(village_doctor, tree.village_a1, national_id=number, phone="139 1234 5678")
    resident.refresh_from_db()
    assert (resident.sex, resident.birth_date) == ("F", BIRTH)
    assert resident.national_id == number
    assert resident.national_id_hash == crypto.lookup_hash(number)
    assert resident.national_id_masked == number[:4] + "*" * 10 + number[-4:]
    assert (resident.name_pinyin, resident.name_initials) == ("lixiuying", "lxy")
    assert resident.phone == "13912345678"
    assert resident.registered_by == village_doctor
    assert resident.home_village == tree.village_a1
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.resident_id) == ("create", resident.pk)


def test_the_id_is_encrypted_in_the_table(village_doctor, tree, number):
    from django.db import connection

    resident = register(village_doctor, tree.village_a1, national_id=number)
    with connection.cursor() as cursor:
        cursor.execute("SELECT national_id FROM residents_resident WHERE id = %s", [resident.pk])
        stored = cursor.fetchone()[0]
    assert number not in stored
    assert crypto.decrypt(stored) == number


def test_given_sex_and_birth_date_that_agree_are_accepted(village_doctor, tree, number):
    resident = register(
        village_doctor, tree.village_a1, national_id=number, sex="F", birth_date=BIRTH
    )
    assert resident.pk


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("15062719850709", "length"),
        ("1506271985070900AX", "characters"),
        ("990627198507090027", "region"),
        ("150627198502300027", "birth_date"),
        ("150627198507090020", "check_digit"),
    ],
)
def test_an_invalid_id_names_the_failed_check(village_doctor, tree, raw, code):
    with pytest.raises(ValidationError) as info:
        register(village_doctor, tree.village_a1, national_id=raw)
    assert info.value.code == code
    assert info.value.field == "national_id"
    assert_nothing_written()


def test_sex_that_contradicts_the_id_is_refused(village_doctor, tree, number):
    with pytest.raises(ValidationError) as info:
        register(village_doctor, tree.village_a1, national_id=number, sex="M")
    assert (info.value.code, info.value.field) == ("sex_mismatch", "sex")
    assert_nothing_written()


def test_a_birth_date_that_contradicts_the_id_is_refused(village_doctor, tree, number):
    with pytest.raises(ValidationError) as info:
        register(
            village_doctor, tree.village_a1, national_id=number, birth_date=dt.date(1985, 7, 10)
        )
    assert (info.value.code, info.value.field) == ("birth_date_mismatch", "birth_date")
    assert "1985-07-09" in str(info.value.message)
    assert_nothing_written()


def test_a_duplicate_visible_to_the_actor_links_the_existing_record(village_doctor, tree, number):
    first = register(village_doctor, tree.village_a1, national_id=number, name="李秀英")
    # The same number typed with a lower-case x / full-width digits is the same person.
    retyped = number.replace("X", "x").translate({ord("1"): "１"})
    with pytest.raises(Conflict) as info:
        register(village_doctor, tree.village_a1, national_id=retyped, name="李秀")
    error = info.value.as_dict()
    assert error["code"] == "duplicate_national_id"
    assert error["existing_id"] == first.pk
    assert error["existing_url"] == f"/residents/{first.pk}/"
    assert "李秀英" in error["detail"]
    assert Resident.objects.count() == 1


def test_a_duplicate_outside_the_scope_is_reported_without_a_link(
    village_doctor, village_doctor_b1, tree, number
):
    register(village_doctor_b1, tree.village_b1, national_id=number, name="李秀英")
    entries = AuditEntry.objects.count()
    with pytest.raises(Conflict) as info:
        register(village_doctor, tree.village_a1, national_id=number, name="李秀英")
    error = info.value.as_dict()
    assert error["code"] == "duplicate_national_id"
    assert "existing_id" not in error
    assert "existing_url" not in error
    assert "李秀英" not in error["detail"]
    assert Resident.objects.count() == 1
    assert AuditEntry.objects.count() == entries


def test_unknown_out_of_scope_and_non_residence_villages_answer_the_same(village_doctor, tree):
    messages = set()
    for village in (999_999, tree.village_b1, tree.township_a, tree.village_a2, None):
        with pytest.raises(ValidationError) as info:
            register(village_doctor, village)
        assert (info.value.code, info.value.field) == ("unknown_village", "home_village")
        messages.add(str(info.value.message))
    assert len(messages) == 1
    assert_nothing_written()


def test_a_village_that_is_not_an_id_is_unknown(village_doctor):
    for junk in ("abc", "1.5", object()):
        with pytest.raises(ValidationError) as info:
            register(village_doctor, junk)
        assert info.value.code == "unknown_village"
    assert_nothing_written()


def test_an_inactive_village_is_unknown(village_doctor, tree):
    village = InstitutionFactory(parent=tree.village_a1, type="village", is_active=False)
    with pytest.raises(ValidationError) as info:
        register(village_doctor, village)
    assert info.value.code == "unknown_village"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "   ", "required"),
        ("name", "名" * 51, "too_long"),
        ("phone", "12ab", "phone"),
        ("phone", "123456", "phone"),
        ("ethnicity", "99", "invalid_choice"),
        ("relation_to_head", "cousin", "invalid_choice"),
    ],
)
def test_field_rules(village_doctor, tree, field, value, code):
    with pytest.raises(ValidationError) as info:
        register(village_doctor, tree.village_a1, **{field: value})
    assert (info.value.field, info.value.code) == (field, code)
    assert_nothing_written()


def test_a_role_without_the_permission_cannot_register(health_commission_viewer, tree):
    with pytest.raises(PermissionDenied):
        register(health_commission_viewer, tree.village_a1)
    assert_nothing_written()


def test_tags_given_at_registration_are_declared_in_the_same_transaction(village_doctor, tree):
    resident = register(
        village_doctor,
        tree.village_a1,
        tags=[{"tag": "hypertension", "source": "screening"}],
    )
    assert list(resident.tags.values_list("tag", flat=True)) == ["hypertension"]


def test_a_bad_tag_at_registration_leaves_no_resident(village_doctor, tree):
    with pytest.raises(ValidationError) as info:
        register(village_doctor, tree.village_a1, tags=[{"tag": "elderly", "source": "x"}])
    assert info.value.field == "tag"
    assert_nothing_written()


# --- Key-population tags --------------------------------------------------------------------


@pytest.fixture
def resident(residents):
    return residents["a1"]


def test_declare_a_tag(village_doctor, resident):
    tag = services.declare_tag(
        actor=village_doctor,
        resident=resident,
        tag="type2_diabetes",
        source=" hospital diagnosis ",
        recorded_on=dt.date(2024, 3, 1),
        note="HbA1c 7.9",
    )
    tag.refresh_from_db()
    assert (tag.tag, tag.source, tag.recorded_on, tag.recorded_by) == (
        "type2_diabetes",
        "hospital diagnosis",
        dt.date(2024, 3, 1),
        village_doctor,
    )
    assert tag.ended_on is None


@pytest.mark.parametrize("derived", ["elderly", "child", "unknown"])
def test_only_declared_populations_can_be_tagged(village_doctor, resident, derived):
    with pytest.raises(ValidationError) as info:
        services.declare_tag(actor=village_doctor, resident=resident, tag=derived, source="x")
    assert (info.value.code, info.value.field) == ("invalid_tag", "tag")
    assert not KeyPopulationTag.objects.exists()


def test_a_tag_needs_a_source_and_a_date_not_in_the_future(village_doctor, resident):
    with pytest.raises(ValidationError) as info:
        services.declare_tag(actor=village_doctor, resident=resident, tag="disabled", source=" ")
    assert info.value.field == "source"
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        services.declare_tag(
            actor=village_doctor,
            resident=resident,
            tag="disabled",
            source="x",
            recorded_on=tomorrow,
        )
    assert (info.value.code, info.value.field) == ("future_date", "recorded_on")
    assert not KeyPopulationTag.objects.exists()


def test_a_second_open_tag_is_a_conflict_until_the_first_ends(village_doctor, resident):
    first = services.declare_tag(
        actor=village_doctor, resident=resident, tag="pregnant", source="antenatal visit"
    )
    with pytest.raises(Conflict) as info:
        services.declare_tag(actor=village_doctor, resident=resident, tag="pregnant", source="x")
    assert info.value.code == "duplicate_tag"
    services.end_tag(actor=village_doctor, tag=first, reason="delivered")
    second = services.declare_tag(
        actor=village_doctor, resident=resident, tag="pregnant", source="antenatal visit"
    )
    assert second.pk != first.pk
    assert KeyPopulationTag.objects.filter(ended_on__isnull=True).get() == second


def test_end_a_tag(village_doctor, resident):
    tag = KeyPopulationTagFactory(resident=resident, recorded_on=dt.date(2024, 1, 1))
    services.end_tag(
        actor=village_doctor, tag=tag, reason=" recovered ", ended_on=dt.date(2024, 6, 1)
    )
    tag.refresh_from_db()
    assert (tag.ended_on, tag.end_reason) == (dt.date(2024, 6, 1), "recovered")
    with pytest.raises(Conflict) as info:
        services.end_tag(actor=village_doctor, tag=tag, reason="again")
    assert info.value.code == "already_ended"


def test_a_tag_cannot_end_before_it_was_recorded(village_doctor, resident):
    tag = KeyPopulationTagFactory(resident=resident, recorded_on=dt.date(2024, 1, 1))
    with pytest.raises(ValidationError) as info:
        services.end_tag(actor=village_doctor, tag=tag, reason="x", ended_on=dt.date(2023, 1, 1))
    assert info.value.field == "ended_on"
    tag.refresh_from_db()
    assert tag.ended_on is None


def test_a_tag_cannot_end_in_the_future(village_doctor, resident):
    tag = KeyPopulationTagFactory(resident=resident)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        services.end_tag(actor=village_doctor, tag=tag, reason="x", ended_on=tomorrow)
    assert (info.value.code, info.value.field) == ("future_date", "ended_on")
    tag.refresh_from_db()
    assert tag.ended_on is None


def test_tags_outside_the_scope_cannot_be_touched(village_doctor, residents):
    b1 = residents["b1"]
    with pytest.raises(PermissionDenied):
        services.declare_tag(actor=village_doctor, resident=b1, tag="disabled", source="x")
    tag = KeyPopulationTagFactory(resident=b1)
    with pytest.raises(KeyPopulationTag.DoesNotExist):
        services.end_tag(actor=village_doctor, tag=tag, reason="x")
    tag.refresh_from_db()
    assert tag.ended_on is None


def test_tagging_needs_the_permission(tree, resident):
    reader = StaffFactory()
    with_role(reader, "center_reader", tree.village_a1)  # sees a1, may not tag
    with pytest.raises(PermissionDenied):
        services.declare_tag(actor=reader, resident=resident, tag="disabled", source="x")


# --- Update ---------------------------------------------------------------------------------


def test_update_recomputes_pinyin_and_audits_the_changed_fields(township_doctor, resident, tree):
    services.update_resident(
        actor=township_doctor,
        resident=resident,
        name="王芳",
        phone="13800001111",
        home_village=tree.village_a2,
    )
    resident.refresh_from_db()
    assert (resident.name, resident.name_pinyin, resident.name_initials) == (
        "王芳",
        "wangfang",
        "wf",
    )
    assert resident.home_village == tree.village_a2
    entry = AuditEntry.objects.get(action="update")
    assert entry.detail["changed"]["name"] == ["张安民", "王芳"]
    assert entry.detail["changed"]["home_village"] == [tree.village_a1.name, tree.village_a2.name]


def test_update_cannot_move_a_resident_out_of_the_scope(village_doctor, resident, tree):
    with pytest.raises(ValidationError) as info:
        services.update_resident(
            actor=village_doctor, resident=resident, home_village=tree.village_b1
        )
    assert info.value.code == "unknown_village"
    resident.refresh_from_db()
    assert resident.home_village == tree.village_a1
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("field", ["national_id", "sex", "birth_date", "registered_by"])
def test_identity_fields_are_not_editable(village_doctor, resident, field):
    with pytest.raises(ValidationError) as info:
        services.update_resident(actor=village_doctor, resident=resident, **{field: "x"})
    assert info.value.code == "not_editable"
    assert field in str(info.value.message)


def test_update_rules(village_doctor, resident):
    with pytest.raises(ValidationError) as info:
        services.update_resident(actor=village_doctor, resident=resident, phone="abc")
    assert info.value.field == "phone"
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        services.update_resident(actor=village_doctor, resident=resident, deceased_on=tomorrow)
    assert info.value.field == "deceased_on"
    before_birth = resident.birth_date - dt.timedelta(days=1)
    with pytest.raises(ValidationError):
        services.update_resident(actor=village_doctor, resident=resident, deceased_on=before_birth)
    resident.refresh_from_db()
    assert resident.deceased_on is None
    assert not AuditEntry.objects.exists()


def test_update_needs_the_permission_and_the_scope(tree, residents, village_doctor):
    nurse = StaffFactory()
    with_role(nurse, "nurse", tree.village_a1)
    with pytest.raises(PermissionDenied):
        services.update_resident(actor=nurse, resident=residents["a1"], phone="13800001111")
    with pytest.raises(Resident.DoesNotExist):
        services.update_resident(
            actor=village_doctor, resident=residents["b1"], phone="13800001111"
        )
    residents["b1"].refresh_from_db()
    assert residents["b1"].phone != "13800001111"
