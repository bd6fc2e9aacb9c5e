"""Reading a siting instance: the villages file (``id,name,lat,lon,population``) and an
optional distance/time matrix, with errors that name the row and the field (issue 8, OUT-01).

Pure Python and numpy: no database, so the command line, the web page and the benchmark
read the same way. Messages go through gettext (English on the command line, Chinese in the
web app)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from countycare.core.errors import DomainError

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
REQUIRED_COLUMNS = ("id", "name", "lat", "lon", "population")


class SitingInputError(DomainError):
    """A villages or matrix file that cannot be used; the message names the row and field."""

    default_code = "siting_input"


@dataclass(frozen=True)
class Village:
    id: str
    name: str
    lat: float
    lon: float
    population: int


def _text(source) -> str:
    if isinstance(source, bytes):
        source = source.decode("utf-8-sig")
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    data = source.read()
    return _text(data)


def parse_villages_csv(source) -> list[Village]:
    """Villages from CSV text/bytes/a file object. Every row's problems are collected and
    raised together, so the person fixing the file sees them all at once."""
    reader = csv.DictReader(io.StringIO(_text(source)))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise SitingInputError(
            _("villages file: header must be %(header)s; missing column(s): %(missing)s")
            % {"header": ",".join(REQUIRED_COLUMNS), "missing": ", ".join(missing)}
        )
    reader.fieldnames = header
    villages: list[Village] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        vid = (row.get("id") or "").strip()
        problems: list[str] = []
        if not vid:
            problems.append(_("id is empty"))
        elif vid in seen:
            problems.append(
                _("id %(id)s duplicates row %(row)s") % {"id": repr(vid), "row": seen[vid]}
            )
        lat = _number(row.get("lat"), "lat", problems, low=-90, high=90)
        lon = _number(row.get("lon"), "lon", problems, low=-180, high=180)
        population = _number(row.get("population"), "population", problems, low=0)
        if population is not None and population != int(population):
            problems.append(
                _("population %(value)s is not a whole number")
                % {"value": repr(row.get("population"))}
            )
        if problems:
            errors.append(_row(line, problems))
            continue
        seen[vid] = line
        villages.append(
            Village(vid, (row.get("name") or "").strip(), lat, lon, int(population))  # type: ignore[arg-type]
        )
    if errors:
        shown = errors[:20]
        more = _(" (and %(n)s more rows)") % {"n": len(errors) - 20} if len(errors) > 20 else ""
        raise SitingInputError(
            _("villages file: %(errors)s") % {"errors": " | ".join(shown) + more},
            extra={"rows": errors},
        )
    if not villages:
        raise SitingInputError(_("villages file has no village rows"))
    return villages


def _row(line: int, problems: list[str]) -> str:
    return _("row %(row)s: %(problems)s") % {"row": line, "problems": "; ".join(problems)}


def _number(raw, field: str, problems: list[str], *, low=None, high=None) -> float | None:
    text = (raw or "").strip()
    if not text:
        problems.append(_("%(field)s is missing") % {"field": field})
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(
            _("%(field)s %(value)s is not a number") % {"field": field, "value": repr(text)}
        )
        return None
    if not math.isfinite(value):
        problems.append(
            _("%(field)s %(value)s is not a finite number") % {"field": field, "value": repr(text)}
        )
        return None
    if low is not None and value < low:
        if low:
            problems.append(
                _("%(field)s %(value)s is below %(low)s")
                % {"field": field, "value": text, "low": low}
            )
        else:
            problems.append(_("%(field)s %(value)s is negative") % {"field": field, "value": text})
        return None
    if high is not None and value > high:
        problems.append(
            _("%(field)s %(value)s is above %(high)s")
            % {"field": field, "value": text, "high": high}
        )
        return None
    return value


def read_villages_csv(path: str) -> list[Village]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return parse_villages_csv(handle.read())
    except OSError as exc:
        raise SitingInputError(
            _("cannot read villages file %(path)s: %(error)s")
            % {"path": path, "error": exc.strerror}
        ) from exc
    except UnicodeDecodeError as exc:
        raise SitingInputError(
            _("villages file %(path)s is not UTF-8 text") % {"path": path}
        ) from exc


def haversine_matrix(villages: Sequence[Village]) -> np.ndarray:
    """Great-circle distances in km between every pair of villages (row: from, column: to)."""
    lat = np.radians(np.array([v.lat for v in villages], dtype=float))
    lon = np.radians(np.array([v.lon for v in villages], dtype=float))
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def parse_matrix_csv(source, villages: Sequence[Village]) -> np.ndarray:
    """A road distance or travel-time matrix. Two layouts are accepted:

    * long: header ``from,to,value`` (the third column may be named ``km``, ``minutes``,
      ``distance`` or ``time``), one row per ordered pair; a pair left out is unreachable;
    * square: header ``id,<village id>,<village id>,…`` and one row per village.

    A village's distance to itself is 0 unless given. Unreachable pairs are ``inf``."""
    text = _text(source)
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise SitingInputError(_("matrix file is empty"))
    index = {v.id: i for i, v in enumerate(villages)}
    n = len(villages)
    matrix = np.full((n, n), np.inf)
    np.fill_diagonal(matrix, 0.0)
    header = [h.strip() for h in rows[0]]
    errors: list[str] = []
    if len(header) == 3 and header[0].lower() == "from" and header[1].lower() == "to":
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != 3:
                errors.append(_row(line, [_("expected 3 fields, found %(n)s") % {"n": len(row)}]))
                continue
            a, b, raw = (c.strip() for c in row)
            problems: list[str] = []
            for field, vid in (("from", a), ("to", b)):
                if vid not in index:
                    problems.append(
                        _("%(field)s %(id)s is not a village id")
                        % {"field": field, "id": repr(vid)}
                    )
            value = _number(raw, header[2] or "value", problems, low=0)
            if problems:
                errors.append(_row(line, problems))
                continue
            matrix[index[a], index[b]] = value
    else:
        columns = header[1:]
        unknown = [c for c in columns if c not in index]
        if unknown:
            raise SitingInputError(
                _("matrix file: header column(s) not village ids: %(ids)s")
                % {"ids": ", ".join(unknown[:10])}
            )
        cols = [index[c] for c in columns]
        for line, row in enumerate(rows[1:], start=2):
            vid = row[0].strip() if row else ""
            if vid not in index:
                errors.append(_row(line, [_("id %(id)s is not a village id") % {"id": repr(vid)}]))
                continue
            if len(row) != len(header):
                errors.append(
                    _row(
                        line,
                        [
                            _("expected %(n)s fields, found %(found)s")
                            % {"n": len(header), "found": len(row)}
                        ],
                    )
                )
                continue
            for j, raw in zip(cols, row[1:], strict=True):
                if not raw.strip():
                    continue  # unreachable
                problems = []
                value = _number(raw, _("column %(id)s") % {"id": villages[j].id}, problems, low=0)
                if problems:
                    errors.append(_row(line, problems))
                else:
                    matrix[index[vid], j] = value
    if errors:
        raise SitingInputError(
            _("matrix file: %(errors)s") % {"errors": " | ".join(errors[:20])},
            extra={"rows": errors},
        )
    return matrix


def read_matrix_csv(path: str, villages: Sequence[Village]) -> np.ndarray:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return parse_matrix_csv(handle.read(), villages)
    except OSError as exc:
        raise SitingInputError(
            _("cannot read matrix file %(path)s: %(error)s") % {"path": path, "error": exc.strerror}
        ) from exc
    except UnicodeDecodeError as exc:
        raise SitingInputError(
            _("matrix file %(path)s is not UTF-8 text") % {"path": path}
        ) from exc


def resolve_ids(ids: Iterable[str], villages: Sequence[Village], what: str) -> list[int]:
    """Indexes of the given village ids; an unknown id is an error naming it."""
    index = {v.id: i for i, v in enumerate(villages)}
    out: list[int] = []
    unknown: list[str] = []
    for vid in ids:
        vid = vid.strip()
        if not vid:
            continue
        if vid in index:
            if index[vid] not in out:
                out.append(index[vid])
        else:
            unknown.append(vid)
    if unknown:
        raise SitingInputError(
            _("%(what)s: unknown village id(s): %(ids)s")
            % {"what": what, "ids": ", ".join(unknown)}
        )
    return out
