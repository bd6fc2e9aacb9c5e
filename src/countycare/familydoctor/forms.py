"""Forms of the family-doctor pages: they parse what the browser sent. The rules are the
services'; their domain errors come back beside the field they name (``add_domain_error``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from countycare.core.errors import DomainError
from countycare.familydoctor import followup as rules
from countycare.familydoctor.models import (
    Adherence,
    CheckKind,
    ConsentMethod,
    FootPulse,
    Hypoglycemia,
    Insight,
    Level3,
    Method,
    PhysicalDisease,
    Program,
    ServicePackage,
    Severity,
    Symptoms,
    TerminationReason,
)
from countycare.residents.forms import DATE_INPUT, IdempotentForm

BLANK = [("", "—")]


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """A service's error beside its field; the measurements' errors beside each measurement."""
    errors = exc.extra.get("errors") if isinstance(exc.extra, dict) else None
    if errors:
        for name, messages in errors.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, str(message))
        return
    field = (exc.field or "").split(".")[-1] if exc.field else None
    if field and field not in form.fields and exc.field:
        field = exc.field.replace(".", "_")
    form.add_error(field if field in form.fields else None, str(exc.message))


def parse_lines(text: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """``氨氯地平片 | 5 mg | 每日1次`` per line → [{"name": …, "dose": …, "frequency": …}]."""
    out = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        if parts and parts[0]:
            row = dict(zip(keys, parts, strict=False))
            out.append({k: v for k, v in row.items() if v})
    return out


def lines_of(items: list[dict[str, str]], keys: tuple[str, ...]) -> str:
    return "\n".join(" | ".join(item.get(k, "") for k in keys).rstrip(" |") for item in items)


MED_KEYS = ("name", "dose", "frequency")
RX_KEYS = ("name", "dose", "frequency", "quantity")


class ContractForm(IdempotentForm):
    team = forms.TypedChoiceField(label=_("Family-doctor team"), coerce=int)
    doctor = forms.TypedChoiceField(
        label=_("Family doctor"), coerce=int, required=False, empty_value=None
    )
    packages = forms.TypedMultipleChoiceField(
        label=_("Service packages"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    start_on = forms.DateField(label=_("Signed on"), required=False, widget=DATE_INPUT)
    consent_method = forms.ChoiceField(
        label=_("Consent"), choices=ConsentMethod.choices, widget=forms.RadioSelect,
        initial=ConsentMethod.TABLET,
    )  # fmt: skip
    consent_file = forms.FileField(label=_("Scan of the signed paper"), required=False)
    signature = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, teams, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = list(teams)
        self.fields["team"].choices = [(t.pk, f"{t.name}（{t.institution}）") for t in teams]
        doctors = []
        for t in teams:
            for m in t.members.select_related("staff").order_by("-is_leader", "function", "pk"):
                doctors.append(
                    (
                        m.staff_id,
                        f"{m.staff.get_full_name()} · {m.get_function_display()} · {t.name}",
                    )
                )
        self.fields["doctor"].choices = [("", _("The team leader")), *doctors]
        self.fields["packages"].choices = [
            (p.pk, f"{p.name} · ¥{p.fee}") for p in ServicePackage.objects.filter(is_active=True)
        ]
        if len(teams) == 1:
            self.initial.setdefault("team", teams[0].pk)
        basic = ServicePackage.objects.filter(is_active=True, kind="basic").first()
        if basic is not None:
            self.initial.setdefault("packages", [basic.pk])

    def consent(self):
        data = self.cleaned_data
        if data["consent_method"] == ConsentMethod.TABLET:
            return data.get("signature") or None
        return data.get("consent_file")

    def payload(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("token", "consent_file")}
        upload = self.cleaned_data.get("consent_file")
        data["consent_file"] = getattr(upload, "name", "") if upload else ""
        data["signature"] = (data.get("signature") or "")[-64:]
        return data


class RenewForm(IdempotentForm):
    consent_method = forms.ChoiceField(
        label=_("Consent"), choices=ConsentMethod.choices, widget=forms.RadioSelect,
        initial=ConsentMethod.TABLET,
    )  # fmt: skip
    consent_file = forms.FileField(label=_("Scan of the signed paper"), required=False)
    signature = forms.CharField(widget=forms.HiddenInput, required=False)

    consent = ContractForm.consent
    payload = ContractForm.payload


class TerminateForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=BLANK + TerminationReason.choices)
    on = forms.DateField(label=_("Ended on"), required=False, widget=DATE_INPUT)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


def _choices(pairs) -> list[tuple[str, Any]]:
    return [(code, label) for code, label in pairs]


class FollowUpForm(IdempotentForm):
    """The follow-up record form; numbers stay text so the service reports every impossible
    value at once, in the kit's words (telemed.vitals)."""

    followed_on = forms.DateField(label=_("Date"), required=False, widget=DATE_INPUT)
    method = forms.ChoiceField(label=_("How"), choices=Method.choices, initial=Method.CLINIC)
    visit = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    systolic_bp = forms.CharField(label=_("Systolic BP"), required=False, max_length=10)
    diastolic_bp = forms.CharField(label=_("Diastolic BP"), required=False, max_length=10)
    heart_rate = forms.CharField(label=_("Heart rate"), required=False, max_length=10)
    temperature = forms.CharField(label=_("Temperature"), required=False, max_length=10)
    height = forms.CharField(label=_("Height"), required=False, max_length=10)
    weight = forms.CharField(label=_("Weight"), required=False, max_length=10)
    waist = forms.CharField(label=_("Waist"), required=False, max_length=10)
    fasting_glucose = forms.CharField(label=_("Fasting glucose"), required=False, max_length=10)
    random_glucose = forms.CharField(label=_("Random glucose"), required=False, max_length=10)
    hba1c = forms.CharField(label=_("HbA1c"), required=False, max_length=10)
    foot_pulse = forms.ChoiceField(
        label=_("Dorsal foot artery pulse"), choices=BLANK + FootPulse.choices, required=False
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms since the last follow-up"), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    other_symptoms = forms.CharField(label=_("Other symptoms"), required=False, max_length=200)
    danger_signs = forms.MultipleChoiceField(
        label=_("Danger signs (refer at once)"), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    smoking_per_day = forms.CharField(label=_("Cigarettes a day"), required=False, max_length=5)
    drinking_per_day = forms.CharField(
        label=_("Alcohol a day (liang)"), required=False, max_length=5
    )
    exercise_per_week = forms.CharField(
        label=_("Exercise sessions a week"), required=False, max_length=5
    )
    exercise_minutes = forms.CharField(label=_("Minutes each time"), required=False, max_length=5)
    salt = forms.ChoiceField(
        label=_("Salt intake"), required=False, choices=BLANK + list(rules.SALT_LABELS.items())
    )
    staple_food_g = forms.CharField(label=_("Staple food a day (g)"), required=False, max_length=5)
    psychology = forms.ChoiceField(
        label=_("Psychological adjustment"), required=False, choices=BLANK + Level3.choices
    )
    compliance = forms.ChoiceField(
        label=_("Follows medical advice"), required=False, choices=BLANK + Level3.choices
    )
    adherence = forms.ChoiceField(
        label=_("Medication adherence"), choices=BLANK + Adherence.choices, required=False
    )
    adverse_reaction = forms.ChoiceField(
        label=_("Adverse drug reaction"), choices=Severity.choices, initial=Severity.NONE
    )
    adverse_reaction_note = forms.CharField(
        label=_("Which reaction"), required=False, max_length=200
    )
    hypoglycemia = forms.ChoiceField(
        label=_("Hypoglycaemic reactions"), choices=BLANK + Hypoglycemia.choices, required=False
    )
    new_complication = forms.BooleanField(label=_("New or worsening complication"), required=False)
    complication_note = forms.CharField(
        label=_("Which complication"), required=False, max_length=200
    )
    risk_level = forms.ChoiceField(
        label=_("Risk level"),
        required=False,
        choices=BLANK + [(str(i), str(i)) for i in range(6)],
    )
    psychotic_symptoms = forms.ChoiceField(
        label=_("Psychotic symptoms"), choices=BLANK + Symptoms.choices, required=False
    )
    insight = forms.ChoiceField(label=_("Insight"), choices=BLANK + Insight.choices, required=False)
    social_function = forms.ChoiceField(
        label=_("Social function"), choices=BLANK + Level3.choices, required=False
    )
    physical_disease = forms.ChoiceField(
        label=_("Physical disease"), choices=BLANK + PhysicalDisease.choices, required=False
    )
    medications = forms.CharField(
        label=_("Medication (one per line: name | dose | frequency)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "氨氯地平片 | 5 mg | 每日1次"}),
    )
    advice = forms.CharField(
        label=_("Guidance given"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    long_prescription = forms.BooleanField(
        label=_("Issue a long prescription (stable patients)"), required=False
    )
    rx_weeks = forms.IntegerField(label=_("Weeks"), required=False, min_value=1, max_value=52)
    rx_items = forms.CharField(
        label=_("Medicines (one per line: name | dose | frequency | quantity; empty: as above)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    MEASURES = (
        "systolic_bp", "diastolic_bp", "heart_rate", "temperature", "height", "weight", "waist",
        "fasting_glucose", "random_glucose", "hba1c",
    )  # fmt: skip
    LIFESTYLE = tuple(rules.LIFESTYLE)

    def __init__(self, program: str, *args: Any, locked: dict | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.program = program
        self.fields["symptoms"].choices = _choices(rules.SYMPTOMS[program])
        self.fields["danger_signs"].choices = _choices(rules.DANGER_SIGNS[program])
        # Values measured at the Walking Hospital visit: shown, not typed again.
        self.locked = locked or {}
        for name, value in self.locked.items():
            if name in self.fields:
                self.fields[name].disabled = True
                self.fields[name].initial = value

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        measurements = {k: d.get(k) for k in self.MEASURES if d.get(k) and k not in self.locked}
        kwargs: dict[str, Any] = {
            "program": self.program,
            "followed_on": d.get("followed_on"),
            "method": d.get("method"),
            "visit": d.get("visit"),
            "measurements": measurements,
            "symptoms": d.get("symptoms") or [],
            "danger_signs": d.get("danger_signs") or [],
            "other_symptoms": d.get("other_symptoms", ""),
            "foot_pulse": d.get("foot_pulse", ""),
            "lifestyle": {k: d.get(k) for k in self.LIFESTYLE if d.get(k) not in (None, "")},
            "adherence": d.get("adherence", ""),
            "adverse_reaction": d.get("adverse_reaction") or Severity.NONE,
            "adverse_reaction_note": d.get("adverse_reaction_note", ""),
            "hypoglycemia": d.get("hypoglycemia", ""),
            "new_complication": bool(d.get("new_complication")),
            "complication_note": d.get("complication_note", ""),
            "medications": parse_lines(d.get("medications", ""), MED_KEYS),
            "advice": d.get("advice", ""),
            "note": d.get("note", ""),
        }
        if self.program == Program.SEVERE_MENTAL_DISORDER:
            for key in ("risk_level", "psychotic_symptoms", "insight", "social_function",
                        "physical_disease"):  # fmt: skip
                kwargs[key] = d.get(key)
        if d.get("long_prescription"):
            kwargs["long_prescription"] = {
                "weeks": d.get("rx_weeks"),
                "items": parse_lines(d.get("rx_items", ""), RX_KEYS),
            }
        return kwargs

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        data["program"] = self.program
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


class HealthCheckForm(IdempotentForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=CheckKind.choices)
    checked_on = forms.DateField(label=_("Date"), required=False, widget=DATE_INPUT)
    visit = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    systolic_bp = forms.CharField(label=_("Systolic BP"), required=False, max_length=10)
    diastolic_bp = forms.CharField(label=_("Diastolic BP"), required=False, max_length=10)
    heart_rate = forms.CharField(label=_("Heart rate"), required=False, max_length=10)
    height = forms.CharField(label=_("Height"), required=False, max_length=10)
    weight = forms.CharField(label=_("Weight"), required=False, max_length=10)
    waist = forms.CharField(label=_("Waist"), required=False, max_length=10)
    fasting_glucose = forms.CharField(label=_("Fasting glucose"), required=False, max_length=10)
    self_care_score = forms.CharField(
        label=_("Self-care assessment score (0–3 independent … ≥ 19 dependent)"),
        required=False,
        max_length=5,
    )
    items_done = forms.MultipleChoiceField(
        label=_("Examinations done"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(k, label) for k, (label, _codes) in rules.CHECK_ITEMS.items()],
    )  # fmt: skip
    reports = forms.TypedMultipleChoiceField(
        label=_("Signed reports of the check"), required=False, coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    abnormal = forms.BooleanField(label=_("Abnormal findings"), required=False)
    findings = forms.CharField(
        label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    advice = forms.CharField(
        label=_("Health guidance"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    MEASURES = ("systolic_bp", "diastolic_bp", "heart_rate", "height", "weight", "waist",
                "fasting_glucose")  # fmt: skip

    def __init__(self, reports, *args: Any, locked: dict | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["reports"].choices = [
            (r.pk, f"{r.order.service.name} · {r.signed_at:%Y-%m-%d}") for r in reports
        ]
        self.locked = locked or {}
        for name, value in self.locked.items():
            if name in self.fields:
                self.fields[name].disabled = True
                self.fields[name].initial = value

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "kind": d["kind"],
            "checked_on": d.get("checked_on"),
            "visit": d.get("visit"),
            "measurements": {
                k: d.get(k) for k in self.MEASURES if d.get(k) and k not in self.locked
            },
            "self_care_score": d.get("self_care_score"),
            "items_done": d.get("items_done") or [],
            "reports": d.get("reports") or [],
            "abnormal": bool(d.get("abnormal")),
            "findings": d.get("findings", ""),
            "advice": d.get("advice", ""),
        }

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


class ReferForm(forms.Form):
    department = forms.TypedChoiceField(label=_("County department"), coerce=int)
    urgency = forms.ChoiceField(label=_("Urgency"))
    diagnosis_code = forms.CharField(label=_("ICD-10 code"), max_length=20)
    diagnosis_name = forms.CharField(label=_("Diagnosis"), max_length=200, required=False)
    reason = forms.CharField(
        label=_("Reason for referral"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, departments, urgencies, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [
            (d.pk, f"{d.institution.name} · {d.name}") for d in departments
        ]
        self.fields["urgency"].choices = urgencies
