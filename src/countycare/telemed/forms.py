"""Forms of the Walking Hospital pages. They only shape the input for ``telemed.services``
(which validate again and own the rules): the vitals form keeps every value as typed, so a
page that shows an error never loses what the doctor entered."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from countycare.telemed import vitals
from countycare.telemed.models import Priority, Service, VisitSetting

DECIMAL_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "class": "input-vital"}


class VisitForm(forms.Form):
    """A new Walking Hospital visit with what the kit measured (WH-02). The vitals are
    plain text fields: ``telemed.vitals`` parses and checks them and reports every error at
    once; the form shows each beside its field."""

    setting = forms.ChoiceField(
        label=_("Where"), choices=VisitSetting.choices, initial=VisitSetting.CLINIC
    )
    complaint = forms.CharField(
        label=_("Chief complaint"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. chest tightness for two days")}),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    VITAL_KEYS = [v.key for v in vitals.VITALS]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for vital in vitals.VITALS:
            attrs = dict(DECIMAL_ATTRS)
            if vital.key == "bmi":
                attrs["readonly"] = True
                attrs["tabindex"] = "-1"
            self.fields[vital.key] = forms.CharField(
                label=vital.name,
                max_length=12,
                required=False,
                widget=forms.TextInput(attrs=attrs),
                help_text=vital.unit,
            )

    def vitals_data(self) -> dict:
        data = {k: self.cleaned_data.get(k, "") for k in self.VITAL_KEYS}
        # BMI is computed by the service from height and weight (never trust the field).
        data.pop("bmi", None)
        return {k: v for k, v in data.items() if v not in ("", None)}

    def vital_fields(self, keys):
        return [self[k] for k in keys]

    def groups(self):
        """The vitals in the order the kit measures them, grouped for the tablet layout."""
        return [
            (_("Blood pressure and pulse"), self.vital_fields(["systolic_bp", "diastolic_bp", "pulse", "spo2"])),
            (_("Blood glucose and temperature"), self.vital_fields(["glucose_fasting", "glucose_random", "temperature"])),
            (_("Height and weight"), self.vital_fields(["height", "weight", "bmi"])),
        ]  # fmt: skip


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.name}（{obj.fee} 元）" if obj.fee else obj.name


def grouped_services():
    """The active catalog as (center name, [(service pk, label)]) for an optgroup select."""
    services = (
        Service.objects.filter(is_active=True, center__is_active=True)
        .select_related("center")
        .order_by("center__institution_id", "center__kind", "code")
    )
    groups: dict[str, list] = {}
    for s in services:
        groups.setdefault(str(s.center), []).append((s.pk, s.name))
    return list(groups.items())


class OrderForm(forms.Form):
    """An exam order from a visit: the service (grouped by center), the priority, the
    clinical question and the files of the exam itself (WH-03)."""

    service = forms.TypedChoiceField(label=_("Exam"), coerce=int)
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=Priority.choices,
        initial=Priority.ROUTINE,
        widget=forms.RadioSelect,
    )
    clinical_question = forms.CharField(
        label=_("Clinical question"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": _("What should the reader answer?")}
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].choices = [("", "——"), *grouped_services()]
        # Files come from request.FILES.getlist("files"): a plain multiple file input.


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class AlertAckForm(forms.Form):
    action_taken = forms.CharField(
        label=_("Action taken"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. rechecked, called 120, referred")}),
    )


class ReportForm(forms.Form):
    """The reader's report: one field per entry of the service's report template, the free
    findings text, the impression and the abnormal flag (telemed.services.save_report)."""

    findings_text = forms.CharField(
        label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    impression = forms.CharField(
        label=_("Impression"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_abnormal = forms.BooleanField(label=_("Abnormal result"), required=False)

    def __init__(self, *args, service: Service, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.template_keys: list[str] = []
        fields = {}
        for item in service.report_template or []:
            if not isinstance(item, dict) or not item.get("key"):
                continue
            key = f"f_{item['key']}"
            self.template_keys.append(item["key"])
            label = item.get("label") or item["key"]
            fields[key] = forms.CharField(
                label=label,
                max_length=2000,
                required=False,
                help_text=item.get("unit", ""),
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
            )
        # Template fields first, then the free text.
        self.fields = {**fields, **self.fields}

    @classmethod
    def initial_from(cls, report) -> dict:
        if report is None:
            return {}
        data = {f"f_{k}": v for k, v in (report.findings or {}).items()}
        data.update(
            findings_text=report.findings_text,
            impression=report.impression,
            is_abnormal=report.is_abnormal,
        )
        return data

    def template_fields(self):
        return [self[f"f_{k}"] for k in self.template_keys]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "findings": {k: data.get(f"f_{k}", "") for k in self.template_keys if data.get(f"f_{k}")},
            "findings_text": data.get("findings_text", ""),
            "impression": data.get("impression", ""),
            "is_abnormal": bool(data.get("is_abnormal")),
        }  # fmt: skip


class AmendForm(ReportForm):
    reason = forms.CharField(label=_("Reason for amendment"), max_length=500)
