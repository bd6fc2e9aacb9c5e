"""Reading an uploaded table — CSV (UTF-8 or GB18030, as Chinese Excel saves it) or an Excel
workbook (its first sheet) — into rows of cells, and finding the named columns in its header
row. The apps that import files (statistics, encounters, catalogs) say in their own words
what went wrong: this module raises :class:`UnreadableTable` with a reason code and carries
no user-facing text."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any


class UnreadableTable(Exception):
    """``reason``: ``excel`` (a workbook that cannot be opened; ``detail`` says why) or
    ``not_text`` (neither text nor a workbook)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_excel(name: str, content: bytes) -> bool:
    return (name or "").lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK"


def read_table(name: str, content: bytes) -> list[list[Any]]:
    """Every row of the file, blank rows dropped; Excel cells keep their types (numbers,
    dates), empty cells are ``""``."""
    if is_excel(name, content):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
            raise UnreadableTable("excel", str(exc)) from None
        try:
            rows = [
                ["" if v is None else v for v in values]
                for values in book.worksheets[0].iter_rows(values_only=True)
            ]
        finally:
            book.close()
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise UnreadableTable("not_text")
        if "\x00" in text:
            raise UnreadableTable("not_text")
        rows = list(csv.reader(io.StringIO(text)))
    return [r for r in rows if any(str(c).strip() for c in r)]


def normalise_header(cell: Any) -> str:
    return re.sub(r"\s+", "", str(cell or "")).lower()


def header_index(header: Iterable[Any], columns: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """``{key: column index}`` for each key of ``columns`` (key → accepted header names,
    lower case, no spaces) found in the header row; the first matching column wins."""
    cells = [normalise_header(c) for c in header]
    found: dict[str, int] = {}
    for key, names in columns.items():
        accepted = {normalise_header(n) for n in names}
        for index, cell in enumerate(cells):
            if cell in accepted:
                found[key] = index
                break
    return found
