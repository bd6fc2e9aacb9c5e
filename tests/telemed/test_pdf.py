"""The printable report (issue 3, step 5): a real PDF rendered by WeasyPrint with the Noto CJK
fonts, carrying the lead hospital's header, the resident with the masked national ID, the
exam, the structured findings, the signer and the SHA-256 seal; an amendment says so.

The Chinese text is checked in the PDF itself: the text of each content stream is decoded
through the fonts' ToUnicode maps (what a PDF reader's copy-paste and search use), so a
missing font (boxes, "tofu") or unrendered text fails the test."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import pytest

from countycare.telemed import reports, services
from countycare.telemed.models import Report

pytestmark = pytest.mark.django_db


def cjk_font_installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return "Noto Sans CJK" in out or "Noto Sans SC" in out


needs_cjk_font = pytest.mark.skipif(
    not cjk_font_installed(),
    reason="no Chinese font installed (Debian: apt install fonts-noto-cjk); the PDF would "
    "show boxes instead of Chinese text",
)


def _streams(data: bytes) -> list[bytes]:
    found = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            found.append(zlib.decompress(raw))
        except zlib.error:
            found.append(raw)
    return found


def _cmaps(streams: list[bytes]) -> list[dict[str, str]]:
    """Each ToUnicode CMap as {glyph code (hex): text}."""
    maps = []
    for s in streams:
        if b"begincmap" not in s:
            continue
        mapping: dict[str, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", s, re.S):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                mapping[src.decode().upper()] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", s, re.S):
            for lo, hi, dst in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                width = len(lo)
                start = int(dst, 16)
                for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    mapping[f"{code:0{width}X}"] = chr(start + i)
        maps.append(mapping)
    return maps


def pdf_texts(data: bytes) -> list[str]:
    """The text of the PDF's content streams decoded with each embedded font's ToUnicode map
    (one candidate text per font; the text set in that font reads correctly in it)."""
    streams = _streams(data)
    contents = [s for s in streams if b"Tf" in s and (b"TJ" in s or b"Tj" in s)]
    texts = []
    for mapping in _cmaps(streams):
        width = len(next(iter(mapping), "0000"))
        for content in contents:
            chunks = re.findall(rb"<([0-9A-Fa-f]*)>", content)
            text = []
            for chunk in chunks:
                hexed = chunk.decode().upper()
                for i in range(0, len(hexed), width):
                    text.append(mapping.get(hexed[i : i + width], "\ufffd"))
            texts.append("".join(text))
    return texts


def assert_pdf_has(data: bytes, *needles: str) -> None:
    texts = pdf_texts(data)
    for needle in needles:
        assert any(needle in t for t in texts), f"{needle!r} is not in the PDF's text"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def signed(make_order, center_reader, residents):
    order = make_order(priority="urgent", clinical_question="胸闷两天")
    services.claim(center_reader, order.pk)
    services.save_report(
        center_reader, order.pk,
        findings={"rhythm": "窦性心律", "rate": "72"},
        findings_text="窦性心律，心率72次/分，各导联ST段未见明显偏移。",
        impression="正常心电图",
    )  # fmt: skip
    return services.sign_report(center_reader, order.pk)


def test_pdf_is_real_and_its_text_matches_the_signed_report(signed, residents, tree):
    data = reports.render_pdf(signed)
    assert data.startswith(b"%PDF-")
    objects = data + b"".join(_streams(data))  # object streams are compressed
    assert re.search(rb"/MediaBox\s*\[0 0 595\.\d+ 841\.\d+\]", objects)  # A4
    if cjk_font_installed():
        assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+Noto-?Sans-?CJK", objects), "no Noto CJK font"
        assert_pdf_has(
            data,
            tree.lead_hospital.name,
            "远程心电中心",
            residents["a1"].name,
            residents["a1"].national_id_masked,
            signed.order.accession_number,
            "常规12导联心电图",
            "甲一村卫生室",  # the requesting institution
            "节律",  # a label of the service's report template …
            "窦性心律",  # … and its value
            "正常心电图",
            signed.content_sha256,
        )
    # The full national ID never goes on paper.
    assert residents["a1"].national_id not in "".join(pdf_texts(data))


@needs_cjk_font
def test_title_in_chinese_and_in_english(signed, tree):
    assert_pdf_has(reports.render_pdf(signed), "远程诊断报告", "诊断意见")
    data = reports.render_pdf(signed, language="en")
    assert_pdf_has(data, "Remote diagnosis report", tree.lead_hospital.name)


@needs_cjk_font
def test_amendment_is_marked_with_its_reason(signed, make_order, center_reader, village_doctor):
    services.acknowledge(village_doctor, signed.order_id)
    v2 = services.amend_report(
        center_reader, signed.order_id, reason="漏报房性早搏", impression="偶发房性早搏"
    )
    data = reports.render_pdf(v2)
    assert_pdf_has(data, "漏报房性早搏", "偶发房性早搏", v2.content_sha256)
    assert "漏报房性早搏" not in "".join(pdf_texts(reports.render_pdf(signed)))


def test_pdf_response_renders_once_and_keeps_the_seal(signed):
    assert not signed.pdf
    response = reports.pdf_response(signed)
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")
    stored = Report.objects.get(pk=signed.pk)
    assert stored.pdf.name.endswith(f"{signed.order.accession_number}-v1.pdf")
    assert reports.verify(stored)  # storing the file did not touch the signed content
    again = reports.pdf_response(stored)
    assert b"".join(again.streaming_content) == body  # served from storage, not re-rendered


def test_a_draft_is_never_printed(make_order, center_reader):
    from countycare.core.errors import Conflict

    order = make_order()
    services.claim(center_reader, order.pk)
    draft = services.save_report(center_reader, order.pk, impression="草稿")
    with pytest.raises(Conflict):
        reports.pdf_response(draft)
