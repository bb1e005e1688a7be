"""The tune report as a picture: duration and cost against memory, as SVG, or HTML around the SVG.

Two lines on one chart: p50 duration (left axis, ms) and cost per million invocations on x86_64
(right axis, $), one point per memory size, the recommended size marked. Plain SVG written here
(no plotting library), so the file opens in any browser and pastes into slides.
"""

from __future__ import annotations

from html import escape

from lambench.core.tune import TuneReport

_WIDTH, _HEIGHT = 720, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 80, 40, 60
_DURATION = "#1f77b4"
_COST = "#d62728"


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    if high <= low:
        return (out_low + out_high) / 2
    return out_low + (value - low) / (high - low) * (out_high - out_low)


def tune_svg(report: TuneReport) -> str:
    """The chart as a standalone SVG document."""
    results = list(report.results)
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    count = max(1, len(results) - 1)
    xs = (
        [_LEFT + plot_w * index / count for index in range(len(results))]
        if len(results) > 1
        else [_LEFT + plot_w / 2]
    )
    durations = [r.p50_ms for r in results]
    costs = [r.cost_x86_per_million for r in results]
    d_high = max(durations, default=1.0) * 1.1 or 1.0
    c_low, c_high = min(costs, default=0.0), max(costs, default=1.0)
    pad = (c_high - c_low) * 0.1 or c_high * 0.05 or 1.0
    c_low, c_high = c_low - pad, c_high + pad
    bottom = _TOP + plot_h

    def y_duration(value: float) -> float:
        return _scale(value, 0.0, d_high, bottom, _TOP)

    def y_cost(value: float) -> float:
        return _scale(value, c_low, c_high, bottom, _TOP)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>',
        f'<text x="{_WIDTH / 2}" y="22" text-anchor="middle" font-size="15">'
        f"{escape(report.function)}: p50 duration and cost against memory ({escape(report.strategy)})</text>",
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{_WIDTH - _RIGHT}" y2="{bottom}" stroke="#444"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="{_DURATION}"/>',
        f'<line x1="{_WIDTH - _RIGHT}" y1="{_TOP}" x2="{_WIDTH - _RIGHT}" y2="{bottom}" stroke="{_COST}"/>',
        f'<text x="{_LEFT - 10}" y="{_TOP - 10}" text-anchor="end" fill="{_DURATION}">p50 ms</text>',
        f'<text x="{_WIDTH - _RIGHT + 10}" y="{_TOP - 10}" fill="{_COST}">$ per 1M (x86_64)</text>',
    ]
    for step in range(5):
        value = d_high * step / 4
        y = y_duration(value)
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{_DURATION}">{value:.0f}</text>'
        )
        cost = c_low + (c_high - c_low) * step / 4
        parts.append(
            f'<text x="{_WIDTH - _RIGHT + 6}" y="{y_cost(cost) + 4:.1f}" fill="{_COST}">{cost:.4f}</text>'
        )
    for x, result in zip(xs, results, strict=True):
        label = f"{result.memory_mb} MB"
        weight = ' font-weight="bold"' if result.memory_mb == report.recommended_mb else ""
        parts.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle"{weight}>{label}</text>')
    for values, to_y, colour in ((durations, y_duration, _DURATION), (costs, y_cost, _COST)):
        points = " ".join(f"{x:.1f},{to_y(v):.1f}" for x, v in zip(xs, values, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [
            f'<circle cx="{x:.1f}" cy="{to_y(v):.1f}" r="4" fill="{colour}"/>'
            for x, v in zip(xs, values, strict=True)
        ]
    if report.recommended_mb is not None:
        x = next(x for x, r in zip(xs, results, strict=True) if r.memory_mb == report.recommended_mb)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{bottom}" '
            'stroke="#2ca02c" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 36}" text-anchor="middle" fill="#2ca02c">recommended</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def tune_html(report: TuneReport) -> str:
    """A page with the chart and the table, for a browser or a report."""
    rows = "\n".join(
        f"<tr><td>{r.memory_mb} MB</td><td>{r.cpu_vcpus:.2f}</td>"
        f"<td>{'-' if r.cold_ms is None else f'{r.cold_ms:.1f} ms'}</td><td>{r.p50_ms:.1f} ms</td>"
        f"<td>{r.p95_ms:.1f} ms</td><td>{r.billed_ms:.0f} ms</td><td>{r.cost_x86_per_million:.4f}</td>"
        f"<td>{r.cost_arm_per_million:.4f}</td><td>{r.errors}</td></tr>"
        for r in report.results
    )
    recommended = "none" if report.recommended_mb is None else f"{report.recommended_mb} MB"
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>lambench tune {escape(report.function)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>\n"
        f"<h1>lambench tune {escape(report.function)}</h1>\n"
        f"<p>Strategy {escape(report.strategy)}: recommended <b>{recommended}</b>. "
        f"CPU by {escape(report.cpu_mechanism)}.</p>\n{tune_svg(report)}"
        "<table><tr><th>memory</th><th>vCPU</th><th>cold</th><th>p50</th><th>p95</th><th>billed</th>"
        f"<th>$/1M x86_64</th><th>$/1M arm64</th><th>errors</th></tr>\n{rows}\n</table>\n</body></html>\n"
    )
