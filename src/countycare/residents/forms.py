"""Forms of the resident pages: they parse and type what the browser sent. The rules (ID
checks, the village in the user's area, duplicates) are the services' and come back as
domain errors, which :func:`add_domain_error` puts beside the field they name."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from countycare.core import national_id as nid
from countycare.core.errors import DomainError
from countycare.organizations.selectors import residence_choices
from countycare.residents.ethnicity import ETHNICITIES, HAN
from countycare.residents.models import DECLARED_KEY_POPULATIONS, KeyPopulation

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DECLARED_CHOICES = [(k.value, k.label) for k in DECLARED_KEY_POPULATIONS]


def new_token() -> str:
    return uuid.uuid4().hex


def village_choices(user) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in residence_choices(user).values_list("pk", "name")]


def add_domain_error(
    form: forms.Form, exc: DomainError, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's error beside the field it names (or above the form)."""
    field = (field_map or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, str(exc.message))


class ResidentSearchForm(forms.Form):
    """``?q=&village=&key_population=``. A value that does not parse (an unknown village or
    key population, a village outside the user's area) is dropped, not an error."""

    q = forms.CharField(
        label=_("Search"),
        max_length=100,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, pinyin initials, national ID or phone"),
                "autocomplete": "off",
                "autofocus": True,
            }
        ),
    )
    village = forms.TypedChoiceField(
        label=_("Village"), required=False, coerce=int, empty_value=None
    )
    key_population = forms.ChoiceField(
        label=_("Key population"),
        required=False,
        choices=[("", _("All residents")), *KeyPopulation.choices],
    )

    def __init__(self, user, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["village"].choices = [("", _("All villages")), *village_choices(user)]

    def filters(self) -> dict[str, Any]:
        """The parsed filters; fields that did not parse are left out."""
        if not self.is_bound:
            return {"q": "", "village": None, "key_population": ""}
        self.is_valid()
        data = self.cleaned_data
        return {
            "q": (data.get("q") or "").strip(),
            "village": data.get("village"),
            "key_population": data.get("key_population") or "",
        }


class IdempotentForm(forms.Form):
    """A form carrying a one-time token: a second submission of the same page (a double tap,
    a resend on a flaky network) is recognised and not saved twice (core.idempotency)."""

    token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", new_token())

    def renew_token(self) -> None:
        """Give the re-rendered form a fresh token (the old one is spent)."""
        data = self.data.copy()
        data["token"] = new_token()
        self.data = data

    def payload(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "token"}


class RegistrationForm(IdempotentForm):
    national_id = forms.CharField(
        label=_("National ID number"),
        max_length=40,
        error_messages={"required": _("Enter the national ID number.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
        help_text=_("18 characters; birth date and sex are read from it."),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=50,
        error_messages={"required": _("Enter the resident's name.")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    ethnicity = forms.CharField(label=_("Ethnicity"), initial=HAN, widget=forms.Select)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    home_village = forms.CharField(
        label=_("Home village"),
        error_messages={"required": _("Choose the village or community the resident lives in.")},
        widget=forms.Select,
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    tags = forms.MultipleChoiceField(
        label=_("Key populations (optional)"),
        choices=DECLARED_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Elderly 65+ and children 0–6 are derived from the birth date."),
    )
    tag_source = forms.CharField(
        label=_("Source"),
        max_length=100,
        required=False,
        help_text=_("Where the key populations come from, e.g. screening, health check."),
    )

    # Service field → form field
    FIELD_MAP = {"tag": "tags", "source": "tag_source", "sex": "national_id",
                 "birth_date": "national_id"}  # fmt: skip

    def __init__(self, user, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = village_choices(user)
        village = self.fields["home_village"]
        village.widget.choices = [("", _("Choose …")), *choices]
        if len(choices) == 1 and not self.is_bound:
            self.initial["home_village"] = choices[0][0]
        self.fields["ethnicity"].widget.choices = [(code, label) for code, label in ETHNICITIES]

    def clean_national_id(self) -> str:
        # Parsing the number (GB 11643) here shows its error together with the other fields'
        # instead of one round trip later; the service checks it again.
        try:
            return nid.parse(self.cleaned_data["national_id"]).number
        except nid.NationalIdError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from None

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        source = data["tag_source"]
        return {
            "national_id": data["national_id"],
            "name": data["name"],
            "ethnicity": data["ethnicity"],
            "phone": data["phone"],
            "home_village": data["home_village"],
            "address": data["address"],
            "tags": [{"tag": tag, "source": source} for tag in data["tags"]],
        }


class ResidentEditForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=50,
        error_messages={"required": _("Enter the resident's name.")},
    )
    ethnicity = forms.CharField(label=_("Ethnicity"), widget=forms.Select)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    home_village = forms.CharField(label=_("Home village"), widget=forms.Select)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    deceased_on = forms.DateField(label=_("Date of death"), required=False, widget=DATE_INPUT)

    def __init__(self, user, resident, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "name": resident.name,
                "ethnicity": resident.ethnicity,
                "phone": resident.phone,
                "home_village": str(resident.home_village_id),
                "address": resident.address,
                "deceased_on": resident.deceased_on,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["home_village"].widget.choices = village_choices(user)
        self.fields["ethnicity"].widget.choices = [(code, label) for code, label in ETHNICITIES]

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class TagAddForm(IdempotentForm):
    tag = forms.ChoiceField(
        label=_("Key population"), choices=[("", _("Choose …")), *DECLARED_CHOICES]
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=100,
        help_text=_("e.g. screening, health check, hospital diagnosis"),
        error_messages={
            "required": _(
                "Say where this comes from (e.g. screening, health check, hospital diagnosis)."
            )
        },
    )
    recorded_on = forms.DateField(label=_("Recorded on"), required=False, widget=DATE_INPUT)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def service_kwargs(self) -> dict[str, Any]:
        return self.payload()


class TagEndForm(forms.Form):
    reason = forms.CharField(label=_("Reason for ending"), max_length=200, required=False)
    ended_on = forms.DateField(label=_("Ended on"), required=False, widget=DATE_INPUT)
