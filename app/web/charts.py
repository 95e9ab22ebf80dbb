"""Charts as inline SVG, drawn on the server: no JavaScript and nothing fetched from a CDN. One line per
series over days, with its axis range, the first and last day, and a legend."""

from __future__ import annotations

import datetime as dt
from html import escape

COLOURS = {"meta": "#1877f2", "x": "#111111", "tiktok": "#ee1d52"}
FALLBACK = ("#2a9d8f", "#e76f51", "#6a4c93", "#f4a261")


def line_chart(
    series: dict[str, list[tuple[dt.date, float]]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    height: int = 220,
) -> str:
    """An SVG line chart; empty series give a chart that says there is nothing to draw."""
    pad_l, pad_r, pad_t, pad_b = 56, 12, 28, 36
    days = sorted({d for points in series.values() for d, _ in points})
    values = [v for points in series.values() for _, v in points]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">'
        f'<text x="{pad_l}" y="18" class="chart-title">{escape(title)}</text>'
    )
    if not days or not values:
        return head + f'<text x="{pad_l}" y="{height // 2}">no figures in this range</text></svg>'
    top = max(values) or 1.0
    span = max((days[-1] - days[0]).days, 1)

    def x(day: dt.date) -> float:
        return pad_l + (width - pad_l - pad_r) * (day - days[0]).days / span

    def y(value: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - value / top)

    parts = [head]
    parts.append(f'<line x1="{pad_l}" y1="{y(0):.1f}" x2="{width - pad_r}" y2="{y(0):.1f}" class="axis"/>')
    parts.append(f'<text x="4" y="{y(top) + 4:.1f}" class="tick">{top:,.0f}{escape(unit)}</text>')
    parts.append(f'<text x="4" y="{y(0) + 4:.1f}" class="tick">0</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 8}" class="tick">{days[0]}</text>')
    parts.append(
        f'<text x="{width - pad_r}" y="{height - 8}" class="tick" text-anchor="end">{days[-1]}</text>'
    )
    for k, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS.get(name, FALLBACK[k % len(FALLBACK)])
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in sorted(points))
        label = escape(name)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" data-series="{label}" '
            f'points="{path}"/>'
        )
        parts.append(
            f'<text x="{pad_l + 90 * k}" y="{height - 20}" fill="{colour}" class="legend">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
