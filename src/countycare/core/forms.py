"""Forms of core's pages (parsing only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from countycare.core.models import AuditEntry

MAX_ID = 2**63 - 1
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AuditFilterForm(forms.Form):
    """Filters of the audit-log page. A value that does not parse is reported beside its
    field and left out of the search (the page still answers)."""

    user = forms.CharField(
        label=_("User"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Username")}),
    )
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All")), *AuditEntry.Action.choices]
    )
    object_type = forms.CharField(
        label=_("Object type"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "residents.resident", "list": "object-types"}),
    )
    resident = forms.IntegerField(label=_("Resident ID"), required=False, min_value=1,
                                  max_value=MAX_ID)  # fmt: skip
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date must not be before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
