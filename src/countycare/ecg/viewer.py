"""The ECG as a calibrated SVG (issue 10, "The viewer"): the same drawing in the browser and in
the PDF report.

Coordinates are **millimetres of paper** (the SVG's ``viewBox`` is in mm and its ``width`` /
``height`` say ``mm``), so printed at 100 % the trace is at true scale: ``speed`` mm/s
(25 or 50) horizontally and ``gain`` mm/mV (5, 10 or 20) vertically, on a millimetre grid
(thin lines every 1 mm, thick every 5 mm) with a 1 mV calibration pulse (200 ms wide) at the
start of each row.

Layouts:

- ``3x4`` — the standard paper: 3 rows × 4 columns of 2.5 s (I II III | aVR aVL aVF |
  V1 V2 V3 | V4 V5 V6) and a lead II rhythm strip of the whole 10 s under them. At 50 mm/s
  the columns hold 1.25 s each. Records without the 12 standard leads fall back to ``rows``.
- ``rows`` — every lead on its own row, the full width (10 s at 25 mm/s, 5 s at 50 mm/s).
- ``lead`` — one lead (``lead=``), the whole record, wrapped over rows of the paper width.

Every trace carries ``data-t0`` (s) so the browser's calipers can turn mm into ms and µV.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

PAPER_MM = 250.0  # trace width: 10 s at 25 mm/s
LABEL_MM = 12.0  # left margin: calibration pulse and lead name
ROW_MM = 37.5  # 3×4 rows (±1.9 mV at 10 mm/mV)
STRIP_ROWS = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
SPEEDS = (25.0, 50.0)
GAINS = (5.0, 10.0, 20.0)
GRID_MINOR = "#f6c4c4"
GRID_MAJOR = "#e58c8c"
TRACE = "#111"


@dataclass
class Row:
    label: str  # shown
    segments: list[tuple[str, float, float, float]]  # (lead, t0 s, t1 s, x0 mm from trace start)


def _decimate(x: np.ndarray, fs: float, max_hz: float = 500.0) -> tuple[np.ndarray, float]:
    """Min/max pairs to at most ``max_hz`` points per second, keeping every peak."""
    step = int(fs // max_hz)
    if step <= 1:
        return x, fs
    n = len(x) // step * step
    blocks = x[:n].reshape(-1, step)
    lo, hi = blocks.min(axis=1), blocks.max(axis=1)
    first_is_min = blocks.argmin(axis=1) < blocks.argmax(axis=1)
    pairs = np.where(first_is_min[:, None], np.stack([lo, hi], 1), np.stack([hi, lo], 1))
    return pairs.ravel(), fs / step * 2


def _polyline(y_uv: np.ndarray, fs: float, t0: float, t1: float, x0: float, y0: float,
              speed: float, gain: float) -> str:  # fmt: skip
    a, b = max(round(t0 * fs), 0), min(round(t1 * fs), len(y_uv))
    if b - a < 2:
        return ""
    seg, rate = _decimate(y_uv[a:b], fs)
    xs = x0 + np.arange(len(seg)) / rate * speed
    ys = y0 - seg / 1000.0 * gain
    ys = np.clip(ys, y0 - 3 * ROW_MM, y0 + 3 * ROW_MM)
    pts = " ".join(f"{x:.2f},{y:.2f}" for x, y in zip(xs, ys, strict=True))
    return pts


def _grid(width: float, height: float) -> str:
    minor = []
    major = []
    for i in range(int(width) + 1):
        (major if i % 5 == 0 else minor).append(f"M{i} 0V{height:g}")
    for j in range(int(height) + 1):
        (major if j % 5 == 0 else minor).append(f"M0 {j}H{width:g}")
    return (
        f'<path d="{"".join(minor)}" stroke="{GRID_MINOR}" stroke-width="0.1" fill="none"/>'
        f'<path d="{"".join(major)}" stroke="{GRID_MAJOR}" stroke-width="0.25" fill="none"/>'
    )


def _calibration(x: float, y0: float, speed: float, gain: float) -> str:
    w = 0.2 * speed  # 200 ms
    h = gain  # 1 mV
    return (
        f'<path class="ecg-cal" d="M{x:.2f} {y0:.2f}h{w / 4:.2f}v{-h:.2f}h{w:.2f}v{h:.2f}'
        f'h{w / 4:.2f}" stroke="{TRACE}" stroke-width="0.3" fill="none"/>'
    )


def layout_rows(wf, layout: str, speed: float, lead: str | None = None) -> list[Row]:
    seconds_per_row = PAPER_MM / speed
    duration = wf.duration
    if layout == "3x4" and all(n in wf.leads for row in STRIP_ROWS for n in row):
        col = seconds_per_row / 4
        rows = []
        for names in STRIP_ROWS:
            segs = [(n, c * col, (c + 1) * col, c * col * speed) for c, n in enumerate(names)]
            rows.append(Row(label="", segments=segs))
        rhythm = "II" if "II" in wf.leads else wf.leads[0]
        rows.append(Row(label=rhythm, segments=[(rhythm, 0.0, seconds_per_row, 0.0)]))
        return rows
    if layout == "lead":
        name = lead if lead in wf.leads else ("II" if "II" in wf.leads else wf.leads[0])
        rows = []
        t = 0.0
        while t < duration - 1e-6:
            rows.append(Row(label=name, segments=[(name, t, t + seconds_per_row, 0.0)]))
            t += seconds_per_row
        return rows or [Row(label=name, segments=[(name, 0.0, seconds_per_row, 0.0)])]
    return [Row(label=n, segments=[(n, 0.0, seconds_per_row, 0.0)]) for n in wf.leads]


def render_svg(wf, *, layout: str = "3x4", speed: float = 25.0, gain: float = 10.0,
               lead: str | None = None, beats: list[int] | None = None,
               title: str = "") -> str:  # fmt: skip
    """The record as an SVG string (no scripts: safe inline in a page and in the PDF)."""
    speed = speed if speed in SPEEDS else 25.0
    gain = gain if gain in GAINS else 10.0
    rows = layout_rows(wf, layout, speed, lead)
    row_h = ROW_MM * gain / 10.0 if layout != "3x4" else ROW_MM
    row_h = max(row_h, 20.0)
    width = LABEL_MM + PAPER_MM
    height = row_h * len(rows) + 6.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ecg-paper" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width:g}mm" height="{height:g}mm" '
        f'data-speed="{speed:g}" data-gain="{gain:g}" data-label-mm="{LABEL_MM:g}" '
        f'role="img" aria-label="{escape(title or "ECG")}">',
        f'<rect width="{width:g}" height="{height:g}" fill="#fff"/>',
        f'<g transform="translate({LABEL_MM:g} 0)">{_grid(PAPER_MM, height)}</g>',
    ]
    samples = {name: wf.samples[i] for i, name in enumerate(wf.leads)}
    for r, row in enumerate(rows):
        y0 = row_h * (r + 0.62)
        parts.append(_calibration(1.0, y0, speed, gain))
        for name, t0, t1, x0 in row.segments:
            x = LABEL_MM + x0
            y = samples[name]
            # The baseline of each piece: the median of the piece (robust to the QRS).
            a, b = max(int(t0 * wf.fs), 0), min(int(t1 * wf.fs), len(y))
            if b - a < 2:
                continue
            base = float(np.median(y[a:b]))
            pts = _polyline(y - base, wf.fs, t0, t1, x, y0, speed, gain)
            parts.append(
                f'<polyline class="ecg-trace" data-lead="{escape(name)}" data-t0="{t0:g}" '
                f'data-x0="{x:g}" data-y0="{y0:g}" points="{pts}" fill="none" '
                f'stroke="{TRACE}" stroke-width="0.3" stroke-linejoin="round"/>'
            )
            label = name
            parts.append(
                f'<text x="{x + 1:g}" y="{y0 - row_h * 0.38:.2f}" font-size="3" '
                f'font-family="sans-serif" fill="#111">{escape(label)}</text>'
            )
            if x0 > 0:  # column separator
                parts.append(
                    f'<path d="M{x:g} {y0 - 4:.2f}v8" stroke="{TRACE}" stroke-width="0.3"/>'
                )
        if beats and row.segments and len(row.segments) == 1:
            name, t0, t1, x0 = row.segments[0]
            marks = [b / wf.fs for b in beats if t0 <= b / wf.fs < t1]
            for t in marks:
                bx = LABEL_MM + x0 + (t - t0) * speed
                parts.append(
                    f'<path class="ecg-beat" d="M{bx:.2f} {row_h * (r + 1) - 1.5:.2f}l-1 1.5h2z" '
                    f'fill="#2563eb"/>'
                )
    info = f"{speed:g} mm/s · {gain:g} mm/mV · {wf.fs:g} Hz"
    parts.append(
        f'<text x="{width - 1:g}" y="{height - 1.5:g}" font-size="3" text-anchor="end" '
        f'font-family="sans-serif" fill="#444">{escape(info)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
