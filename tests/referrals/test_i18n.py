"""The referral pages in Chinese first, English available (house style): every message of the
app's catalog is translated, none fuzzy, the compiled .mo matches the .po, and the pages
show no English in Chinese (and English when asked)."""

from __future__ import annotations

import gettext
import json
import re
from pathlib import Path

import pytest

import countycare.referrals

LOCALE = Path(countycare.referrals.__file__).parent / "locale"


def _entries(po: Path):
    """(msgctxt, msgid, msgstr, flags) of each entry; plural entries give msgstr[0]."""
    text = po.read_text(encoding="utf-8")
    for block in text.split("\n\n"):
        flags = " ".join(line for line in block.splitlines() if line.startswith("#,"))
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(
                r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[0\])?|msgstr\[\d+\]) (".*")$', line
            )
            if m:
                key = m.group(1)
                fields[key] = json.loads(m.group(2))  # a quoted .po string
            elif line.startswith('"') and key:
                fields[key] += json.loads(line)
        if fields.get("msgid"):
            yield (
                fields.get("msgctxt"),
                fields["msgid"],
                fields.get("msgstr", fields.get("msgstr[0]", "")),
                flags,
            )


def test_every_message_is_translated_and_compiled():
    po = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
    entries = list(_entries(po))
    assert len(entries) > 300
    assert [e[1] for e in entries if not e[2]] == []
    assert [e[1] for e in entries if "fuzzy" in e[3]] == []
    with open(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        msgid
        for ctx, msgid, msgstr, _flags in entries
        if (compiled.pgettext(ctx, msgid) if ctx else compiled.gettext(msgid)) != msgstr
    ]
    assert stale == [], "run compilemessages"


@pytest.mark.django_db
def test_pages_speak_chinese_and_english(web, catalog, departments, residents, session,
                                         village_doctor, specialist, hospital_admin):  # fmt: skip
    from countycare.referrals import services

    referral = services.refer_up(
        village_doctor, resident=residents["a1"].pk, department=departments["心血管内科"].pk,
        reason="胸闷", diagnosis_code="I20.000",
    )  # fmt: skip
    client = web(specialist)
    pages = ["/referrals/", f"/referrals/{referral.pk}/", "/referrals/list/",
             "/referrals/appointments/", "/referrals/appointments/slots/", "/referrals/catalogs/"]  # fmt: skip
    english = ("Referral board", "Hand-overs", "Accept with", "Referred by", "Waiting for",
               "Requested", "Upward", "Disease catalogs", "Specialist slots", "Appointments")  # fmt: skip
    for url in pages:
        html = client.get(url).content.decode()
        assert [w for w in english if w in html] == [], url
    html = web(hospital_admin).get("/referrals/appointments/sessions/").content.decode()
    assert "出诊排班" in html and "Publish" not in html and "Clinic sessions" not in html
    client.cookies["django_language"] = "en"
    html = client.get(f"/referrals/{referral.pk}/").content.decode()
    assert "Accept with this appointment" in html and "Requested" in html
