"""Typed-in results of devices without HL7: glucose meter and urine strip (issue 5, SHC-03),
validated like the analyzers' results — platform ranges, flags, critical values — saved once,
scoped to the doctor's villages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from countycare.core.errors import PermissionDenied, ValidationError
from countycare.core.models import AuditEntry
from countycare.lab import services
from countycare.lab.models import LabResult
from countycare.telemed.models import CriticalAlert, Observation

pytestmark = pytest.mark.usefixtures("glucose_ranges")


def test_a_fasting_glucose_is_flagged_by_the_platform_range(village_doctor, residents):
    """SHC-03: the same reference range as an analyzer's result (1558-6: 3.9-6.1 mmol/L)."""
    [obs] = services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="glucose_meter",
        values={"1558-6": "7.4"},
    )  # fmt: skip
    assert (obs.value, obs.unit, obs.flag, obs.source) == (Decimal("7.4"), "mmol/L", "H", "manual")
    assert (obs.reference_low, obs.reference_high) == (Decimal("3.9"), Decimal("6.1"))
    assert obs.recorded_by == village_doctor
    assert obs.institution == residents["a1"].home_village
    result = obs.lab_result
    assert (result.device, result.recognized, result.message, result.entered_by) == (
        "glucose_meter", False, None, village_doctor)  # fmt: skip
    assert AuditEntry.objects.filter(actor=village_doctor, action="create").exists()


def test_a_critical_glucose_raises_the_walking_hospital_alert(village_doctor, residents):
    """WH-07: a meter value below 2.8 mmol/L is a critical value, as from an analyzer."""
    [obs] = services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="glucose_meter",
        values={"2339-0": "2.3"},
    )  # fmt: skip
    obs.refresh_from_db()
    assert obs.is_critical and obs.flag == "LL"
    alert = CriticalAlert.objects.get(observation=obs)
    assert alert.notify == village_doctor


@pytest.mark.parametrize(
    ("value", "code"),
    [("abc", "not_a_number"), ("HI", "out_of_range"), ("45", "out_of_range"),
     ("0.5", "out_of_range"), ("6.15", "precision"), ("NaN", "not_a_number")],
)  # fmt: skip
def test_what_a_meter_cannot_show_is_refused(village_doctor, residents, value, code):
    with pytest.raises(ValidationError) as exc:
        services.enter_results(
            village_doctor, resident=residents["a1"].pk, device="glucose_meter",
            values={"1558-6": value},
        )  # fmt: skip
    assert exc.value.code == code and exc.value.field == "t_1558_6"
    assert not Observation.objects.exists() and not LabResult.objects.exists()


def test_a_urine_strip_stores_every_block_and_flags_positives(village_doctor, residents):
    made = services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="urine_strip",
        values={"5811-5": "1.025", "5803-2": "6.5", "5804-0": "++", "5792-7": "-",
                "5802-4": "+", "5818-0": "±"},
    )  # fmt: skip
    flags = {o.code: (o.value_text or str(o.value), o.flag) for o in made}
    assert flags["5804-0"] == ("++", "A")
    assert flags["5792-7"] == ("-", "N")
    assert flags["5802-4"] == ("+", "A")
    assert flags["5818-0"] == ("±", "N")  # urobilinogen ± is normal
    assert flags["5811-5"] == ("1.025", "N")  # 1.003-1.030, the platform's range


def test_a_bad_block_stores_nothing_of_the_strip(village_doctor, residents):
    with pytest.raises(ValidationError) as exc:
        services.enter_results(
            village_doctor, resident=residents["a1"].pk, device="urine_strip",
            values={"5804-0": "++", "5802-4": "+++"},  # nitrite is only - or +
        )  # fmt: skip
    assert exc.value.field == "t_5802_4"
    assert not Observation.objects.exists()


