"""The siting map: villages, chosen points and assignment lines projected into an SVG box
(an equirectangular projection scaled by cos(latitude); no map tiles, issue 8)."""

from __future__ import annotations

import math
from collections.abc import Sequence

WIDTH = 900
HEIGHT = 640
PAD = 24


def project(points: Sequence[tuple[float, float]]):
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    mid = math.radians((min(lats) + max(lats)) / 2)
    xs = [lon * math.cos(mid) for lon in lons]
    ys = [-lat for lat in lats]
    span_x = (max(xs) - min(xs)) or 1e-6
    span_y = (max(ys) - min(ys)) or 1e-6
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    ox = (WIDTH - span_x * scale) / 2
    oy = (HEIGHT - span_y * scale) / 2
    min_x, min_y = min(xs), min(ys)
    return [
        (round(ox + (x - min_x) * scale, 1), round(oy + (y - min_y) * scale, 1))
        for x, y in zip(xs, ys, strict=True)
    ], scale


def siting_map(
    villages: list[dict],
    result: dict,
    current: Sequence[str] = (),
    landmarks: Sequence[tuple[str, float, float]] = (),
) -> dict:
    """Shapes for the template: ``villages`` (circles sized by population), ``lines``
    (village → its point), ``chosen``, ``existing`` and ``current`` markers, and labelled
    ``landmarks`` (the township seats, so the office finds its way on the map)."""
    if not villages:
        return {
            "width": WIDTH,
            "height": HEIGHT,
            "villages": [],
            "lines": [],
            "chosen": [],
            "existing": [],
            "current": [],
            "landmarks": [],
        }
    points = [(v["lat"], v["lon"]) for v in villages]
    xy_all, scale = project(points + [(lat, lon) for _name, lat, lon in landmarks])
    xy = xy_all[: len(villages)]
    marks_at = [
        {"name": name, "x": x, "y": y}
        for (name, _lat, _lon), (x, y) in zip(landmarks, xy_all[len(villages) :], strict=True)
    ]
    index = {v["id"]: i for i, v in enumerate(villages)}
    biggest = max(v["population"] for v in villages) or 1
    chosen = set(result.get("chosen", []))
    shapes = []
    for v, (x, y) in zip(villages, xy, strict=True):
        shapes.append(
            {
                "id": v["id"],
                "name": v["name"],
                "population": v["population"],
                "x": x,
                "y": y,
                "r": round(2.5 + 9 * math.sqrt(v["population"] / biggest), 1),
                "chosen": v["id"] in chosen,
            }
        )
    lines = []
    for vid, point in (result.get("assignment") or {}).items():
        if vid == point or vid not in index or point not in index:
            continue
        a, b = xy[index[vid]], xy[index[point]]
        lines.append({"x1": a[0], "y1": a[1], "x2": b[0], "y2": b[1]})
    marks = [shapes[index[c]] for c in result.get("chosen", []) if c in index]
    existing = [shapes[index[c]] for c in result.get("existing", []) if c in index]
    for shape in existing:
        shape["existing"] = True
    now = [shapes[index[c]] for c in current if c in index]
    km = 10.0  # a scale bar of 10 km
    bar = km / 111.32 * scale
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "villages": shapes,
        "lines": lines,
        "chosen": marks,
        "existing": existing,
        "current": now,
        "landmarks": marks_at,
        "bar": round(bar, 1),
        "bar_km": int(km),
    }
