"""Lab forms (issue 5): typed-in device results and the dead-letter code-mapping fix."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.lab import devices
from countycare.residents.forms import IdempotentForm


class EntryForm(IdempotentForm):
    """One reading of a device: the glucose meter (kind + value) or the urine strip (a block
    per test). The checks are the service's (``services.enter_results``); the form only
    collects text and shows the service's errors beside the test they name."""

    observed_at = forms.DateTimeField(
        label=_("Measured at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave as is when measured just now."),
        error_messages={"invalid": _("Enter a date and time.")},
    )
    order = forms.TypedChoiceField(
        label=_("For the lab order"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, device: devices.Device, *args: Any, orders=(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device
        self.fields["order"].choices = [("", _("— none (a reading at the clinic) —"))] + [
            (o.pk, f"{o.accession_number} · {o.service.name}") for o in orders
        ]
        if not self.is_bound:
            self.initial.setdefault("observed_at", timezone.localtime().replace(second=0))
        if device.one_of:
            self.fields["kind"] = forms.ChoiceField(
                label=_("Measurement"),
                choices=[(t.code, t.label) for t in device.tests],
                widget=forms.RadioSelect,
                initial=device.tests[0].code,
            )
            first = device.tests[0]
            self.fields["value"] = forms.CharField(
                label=_("Value"),
                max_length=10,
                help_text=first.unit,
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "autofocus": True,
                        "class": "input-big",
                    }
                ),
                error_messages={"required": _("Enter the value the meter shows.")},
            )
        else:
            for test in device.tests:
                if test.is_ordinal:
                    choices = [(c, devices.GRADE_LABELS.get(c, c)) for c in test.choices]
                    widget = forms.RadioSelect(attrs={"class": "blocks"})
                else:
                    choices = [("", "—")] + [(s, s) for s in test.steps]
                    widget = forms.Select()
                self.fields[test.key] = forms.ChoiceField(
                    label=test.label, choices=choices, required=False, widget=widget
                )

    def values(self) -> dict[str, str]:
        """LOINC code → the text entered."""
        data = self.cleaned_data
        if self.device.one_of:
            return {data.get("kind") or "": data.get("value") or ""}
        return {t.code: data.get(t.key) or "" for t in self.device.tests if data.get(t.key)}

    def field_for(self, key: str | None) -> str | None:
        """The form field a service error names (a test's key, ``observed_at``, ``order``)."""
        if key is None:
            return None
        if self.device.one_of and key.startswith("t_"):
            return "value"
        return key if key in self.fields else None

    def payload(self) -> dict[str, Any]:
        data = super().payload()
        data["device"] = self.device.key
        return data

    @property
    def test_fields(self):
        return [self[t.key] for t in self.device.tests if t.key in self.fields]


class MappingForm(forms.Form):
    """Map the analyzer's code a dead letter lacked to LOINC, then replay."""

    local_code = forms.CharField(label=_("Analyzer code"), max_length=40)
    loinc = forms.CharField(
        label=_("LOINC code"),
        max_length=40,
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": "718-7", "autocomplete": "off", "list": "lab-loinc-codes"}
        ),
        help_text=_("For example 718-7 haemoglobin, 6690-2 white cells, 777-3 platelets."),
    )
    name = forms.CharField(label=_("Test name"), max_length=100, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    any_sender = forms.BooleanField(
        label=_("For every sender (not only this analyzer)"), required=False
    )
    ignore = forms.BooleanField(
        label=_("Not a result (an instrument setting or remark): receive it, store nothing"),
        required=False,
    )

    def clean(self):
        data = super().clean()
        if not data.get("ignore") and not (data.get("loinc") or "").strip():
            self.add_error("loinc", _("Enter the LOINC code, or mark the code as not a result."))
        return data