def test_future_old_and_unknown_are_refused(village_doctor, residents):
    kw = {"resident": residents["a1"].pk, "device": "glucose_meter", "values": {"1558-6": "5"}}
    later = timezone.now() + dt.timedelta(hours=1)
    with pytest.raises(ValidationError) as exc:
        services.enter_results(village_doctor, observed_at=later, **kw)
    assert exc.value.code == "future"
    with pytest.raises(ValidationError) as exc:
        services.enter_results(
            village_doctor, observed_at=timezone.now() - dt.timedelta(days=9), **kw
        )
    assert exc.value.code == "too_old"
    with pytest.raises(ValidationError):
        services.enter_results(village_doctor, **{**kw, "device": "thermometer"})
    with pytest.raises(ValidationError):
        services.enter_results(village_doctor, **{**kw, "values": {"1558-6": "5", "2339-0": "6"}})


def test_a_village_doctor_cannot_enter_for_another_village(village_doctor_b1, residents):
    """Scope: B1's doctor does not see A1's resident."""
    with pytest.raises(ValidationError) as exc:
        services.enter_results(
            village_doctor_b1, resident=residents["a1"].pk, device="glucose_meter",
            values={"1558-6": "5.0"},
        )  # fmt: skip
    assert exc.value.code == "unknown_resident"


def test_without_the_permission_nothing_is_entered(center_reader, residents):
    with pytest.raises(PermissionDenied):
        services.enter_results(
            center_reader, resident=residents["a1"].pk, device="glucose_meter",
            values={"1558-6": "5.0"},
        )  # fmt: skip


def test_a_result_on_a_lab_order(village_doctor, residents, centers):
    from countycare.telemed import services as telemed

    order = telemed.create_order(village_doctor, resident=residents["a1"].pk, service="LAB-GLU")
    [obs] = services.enter_results(
        village_doctor, resident=residents["a1"].pk, device="glucose_meter",
        values={"1558-6": "5.2"}, order=order.pk,
    )  # fmt: skip
    assert obs.order == order and obs.lab_result.order == order
    other = telemed.create_order(village_doctor, resident=residents["a1"].pk, service="ECG12")
    with pytest.raises(ValidationError) as exc:
        services.enter_results(
            village_doctor, resident=residents["a1"].pk, device="glucose_meter",
            values={"1558-6": "5.2"}, order=other.pk,
        )  # fmt: skip
    assert exc.value.code == "not_lab"


# --- the page ---------------------------------------------------------------------------------
def test_the_page_saves_once_however_often_it_is_sent(web, village_doctor, residents):
    """Tablets on weak networks resend: the form's token makes the second POST a replay."""
    client = web(village_doctor)
    url = f"/lab/entry/{residents['a1'].pk}/?device=glucose_meter"
    page = client.get(url)
    assert page.status_code == 200
    token = page.context["form"]["token"].value()
    data = {"device": "glucose_meter", "token": token, "kind": "1558-6", "value": "6.8",
            "observed_at": ""}  # fmt: skip
    first = client.post(url, data)
    again = client.post(url, data)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == f"/lab/residents/{residents['a1'].pk}/results/"
    assert Observation.objects.filter(resident=residents["a1"]).count() == 1


def test_the_page_shows_the_error_beside_the_value(web, village_doctor, residents):
    client = web(village_doctor)
    url = f"/lab/entry/{residents['a1'].pk}/"
    response = client.post(
        url, {"device": "glucose_meter", "token": "t1", "kind": "1558-6", "value": "HI"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["value"]
    error = response.context["form"].errors["value"][0]
    assert error in response.content.decode()
    assert "送检" in error  # the Chinese UI: send a sample to the lab
    assert not Observation.objects.exists()


def test_the_strip_page_and_the_search(web, village_doctor, village_doctor_b1, residents):
    client = web(village_doctor)
    response = client.post(
        f"/lab/entry/{residents['a1'].pk}/?device=urine_strip",
        {"device": "urine_strip", "token": "t2", "t_5804_0": "+", "t_5811_5": "1.020"},
    )
    assert response.status_code == 302
    assert Observation.objects.filter(resident=residents["a1"]).count() == 2
    found = client.get("/lab/entry/", {"q": "张安民"})
    assert residents["a1"].name in found.content.decode()
    # B1's doctor neither finds A1's resident nor opens the entry page for them.
    other = web(village_doctor_b1)
    link = f"/lab/entry/{residents['a1'].pk}/"
    assert link in found.content.decode()
    assert link not in other.get("/lab/entry/", {"q": "张安民"}).content.decode()
    assert other.get(f"/lab/entry/{residents['a1'].pk}/").status_code == 404
