"""Forms of the outreach pages: they parse and check shapes; the rules live in services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from countycare.organizations.models import Institution, Staff
from countycare.outreach.models import DispatchKind, SitingObjective


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace("，", ",").replace("\n", ",").split(",") if c.strip()]


class SitingForm(forms.Form):
    k = forms.IntegerField(label=_("Number of points"), min_value=1, max_value=5000)
    objective = forms.ChoiceField(label=_("Objective"), choices=SitingObjective.choices)
    max_km = forms.FloatField(
        label=_("Distance limit (km)"),
        required=False,
        min_value=0.1,
        help_text=_(
            "Maximal covering: the covering distance. Least travel: optional, every village within it."
        ),
    )
    villages_file = forms.FileField(
        label=_("Villages file (CSV, optional)"),
        required=False,
        help_text=_(
            "Header id,name,lat,lon,population (decimal degrees). Empty: the villages of the "
            "institution tree."
        ),
    )
    matrix_file = forms.FileField(
        label=_("Road distance/time matrix (CSV, optional)"),
        required=False,
        help_text=_(
            "Rows from,to,km (or minutes), or a square table with the village ids as header. "
            "Empty: great-circle distances."
        ),
    )
    matrix_unit = forms.ChoiceField(
        label=_("Matrix unit"),
        choices=[("km", _("kilometres")), ("minutes", _("minutes"))],
        initial="km",
        required=False,
    )
    keep_current = forms.BooleanField(label=_("Keep the current points"), required=False)
    existing = forms.CharField(
        label=_("Existing clinics (codes)"),
        required=False,
        help_text=_(
            "Places that already serve their neighbours (e.g. a township health center with a "
            "resident attending physician): open, not counted in the number of points."
        ),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    required = forms.CharField(
        label=_("Must-have villages (codes)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    excluded = forms.CharField(
        label=_("Excluded villages (codes)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    time_limit = forms.FloatField(
        label=_("Time limit (seconds)"), min_value=1, max_value=600, initial=60
    )

    def clean_required(self):
        return _codes(self.cleaned_data.get("required") or "")

    def clean_excluded(self):
        return _codes(self.cleaned_data.get("excluded") or "")

    def clean_existing(self):
        return _codes(self.cleaned_data.get("existing") or "")

    def clean(self):
        data = super().clean()
        if data.get("objective") == SitingObjective.COVERAGE and not data.get("max_km"):
            self.add_error("max_km", _("Maximal covering needs a distance limit."))
        return data


class ScheduleForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("The end date is before the start date."))
        return data


class VisitRecordForm(forms.Form):
    arrived = forms.TimeField(label=_("Arrived"), widget=forms.TimeInput(attrs={"type": "time"}))
    left = forms.TimeField(label=_("Left"), widget=forms.TimeInput(attrs={"type": "time"}))
    attendees = forms.MultipleChoiceField(
        label=_("Who came"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    residents_served = forms.IntegerField(label=_("Residents served"), min_value=0, initial=0)
    services = forms.CharField(
        label=_("Services given"),
        required=False,
        help_text=_("One per line or separated by commas, e.g. 血压, 血糖, 心电图"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=300)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].choices = [
            (str(m.staff_id), f"{m.staff} · {m.get_function_display()}") for m in members
        ]

    def clean_services(self):
        return _codes(self.cleaned_data.get("services") or "")


class DispatchForm(forms.Form):
    staff = forms.ModelChoiceField(label=_("Staff member"), queryset=Staff.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=DispatchKind.choices)
    from_institution = forms.ModelChoiceField(
        label=_("Sent from"), queryset=Institution.objects.none()
    )
    to_institution = forms.ModelChoiceField(label=_("Sent to"), queryset=Institution.objects.none())
    start = forms.DateField(label=_("From date"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until date"), widget=forms.DateInput(attrs={"type": "date"}))
    days_per_week = forms.IntegerField(label=_("Days a week"), min_value=1, max_value=7, initial=5)
    min_hours_per_day = forms.FloatField(
        label=_("Hours a day, minimum"), min_value=0.5, max_value=24, initial=4
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args, institutions=None, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        if institutions is not None:
            self.fields["from_institution"].queryset = institutions
            self.fields["to_institution"].queryset = institutions
        if staff is not None:
            self.fields["staff"].queryset = staff


class EndDispatchForm(forms.Form):
    last_day = forms.DateField(
        label=_("Last day on site"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class CheckInForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    arrived = forms.TimeField(label=_("Arrived"), widget=forms.TimeInput(attrs={"type": "time"}))
    left = forms.TimeField(
        label=_("Left"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )


def aware(day: dt.date, time: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time))
